"""What an artifact kind is: the files it writes from a topology."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..topology import Topology


@dataclass(frozen=True)
class Output:
    path: str
    """Where the file goes, relative to generated/<env>/."""
    template: str
    """Jinja template, relative to templates/."""
    context: Mapping[str, Any] = field(default_factory=dict)
    """Extra variables on top of `topo`, `env` and `header`."""
    executable: bool = False


@dataclass(frozen=True)
class ArtifactKind:
    name: str
    description: str
    outputs: Callable[[Topology], list[Output]]
