"""Edits of a rendered tree, for the tables of deliberately broken artifacts.

Each helper returns a function that changes one file under a rendered
generated/<env>/ copy; a check must then catch the change.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

Mutation = Callable[[Path], None]


def sub(rel: str, pattern: str, repl: str, count: int = 1) -> Mutation:
    """Replace a regular expression in a file (it must match)."""
    def mutate(root: Path) -> None:
        path = root / rel
        text, n = re.subn(pattern, repl, path.read_text(), count=count, flags=re.M)
        assert n, f"mutation found nothing to change in {rel}: {pattern}"
        path.write_text(text)
    return mutate


def edit_yaml(rel: str, fn: Callable[[Any], None]) -> Mutation:
    """Load a YAML file, let fn change it, write it back."""
    def mutate(root: Path) -> None:
        path = root / rel
        doc = yaml.safe_load(path.read_text())
        fn(doc)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return mutate


def edit_compose(fn: Callable[[dict[str, Any]], None]) -> Mutation:
    """Let fn change the services of compose.yaml."""
    return edit_yaml("compose.yaml", lambda doc: fn(doc["services"]))


def append(rel: str, text: str) -> Mutation:
    def mutate(root: Path) -> None:
        with (root / rel).open("a") as f:
            f.write(text)
    return mutate


EVIL_SERVICE: dict[str, Any] = {
    "image": "alpine:3.20", "privileged": True, "user": "0:0",
    "volumes": [{"type": "bind", "source": "/", "target": "/host"}],
}
"""A service nobody asked for: privileged, root, the host's / mounted read-write."""


def include_service(name: str = "evil", service: dict[str, Any] | None = None) -> Mutation:
    """Write included.yaml with one service and add `include: [included.yaml]` to compose.yaml
    (what a newline in a value once smuggled into the file)."""
    def mutate(root: Path) -> None:
        doc = {"services": {name: service or EVIL_SERVICE}}
        (root / "included.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        edit_yaml("compose.yaml", lambda d: d.__setitem__("include", ["included.yaml"]))(root)
    return mutate
