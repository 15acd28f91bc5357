"""backup/: PostgreSQL dumps, ML model archives, a restore script and their crontab.

The scripts run on the host that runs the stack. Every name they use (compose
project, services, database, directories, retention) is computed here from the
topology; the templates only format it. Each default can be overridden by an
environment variable of the same name (BACKUP_DIR, LOG_DIR, COMPOSE_FILE, ...), so
a test can point the scripts at a temporary directory and at the running dev stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..topology import Topology
from ..topology.backups import backup_facts, host_dir
from .base import ArtifactKind, Output

SCRIPTS = ("backup_db.sh", "backup_models.sh", "restore_db.sh")
HELPER_IMAGE = "debian:bookworm-slim"
"""Runs tar over a flagged volume: every image here is built from it."""


@dataclass(frozen=True)
class VolumeBackups:
    volumes: tuple[str, ...]
    """Docker names (<compose project>_<volume>) of the volumes flagged backup: true."""
    helper_image: str
    script: str
    """Where cron finds backup_volumes.sh on the stack's host."""


def volume_backups(topo: Topology) -> VolumeBackups:
    flagged = sorted({v.name for svc in topo.env.services.values() for v in svc.volumes
                      if v.backup})
    return VolumeBackups(tuple(f"{topo.compose_project}_{v}" for v in flagged), HELPER_IMAGE,
                         f"{host_dir(topo)}/backup/backup_volumes.sh")


def outputs(topo: Topology) -> list[Output]:
    b, v = backup_facts(topo), volume_backups(topo)
    ctx = {"b": b, "v": v}
    files = [
        Output(f"backup/{name}", f"backup/{name}.j2", ctx, executable=True)
        for name in SCRIPTS
        if name != "backup_models.sh" or b.ml_service is not None
    ]
    if v.volumes:
        files.append(Output("backup/backup_volumes.sh", "backup/backup_volumes.sh.j2", ctx,
                            executable=True))
    files.append(Output("backup/crontab", "backup/crontab.j2", ctx))
    return files


ARTIFACT = ArtifactKind(
    "backups",
    "PostgreSQL dump/restore and ML model archive scripts with retention, and their crontab",
    outputs,
)
