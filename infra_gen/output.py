"""`--format`: text for people (the default), JSON for programs.

The JSON each command prints is built here or next to the data it describes, so its
shape is one function to read (README, "The CLI", documents every shape; the CLI
tests parse each one).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence, Sized
from contextlib import contextmanager, nullcontext
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


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    # Both levels: child processes write to descriptor 1, Python code to sys.stdout
    # (which need not be descriptor 1, e.g. under a test's capture).
    stdout = sys.stdout
    stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        yield
    finally:
        sys.stdout.flush()
        sys.stdout = stdout
        os.dup2(saved, 1)
        os.close(saved)


def progress_off_stdout(fmt: Format) -> contextlib.AbstractContextManager[None]:
    """With --format json, what a command prints on its way (its own progress lines and
    the output of the docker commands it runs, which inherit file descriptor 1) goes
    to stderr, so stdout carries the JSON document only."""
    return _stdout_to_stderr() if fmt is Format.json else nullcontext()


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

