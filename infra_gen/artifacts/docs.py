"""docs/: env.example (secret names), RUNBOOK.md (disaster recovery), ARCHITECTURE.md.

Every name in them (compose project, containers, scripts, directories, secrets)
comes from the topology (the backups' facts included), so the runbook's commands
are the ones that work against this environment's stack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..contract import ENV_EXAMPLE, FAILOVER_DIR
from ..escaping import Fragment, md_code, token
from ..model import duration_seconds
from ..topology import PORTS, SECRETS_MOUNT, Container, Topology
from ..topology.backups import backup_facts
from ..topology.certificates import certbot_facts
from ..topology.database import data_tier, failover_facts
from ..topology.swarm import placement
from .base import ArtifactKind, Output


def secret_users(topo: Topology) -> dict[str, list[str]]:
    """Secret name -> the containers it is mounted in."""
    return {s: [c.name for c in topo.containers if s in c.secrets] for s in topo.secrets}


@dataclass(frozen=True)
class Group:
    name: str
    kind: str
    replicas: int
    image: str
    port: int | None
    networks: tuple[str, ...]
    health: str
    """The container's own healthcheck command, to run with `exec`."""
    scalable: bool = False


def groups(topo: Topology) -> list[Group]:
    return [Group(c.name, c.kind, c.replicas, c.image, c.port, c.networks, health_command(c),
                  c.scalable) for c in topo.containers]


def health_command(c: Container) -> str:
    test = c.healthcheck.test
    return " ".join(test[1:]) if test and test[0] == "CMD" else " ".join(test)


# What rotating a secret needs before the containers using it are recreated.
SECRET_STEPS = {
    "postgres_password": "first set it on the role (psql prompts, nothing lands in shell "
    "history): `{compose} exec postgres psql -U {superuser} -c '\\password {owner}'`",
    "replication_password": "first set it on the role: "
    "`{compose} exec postgres psql -U {superuser} -c '\\password replicator'`",
    "redis_password": "Redis reads it at start: recreate redis and its clients together "
    "(a short cache and broker outage)",
    "secret_key": "signed sessions and tokens made with the old key stop validating",
    "smtp_password": "change it at the mail provider first",
    "grafana_admin_password": "Grafana applies the file only on a fresh database: also run "
    "`{compose} exec grafana grafana cli admin reset-admin-password <new>`",
}


def compose_command(topo: Topology) -> Fragment:
    """`docker compose` on this environment's project and file, as an operator pastes it."""
    b = backup_facts(topo)
    return Fragment(f"docker compose -p {token(topo.compose_project)} "
                    f"-f {token(b.host_dir)}/{token(b.compose_file)}")


DERIVED_SECRET_STEP = "written by `infra-gen up` (the error sink's DSN): nothing to rotate"
PROVIDED_DSN_STEP = ("create a new key for the Sentry project, write its DSN to the file, then "
                     "revoke the old key")


def secret_steps(topo: Topology) -> dict[str, Fragment]:
    b = backup_facts(topo)
    steps = {**SECRET_STEPS, **dict.fromkeys(topo.provided_secrets, PROVIDED_DSN_STEP),
             **{name: DERIVED_SECRET_STEP for name, _ in topo.derived_secrets}}
    return {
        s: Fragment(steps.get(s, "write the file").format(
            compose=compose_command(topo), superuser=token(b.db_superuser),
            owner=token(b.db_owner)))
        for s in topo.secrets
    }


