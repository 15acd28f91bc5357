"""YAML -> Environment: `extends`, deep merge, and errors that point at a line.

Merge rule: mappings merge key by key (recursively); every other value, lists
included, is replaced whole by the extending file. `extends` names another file in
the same environments/ directory, without its .yaml suffix.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .errors import ConfigError, Problem
from .model import Environment

Loc = tuple[str | int, ...]
Where = tuple[str, int]

# Files in environments/ that only hold shared defaults and are never rendered.
ABSTRACT_PREFIXES = ("base", "_")


@dataclass
class Document:
    """Data of one or more merged YAML files, with where each value was written."""

    data: dict[str, Any]
    where: dict[Loc, Where] = field(default_factory=dict)

    def locate(self, loc: Loc) -> Where | None:
        """The most precise known place for loc (itself, or its nearest parent)."""
        for end in range(len(loc), -1, -1):
            found = self.where.get(loc[:end])
            if found:
                return found
        return None


def display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _read_yaml(path: Path) -> Document:
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(f"cannot read: {exc.strerror}", file=shown)]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([Problem(f"invalid YAML: {problem}", file=shown, line=line)]) from None
    if node is None:
        return Document({}, {(): (shown, 1)})
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(
            [Problem("expected a mapping at the top level", file=shown, line=node.start_mark.line + 1)]
        )
    where: dict[Loc, Where] = {}
    problems: list[Problem] = []
    data = _convert(node, (), shown, where, problems)
    if problems:
        raise ConfigError(problems)
    where[()] = (shown, 1)
    assert isinstance(data, dict)
    return Document(data, where)


def _convert(
    node: yaml.Node, loc: Loc, shown: str, where: dict[Loc, Where], problems: list[Problem]
) -> Any:
    where[loc] = (shown, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.SafeLoader(  # scalars through the safe constructor: 1 -> int, etc.
                ""
            ).construct_object(key_node)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                problems.append(Problem(
                    "duplicate key (a later one would silently win)", shown, line, _dotted((*loc, key))
                ))
                continue
            out[key] = _convert(value_node, loc + (key,), shown, where, problems)
            where[loc + (key,)] = (shown, line)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, loc + (i,), shown, where, problems) for i, item in enumerate(node.value)]
    return yaml.SafeLoader("").construct_object(node)


def deep_merge(base: Document, overlay: Document) -> Document:
    """overlay on top of base: mappings merge, anything else is replaced whole."""
    where = dict(base.where)

    def merge(a: dict[str, Any], b: dict[str, Any], loc: Loc) -> dict[str, Any]:
        out = dict(a)
        for key, value in b.items():
            here = loc + (key,)
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value, here)
            else:
                for stale in [k for k in where if k[: len(here)] == here]:
                    del where[stale]
                out[key] = value
        return out

    data = merge(base.data, overlay.data, ())
    # The extending file's places win, for mappings too: an error in a merged
    # section most likely comes from the file that changed it.
    where.update(overlay.where)
    return Document(data, where)


def load_document(path: Path, _chain: tuple[Path, ...] = ()) -> Document:
    """Read path and everything it extends, merged."""
    doc = _read_yaml(path)
    parent_name = doc.data.pop("extends", None)
    if parent_name is None:
        return doc
    shown, line = doc.where.get(("extends",), (display_path(path), 1))
    if not isinstance(parent_name, str):
        raise ConfigError(
            [Problem("expected the name of another environment file", shown, line, "extends")]
        )
    parent = path.with_name(f"{parent_name}.yaml")
    if parent in _chain or parent == path:
        cycle = " -> ".join(p.stem for p in (*_chain, path, parent))
        raise ConfigError([Problem(f"extends forms a cycle: {cycle}", shown, line, "extends")])
    if not parent.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.yaml") if p != path)
        message = f"no environment file {parent_name!r} (known: {', '.join(known)})"
        raise ConfigError([Problem(message, shown, line, "extends")])
    return deep_merge(load_document(parent, (*_chain, path)), doc)


def load_environment(path: Path) -> Environment:
    """Load, merge and validate one environment file; ConfigError lists every problem."""
    doc = load_document(path)
    doc.data.setdefault("name", path.stem)
    problems: list[Problem] = []
    if doc.data["name"] != path.stem:
        shown, line = doc.locate(("name",)) or (display_path(path), None)
        problems.append(
            Problem(f"expected {path.stem!r} (the file name), got {doc.data['name']!r}", shown, line, "name")
        )
    try:
        env = Environment.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(_problems(exc, doc, path))
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    return env


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problems(exc: ValidationError, doc: Document, path: Path) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = _message(err, loc)
        # Cross-field validators start their message with the field they blame,
        # relative to where they run ("route.receiver: ..."): point there.
        blamed = _BLAMED.match(message) if err["type"] == "value_error" else None
        if blamed:
            loc = loc + tuple(blamed.group(1).split("."))
            message = blamed.group(2)
        shown, line = doc.locate(loc) or (display_path(path), None)
        problems.append(Problem(message, shown, line, _dotted(loc) or None))
    return problems


_BLAMED = re.compile(r"^([a-z_][a-z0-9_-]*(?:\.[a-z_][a-z0-9_-]*)*): (.*)$", re.DOTALL)


def _message(err: Any, loc: Loc) -> str:
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown field; {hint}expected one of: {', '.join(allowed)}"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch":
        return f"expected text matching {err['ctx']['pattern']}, got {value!r}"
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    msg = msg.replace("Input should be", "expected").replace("input should be", "expected")
    if kind not in ("value_error", "assertion_error") and not isinstance(value, dict | list):
        msg += f", got {value!r}"
    return msg


def _allowed_keys(loc: Loc) -> list[str]:
    """Field names (aliases where set) of the model found at loc."""
    model: type[BaseModel] = Environment
    for part in loc:
        info = model.model_fields.get(str(part))
        if info is None:  # a dict key or list index: step through it
            continue
        nested = _model_in(info.annotation)
        if nested is None:
            return []
        model = nested
    return sorted(info.alias or name for name, info in model.model_fields.items())


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def environment_files(env_dir: Path) -> dict[str, Path]:
    """Renderable environments (abstract base files excluded), sorted by name."""
    return {
        p.stem: p
        for p in sorted(env_dir.glob("*.yaml"))
        if not p.stem.startswith(ABSTRACT_PREFIXES)
    }
