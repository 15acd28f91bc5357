"""The PostgreSQL servers: the primary and, with replication, its streaming replica."""

from __future__ import annotations

from collections.abc import Callable

from ..model import Environment
from .facts import BACKEND_NET, PORTS, Container, Healthcheck, Link, Mount, Replication
from .observability import secret_env
from .registry import postgres_env


def postgres_servers(env: Environment, image: Callable[[str], str],
                     repl: Replication | None, after_primary: str) -> list[Container]:
    """The primary, and the replica when there is one (it starts `after_primary`: the
    depends_on condition on the planned primary)."""
    pg = env.postgres
    out: list[Container] = []
    replication = (
        ("REPLICATION_USER", repl.user),
        secret_env("REPLICATION_PASSWORD_FILE", repl.password_secret),
        ("REPLICATION_SLOT", repl.slot),
    ) if repl else ()
    common_env = (
        ("POSTGRES_DB", pg.database),
        ("POSTGRES_USER", pg.user),
        secret_env("POSTGRES_PASSWORD_FILE", "postgres_password"),
        *replication,
        *postgres_env(env),
    )
    conf = (
        Mount("./postgres/postgresql.conf", "/etc/infra-gen/postgresql.conf"),
        Mount("./postgres/pg_hba.conf", "/etc/infra-gen/pg_hba.conf"),
    )
    check = Healthcheck(
        ("CMD", "pg_isready", "-h", "127.0.0.1", "-U", pg.user, "-d", pg.database),
        # A fenced old primary re-seeds itself (pg_basebackup) before it answers:
        # slow on a loaded host, and not a failure (failover/failover.sh).
        start_period="180s",
    )
    reg = env.ml_registry
    secrets = ("postgres_password", *((repl.password_secret,) if repl else ()),
               *((reg.password_secret,) if reg.enabled else ()))
    out.append(
        Container(
            name="postgres", kind="postgres",
            image=image("postgres"), user="postgres", port=PORTS["postgres"],
            resources=pg.resources, networks=(BACKEND_NET,),
            environment=(("POSTGRES_ROLE", "primary"),
                         *((("PEER_HOST", repl.replica),) if repl else ()),
                         *common_env), secrets=secrets,
            mounts=(*conf, Mount("./postgres/init.sql", "/etc/infra-gen/init.sql"),
                    Mount("pgdata", "/var/lib/postgresql/data", False, True)),
            healthcheck=check, stop_grace_period="60s",
            tmpfs=("/tmp",),
        )
    )
    if repl:
        out.append(
            Container(
                name=repl.replica, kind="postgres-replica",
                image=image("postgres"), user="postgres", port=PORTS["postgres"],
                resources=pg.resources, networks=(BACKEND_NET,),
                environment=(("POSTGRES_ROLE", "replica"), ("PRIMARY_HOST", repl.primary),
                             *common_env),
                links=(Link(repl.primary, "replication"),),
                secrets=secrets,
                mounts=(*conf, Mount("pgreplica", "/var/lib/postgresql/data", False, True)),
                depends_on=((repl.primary, after_primary),),
                healthcheck=check, stop_grace_period="60s",
                tmpfs=("/tmp",),
            )
        )
    return out
