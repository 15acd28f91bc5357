"""failover/: PostgreSQL failover as scripts (failover.sh, reseed-replica.sh,
failback.sh), for environments with a replica.

Every name they use (compose project, nodes, volumes, image, slot, fence file) is
computed in topology/database.py; the templates only format it. The mechanism
(fence marker, the image re-seeding a fenced node, clients that find the primary by
themselves) is described in templates/failover/failover.sh.j2 and the README.
"""

from __future__ import annotations

from ..contract import FAILOVER_DIR
from ..topology import Topology
from ..topology.backups import backup_facts
from ..topology.database import failover_facts
from .base import ArtifactKind, Output

SCRIPTS = ("failover.sh", "reseed-replica.sh", "failback.sh")


def outputs(topo: Topology) -> list[Output]:
    facts = failover_facts(topo)
    if facts is None:
        return []
    ctx = {"f": facts, "b": backup_facts(topo)}
    return [Output(f"{FAILOVER_DIR}/{name}", f"failover/{name}.j2", ctx, executable=True)
            for name in SCRIPTS]


ARTIFACT = ArtifactKind(
    "failover",
    "PostgreSQL failover, re-seed and failback scripts (fencing the old primary)",
    outputs,
)
