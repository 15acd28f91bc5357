"""What the database procedures act on: the runbook's names (DataTier) and the
failover scripts' facts (FailoverFacts). Pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from ..contract import PG_FENCE_FILE
from .backups import backup_facts
from .facts import Topology

PG_DATA_DIR = "/var/lib/postgresql/data"
"""Where the postgres image keeps its data directory (the volume's mount point)."""


def volume_of(topo: Topology, container: str) -> str:
    """The container's named volume as the compose file names it (no project prefix)."""
    return next(m.source for m in topo.container(container).mounts if m.named)


@dataclass(frozen=True)
class DataTier:
    """Names the database and cache procedures act on, as the topology has them."""

    primary: str
    primary_volume: str
    replica: str | None
    replica_volume: str | None
    slot: str | None
    redis: str
    redis_volume: str
    exporters: tuple[str, ...]


def data_tier(topo: Topology) -> DataTier:
    primary = topo.of_kind("postgres")[0].name
    repl = topo.replication
    replica = repl.replica if repl else None
    redis = topo.of_kind("redis")[0].name

    def docker_name(container: str) -> str:
        return f"{topo.compose_project}_{volume_of(topo, container)}"

    return DataTier(
        primary=primary, primary_volume=docker_name(primary),
        replica=replica, replica_volume=docker_name(replica) if replica else None,
        slot=repl.slot if repl else None, redis=redis, redis_volume=docker_name(redis),
        exporters=tuple(c.name for c in topo.of_kind("postgres-exporter")),
    )


@dataclass(frozen=True)
class DbNode:
    service: str
    """The compose service (one container)."""
    volume: str
    """Its data volume, as the compose file names it (Docker prefixes the project)."""


@dataclass(frozen=True)
class FailoverFacts:
    """What failover.sh, reseed-replica.sh and failback.sh act on.

    Either node may be the primary at a given time: the scripts ask the servers
    (`pg_is_in_recovery()`), they never assume. The app reaches whichever accepts
    writes through DATABASE_HOST, which lists both nodes (libpq tries them in turn
    and keeps the one that is read-write), so a failover repoints the clients with
    no re-render and no restart."""

    nodes: tuple[DbNode, DbNode]
    """The planned primary first, then the planned replica."""
    image: str
    """The postgres image: the fence is written into a stopped node's volume with it."""
    slot: str
    """The physical replication slot a standby streams from, on whichever is primary."""
    superuser: str
    """Local peer superuser inside the database containers."""
    data_dir: str
    fence_file: str
    """Path of the fence marker in a node's container (inside its data volume)."""
    compose_project: str
    compose_file: str
    host_dir: str
    backup_script: str
    """The dump script, run after a failover (it follows the primary by itself)."""


def failover_facts(topo: Topology) -> FailoverFacts | None:
    """None where the environment has no replica: nothing to fail over to."""
    repl = topo.replication
    if repl is None:
        return None
    b = backup_facts(topo)
    primary = topo.container(repl.primary)
    return FailoverFacts(
        nodes=(DbNode(repl.primary, volume_of(topo, repl.primary)),
               DbNode(repl.replica, volume_of(topo, repl.replica))),
        image=primary.image,
        slot=repl.slot,
        superuser=primary.user,
        data_dir=PG_DATA_DIR,
        fence_file=f"{PG_DATA_DIR}/{PG_FENCE_FILE}",
        compose_project=topo.compose_project,
        compose_file=b.compose_file,
        host_dir=b.host_dir,
        backup_script=b.db_script,
    )
