"""`--format`: text for people (the default), JSON for programs.

The JSON each command prints is built here or next to the data it describes, so its
shape is one function to read (README, "The CLI", documents every shape; the CLI
tests parse each one).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence, Sized
from dataclasses import asdict, is_dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any


class Format(StrEnum):
    text = "text"
    json = "json"


def write_json(data: Any) -> None:
    """One JSON document on stdout (plain write: rich would wrap or colour it)."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    sys.stdout.flush()


def rendered_json(trees: Mapping[str, Sized], target: Path) -> dict[str, Any]:
    """render: {"rendered": [{"environment", "files", "directory"}]}."""
    return {"rendered": [{"environment": name, "files": len(files), "directory": str(target / name)}
                         for name, files in trees.items()]}


def artifacts_json(rows: Sequence[tuple[str, str, list[str]]]) -> dict[str, Any]:
    """list: {"environments": {ENV: {ARTIFACT: [files]}}}."""
    out: dict[str, dict[str, list[str]]] = {}
    for env, artifact, paths in rows:
        out.setdefault(env, {})[artifact] = paths
    return {"environments": out}


def states_json(env: str, states: Sequence[Any], **extra: Any) -> dict[str, Any]:
    """status / up / scale: {"environment", "healthy", "services": [{service, replica,
    kind, container, state, health, ports}], ...extra}."""
    rows = [asdict(s) if is_dataclass(s) and not isinstance(s, type) else dict(s) for s in states]
    return {"environment": env, "healthy": all_healthy(states), "services": rows, **extra}


def all_healthy(states: Sequence[Any]) -> bool:
    return all(s.state == "running" and s.health in ("healthy", "-") for s in states)

