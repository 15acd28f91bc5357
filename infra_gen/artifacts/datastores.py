"""datastores artifact: PostgreSQL and Redis configuration for their images.

postgres/postgresql.conf, pg_hba.conf and init.sql are mounted read-only under
/etc/infra-gen/ by the postgres containers (docs/contract.md); indexes.sql is
applied by the one-shot migrate service after the app's migrations. redis/<server>.conf is
included by the redis image's entry point, which adds `requirepass` (and
`masterauth`) from the secret file; redis/sentinel.conf is copied by it to a
writable place, with the password added there: no password is ever written here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InfraGenError
from ..escaping import sql_ident
from ..topology import DOCKER_NETWORK_RANGES, PORTS, Topology
from .base import ArtifactKind, Output

POSTGRES_MAJOR = 15
"""The major version services/postgres/Dockerfile installs (PG_MAJOR): Debian 12's only
one. The model has no version field: nothing could make it select another."""
MAX_WAL_SENDERS = 10
"""WAL sender processes: the replica, pg_basebackup (two with -X stream), headroom."""
MAX_REPLICATION_SLOTS = 10
"""Replication slots the primary may hold (the replica uses one)."""
MAX_SLOT_WAL_KEEP_SIZE = "4GB"
"""WAL a slot may retain for a lost replica before the slot is given up (disk safety)."""
LOG_MIN_DURATION_STATEMENT = "1s"
"""Statements slower than this are logged."""
REDIS_DATA_DIR = "/var/lib/redis"
"""Mount target of the redis data volume (topology: redisdata)."""
REDIS_DISABLED_COMMANDS = ("CONFIG", "DEBUG", "FLUSHALL", "FLUSHDB")
"""Commands renamed to "" (disabled). CONFIG SET dir/dbfilename is the classic way
from a Redis login to writing files. redis_exporter (1.45, Debian) does not need
CONFIG: without it redis_up, redis_memory_max_bytes and every INFO metric stay;
only redis_config_maxmemory/maxclients disappear (checked against a live server).
SHUTDOWN stays for a clean stop by hand."""

_INDEX_COLUMN = re.compile(r"([a-z_][a-z0-9_]*) (ASC|DESC)")

sql_identifier = sql_ident
"""A PostgreSQL identifier, quoted where needed (the template quotes with sql_ident)."""


@dataclass(frozen=True)
class IndexColumn:
    name: str
    """Column name, unquoted (the template quotes it)."""
    order: str | None
    """ASC or DESC when the model's column said so."""


@dataclass(frozen=True)
class Index:
    name: str
    table: str
    columns: tuple[IndexColumn, ...]


def _index_column(column: str) -> IndexColumn:
    """`name ASC` / `name DESC` is a column and its order; anything else is one name."""
    match = _INDEX_COLUMN.fullmatch(column)
    if match is None:
        return IndexColumn(column, None)
    return IndexColumn(match.group(1), match.group(2))


def memory_setting(size: str, units: tuple[tuple[str, int], ...]) -> str:
    """A model MemorySize (256M, 1.5G) in the largest unit that keeps it an integer.

    units: (suffix, size in KiB), largest first; the last one must be 1 KiB.
    """
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([KMG])", size)
    if match is None:
        raise InfraGenError(f"not a memory size: {size!r}")
    kib = float(match.group(1)) * {"K": 1, "M": 1024, "G": 1024 * 1024}[match.group(2)]
    if kib != int(kib):
        raise InfraGenError(f"memory size {size!r} is not a whole number of KiB")
    for suffix, factor in units:
        if int(kib) % factor == 0:
            return f"{int(kib) // factor}{suffix}"
    raise InfraGenError(f"no unit for {size!r}")


def postgres_memory(size: str) -> str:
    """256M -> 256MB, 1.5G -> 1536MB (PostgreSQL units)."""
    return memory_setting(size, (("GB", 1024 * 1024), ("MB", 1024), ("kB", 1)))


def redis_memory(size: str) -> str:
    """256M -> 256mb, 1G -> 1gb (Redis units; 1mb = 1024*1024 bytes)."""
    return memory_setting(size, (("gb", 1024 * 1024), ("mb", 1024), ("kb", 1)))


