"""docs artifact (stub: outputs nothing yet)."""

from __future__ import annotations

from ..topology import Topology
from .base import ArtifactKind, Output


def outputs(topo: Topology) -> list[Output]:
    return []


ARTIFACT = ArtifactKind("docs", "TODO", outputs)
