"""logrotate/<project>: rotation of the host's log files (logging.logrotate).

Covers the services' logs collected in logging.logrotate.log_dir and the backup
scripts' own logs (a subdirectory of it, see the backups artifact). Containers'
stdout/stderr is rotated by Docker itself (compose `logging:` options).
"""

from __future__ import annotations

from ..topology import Topology
from ..topology.backups import backup_facts
from .base import ArtifactKind, Output

# Always on: a missing or empty log is not an error and is not rotated.
FIXED_DIRECTIVES = ("missingok", "notifempty")


def log_globs(topo: Topology) -> list[str]:
    """Log file patterns rotated; each file matches exactly one (logrotate rejects duplicates)."""
    return [
        f"{topo.env.logging.logrotate.log_dir}/*.log",
        f"{backup_facts(topo).log_dir}/*.log",
    ]


def directives(topo: Topology) -> list[tuple[str, ...]]:
    """Each directive as its words (the template checks every word is a token)."""
    lr = topo.env.logging.logrotate
    out: list[tuple[str, ...]] = [(lr.frequency,), ("rotate", str(lr.rotate))]
    out += [(d,) for d in FIXED_DIRECTIVES]
    if lr.compress:
        out.append(("compress",))
        if lr.delaycompress:
            out.append(("delaycompress",))
    if lr.copytruncate:
        out.append(("copytruncate",))
    # Log files of root-owned directories only; the scripts write as root.
    out.append(("su", "root", "root"))
    return out


def outputs(topo: Topology) -> list[Output]:
    ctx = {"globs": log_globs(topo), "directives": directives(topo)}
    return [Output(f"logrotate/{topo.env.project}", "logrotate/project.j2", ctx)]


ARTIFACT = ArtifactKind(
    "logrotate", "logrotate policy for the host's service and backup logs", outputs
)
