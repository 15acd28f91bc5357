"""Where the backup scripts run and what they act on: read by the backups, docs and
logrotate artifacts (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

from ..contract import COMPOSE
from .facts import SECRETS_MOUNT, Topology

COMPOSE_FILE = COMPOSE
"""The compose artifact's output, relative to generated/<env>/."""


def host_dir(topo: Topology) -> str:
    """Where generated/<env>/ is installed on the stack's host (cron needs a path)."""
    return f"/opt/{topo.env.project}/{topo.name}"


@dataclass(frozen=True)
class BackupFacts:
    directory: str
    db_dir: str
    models_dir: str
    log_dir: str
    """Host directory of the scripts' own logs (rotated by the logrotate artifact)."""
    host_dir: str
    compose_project: str
    compose_file: str
    db_service: str
    """The planned primary."""
    db_nodes: tuple[str, ...]
    """Every service that may be the primary (a failover swaps them), the planned one
    first: the scripts dump from and restore into whichever answers as primary."""
    db_superuser: str
    """Role the scripts use inside the db container: the container's OS user,
    which PostgreSQL's local peer authentication maps to the superuser."""
    database: str
    db_owner: str
    db_prefix: str
    ml_service: str | None
    model_dir: str
    model_prefix: str
    retention_days: int
    keep: int
    registry_versions: int
    """Newest registered versions each model archive holds (ml_registry); 0: no
    registry, the archive is the ML service's model directory."""
    schedule: str
    password_secret: str

    @property
    def db_script(self) -> str:
        """The dump script where cron runs it."""
        return f"{self.host_dir}/backup/backup_db.sh"

    @property
    def models_script(self) -> str:
        return f"{self.host_dir}/backup/backup_models.sh"


def backup_facts(topo: Topology) -> BackupFacts:
    env = topo.env
    pg = env.postgres
    db = topo.container("postgres")
    ml = topo.of_kind("ml")
    return BackupFacts(
        directory=env.backups.directory,
        db_dir=f"{env.backups.directory}/db",
        models_dir=f"{env.backups.directory}/models",
        log_dir=f"{env.logging.logrotate.log_dir}/backup",
        host_dir=host_dir(topo),
        compose_project=topo.compose_project,
        compose_file=COMPOSE_FILE,
        db_service=db.name,
        db_nodes=(db.name, topo.replication.replica) if topo.replication else (db.name,),
        db_superuser=db.user,
        database=pg.database,
        db_owner=pg.user,
        db_prefix=f"{env.project}_{pg.database}",
        ml_service=ml[0].name if ml else None,
        model_dir=topo.model_dir,
        model_prefix=f"{env.project}_model",
        retention_days=env.backups.database.retention_days,
        keep=env.backups.models.keep,
        registry_versions=env.ml_registry.backup_versions if env.ml_registry.enabled else 0,
        schedule=env.backups.database.schedule,
        password_secret=f"{SECRETS_MOUNT}/postgres_password",
    )
