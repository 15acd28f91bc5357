"""backup/: PostgreSQL dumps, ML model archives, a restore script and their crontab.

The scripts run on the host that runs the stack. Every name they use (compose
project, services, database, directories, retention) is computed here from the
topology; the templates only format it. Each default can be overridden by an
environment variable of the same name (BACKUP_DIR, LOG_DIR, COMPOSE_FILE, ...), so
a test can point the scripts at a temporary directory and at the running dev stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..contract import COMPOSE
from ..model import Role
from ..topology import SECRETS_MOUNT, Topology
from .base import ArtifactKind, Output

# The app's DEFAULT_MODEL_DIR (services/app/churn/config.py); a MODEL_DIR in the
# ml container's environment overrides it, as it does in the app.
APP_MODEL_DIR = "/opt/churn/model"
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
    schedule: str
    password_secret: str

    @property
    def db_script(self) -> str:
        """The dump script where cron runs it."""
        return f"{self.host_dir}/backup/backup_db.sh"

    @property
    def models_script(self) -> str:
        return f"{self.host_dir}/backup/backup_models.sh"


def facts(topo: Topology) -> BackupFacts:
    env = topo.env
    pg = env.postgres
    db = topo.container("postgres")
    ml = [c for c in topo.containers if c.kind == Role.ml.value]
    model_dir = APP_MODEL_DIR
    if ml:
        model_dir = dict(ml[0].environment).get("MODEL_DIR", APP_MODEL_DIR)
    return BackupFacts(
        directory=env.backups.directory,
        db_dir=f"{env.backups.directory}/db",
        models_dir=f"{env.backups.directory}/models",
        log_dir=f"{env.logging.logrotate.log_dir}/backup",
        host_dir=host_dir(topo),
        compose_project=topo.compose_project,
        compose_file=COMPOSE_FILE,
        db_service=db.name,
        db_superuser=db.user,
        database=pg.database,
        db_owner=pg.user,
        db_prefix=f"{env.project}_{pg.database}",
        ml_service=ml[0].name if ml else None,
        model_dir=model_dir,
        model_prefix=f"{env.project}_model",
        retention_days=env.backups.database.retention_days,
        keep=env.backups.models.keep,
        schedule=env.backups.database.schedule,
        password_secret=f"{SECRETS_MOUNT}/postgres_password",
    )


SCRIPTS = ("backup_db.sh", "backup_models.sh", "restore_db.sh")


def outputs(topo: Topology) -> list[Output]:
    ctx = {"b": facts(topo)}
    files = [
        Output(f"backup/{name}", f"backup/{name}.j2", ctx, executable=True)
        for name in SCRIPTS
        if name != "backup_models.sh" or ctx["b"].ml_service is not None
    ]
    files.append(Output("backup/crontab", "backup/crontab.j2", ctx))
    return files


ARTIFACT = ArtifactKind(
    "backups",
    "PostgreSQL dump/restore and ML model archive scripts with retention, and their crontab",
    outputs,
)