def node_id(name: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    dotted: bool = False


def edges(topo: Topology) -> list[Edge]:
    names = {c.name for c in topo.containers}
    out: list[Edge] = []
    lb = [c for c in topo.containers if c.kind == "lb"]
    for pool in topo.upstreams:
        if pool.replicas:
            out += [Edge(c.name, pool.service, f"{pool.route} :{pool.port}") for c in lb]
    for c in topo.containers:
        out += [Edge(c.name, link.target, link.label, link.dotted) for link in c.links
                if link.target in names and link.target != c.name]
    prom = [c.name for c in topo.containers if c.kind == "prometheus"]
    for job in topo.scrape_jobs:
        out += [Edge(p, job.service, f"scrape :{job.port}", True) for p in prom
                if p != job.service]
    if prom and "alertmanager" in names:
        out.append(Edge(prom[0], "alertmanager", "alerts"))
    if prom and "grafana" in names:
        out.append(Edge("grafana", prom[0], "queries"))
    return list(dict.fromkeys(out))  # first occurrence of each edge, in order


def network_sets(topo: Topology) -> list[tuple[str, list[str]]]:
    """Subgraphs of the diagram: containers by the exact set of networks they join."""
    sets: dict[tuple[str, ...], list[str]] = {}
    for c in topo.containers:
        sets.setdefault(tuple(n for n in topo.networks if n in c.networks), []).append(c.name)
    return [(" + ".join(k), v) for k, v in sorted(sets.items())]


def cron_interval(schedule: str) -> Fragment:
    fields = schedule.split()
    if len(fields) == 5 and fields[2:] == ["*", "*", "*"]:
        if fields[1].isdigit() and fields[0].isdigit():
            return Fragment("24 hours")
        if fields[1] == "*" and fields[0].isdigit():
            return Fragment("1 hour")
    return Fragment(f"the interval of the cron schedule `{md_code(schedule)}`")


@dataclass(frozen=True)
class OneShot:
    """A run-once service (the migrations) and the services that wait for it."""

    name: str
    mounts: tuple[str, ...]
    """Where it reads the generated files it applies (the index file)."""
    dependents: tuple[str, ...]


def one_shot(topo: Topology) -> list[OneShot]:
    return [
        OneShot(c.name, tuple(m.target for m in c.mounts),
                tuple(d.name for d in topo.containers if (c.name, "service_completed_successfully")
                      in d.depends_on))
        for c in topo.containers if c.one_shot
    ]


def pinned_services(topo: Topology) -> list[tuple[str, str, str]]:
    """(service, node, volumes) of every swarm service that cannot move: its data is on
    that node's disk."""
    out = []
    for c in topo.containers:
        where = placement(topo.env, c)
        if where is not None and where.pinned_to:
            vols = ", ".join(m.source for m in c.mounts if m.named)
            out.append((c.name, where.pinned_to, vols))
    return out


def outputs(topo: Topology) -> list[Output]:
    b = backup_facts(topo)
    ctx = {
        "b": b,
        "db": data_tier(topo),
        "f": failover_facts(topo),
        "failover_dir": FAILOVER_DIR,
        "groups": groups(topo),
        "secret_users": secret_users(topo),
        "secrets_mount": SECRETS_MOUNT,
        "secret_steps": secret_steps(topo),
        "secrets_where": topo.secrets_dir if topo.secrets_dir.startswith("/")
        else f"{topo.secrets_dir} (relative to generated/{topo.name}/)",
        "certbot": certbot_facts(topo.env),
        "compose": compose_command(topo),
        "edges": edges(topo),
        "network_sets": network_sets(topo),
        "node_id": node_id,
        "rpo": cron_interval(b.schedule),
        "pg_port": PORTS["postgres"],
        "sink_api_port": PORTS["mail-sink-api"],
        "app_groups": [g for g in groups(topo) if g.kind in ("api", "worker")],
        "ml_groups": [g for g in groups(topo) if g.kind == "ml"],
        "one_shot": one_shot(topo),
        "lb_name": topo.of_kind("lb")[0].name,
        "grace_api": max((duration_seconds(c.stop_grace_period) for c in topo.containers
                          if c.scalable), default=10),
        "redis_clients": sorted({c.name for c in topo.containers if "redis_password" in c.secrets
                                 and c.kind not in ("redis", "redis-replica", "redis-sentinel")}),
        "ha": topo.redis_ha,
        "sentinel_port": PORTS["redis-sentinel"],
        "pinned": pinned_services(topo),
    }
    return [
        Output(ENV_EXAMPLE, "docs/env.example.j2", ctx),
        Output("RUNBOOK.md", "docs/RUNBOOK.md.j2", ctx),
        Output("ARCHITECTURE.md", "docs/ARCHITECTURE.md.j2", ctx),
    ]


ARTIFACT = ArtifactKind(
    "docs", "env.example (secret names), disaster-recovery runbook, architecture diagram",
    outputs,
)