def postgres_context(topo: Topology) -> dict[str, object]:
    pg = topo.env.postgres
    repl = topo.replication
    return {
        "port": PORTS["postgres"],
        "pg_major": POSTGRES_MAJOR,
        "max_connections": pg.max_connections,
        "shared_buffers": postgres_memory(pg.shared_buffers),
        "max_wal_senders": MAX_WAL_SENDERS,
        "max_replication_slots": MAX_REPLICATION_SLOTS,
        "max_slot_wal_keep_size": MAX_SLOT_WAL_KEEP_SIZE,
        "log_min_duration_statement": LOG_MIN_DURATION_STATEMENT,
        "autovacuum": pg.autovacuum,
        # Raw names: each template quotes them for its context (SQL, pg_hba, comment).
        "database": pg.database,
        "user": pg.user,
        "replication_user": repl.user if repl else None,
        "replication_slot": repl.slot if repl else None,
        # The model registry's own database and role (the postgres image makes them).
        "registry": topo.env.ml_registry if topo.env.ml_registry.enabled else None,
        "networks": DOCKER_NETWORK_RANGES,
        "indexes": [
            Index(i.name, i.table, tuple(_index_column(c) for c in i.columns))
            for i in pg.indexes
        ],
    }


REDIS_SENTINEL_NEEDS = ("CONFIG",)
"""Commands a Sentinel sends the servers it fails over: it reconfigures a replica in a
MULTI of REPLICAOF and CONFIG REWRITE, and without CONFIG the whole transaction is
refused (checked: the failover never completes). With Sentinels CONFIG stays; Redis 7
keeps dir, dbfilename and the other protected settings out of CONFIG SET
(enable-protected-configs no, the default), which closes the file-writing path."""


def redis_context(topo: Topology, name: str = "redis") -> dict[str, object]:
    """The context of one Redis server's configuration (its container's name)."""
    redis, ha = topo.env.redis, topo.redis_ha
    disabled = REDIS_DISABLED_COMMANDS if ha is None else tuple(
        c for c in REDIS_DISABLED_COMMANDS if c not in REDIS_SENTINEL_NEEDS)
    replica_of = None if ha is None or name == ha.primary else ha.primary
    return {
        "port": PORTS["redis"],
        "maxmemory": redis_memory(redis.maxmemory),
        "maxmemory_policy": redis.maxmemory_policy,
        "dir": REDIS_DATA_DIR,
        "disabled_commands": disabled,
        "name": name,
        # The planned role; the entry point overrides it with what the Sentinels say.
        "replica_of": replica_of,
        "planned_role": f"replica of {replica_of}" if replica_of else "primary",
        "sentinel": ha is not None,
    }


def sentinel_context(topo: Topology) -> dict[str, object]:
    ha = topo.redis_ha
    assert ha is not None
    return {
        "port": PORTS["redis-sentinel"],
        "master_name": ha.master_name,
        "primary": ha.primary,
        "redis_port": PORTS["redis"],
        "quorum": ha.quorum,
        "sentinels": len(ha.sentinels),
        "down_after_ms": ha.down_after_ms,
        "failover_timeout_ms": ha.failover_timeout_ms,
    }


def outputs(topo: Topology) -> list[Output]:
    pg = postgres_context(topo)
    out = [
        Output("postgres/postgresql.conf", "postgres/postgresql.conf.j2", pg),
        Output("postgres/pg_hba.conf", "postgres/pg_hba.conf.j2", pg),
        Output("postgres/init.sql", "postgres/init.sql.j2", pg),
        Output("postgres/indexes.sql", "postgres/indexes.sql.j2", pg),
    ]
    ha = topo.redis_ha
    for name in ha.nodes if ha else ("redis",):
        out.append(Output(f"redis/{name}.conf", "redis/redis.conf.j2", redis_context(topo, name)))
    if ha:
        out.append(Output("redis/sentinel.conf", "redis/sentinel.conf.j2", sentinel_context(topo)))
    return out


ARTIFACT = ArtifactKind(
    "datastores",
    "PostgreSQL (postgresql.conf, pg_hba.conf, init.sql, indexes.sql), redis.conf of each "
    "Redis server and, with Sentinels, sentinel.conf",
    outputs,
)
