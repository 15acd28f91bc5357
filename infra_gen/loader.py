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
from .model.common import EXTENDS_PATTERN
from .model.common import shown as shown_value
from .model.schema import pattern_docs

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


MAX_FILE_BYTES = 1024 * 1024
"""An environment file is a few kilobytes: anything above 1 MiB is refused unread."""
MAX_NODES = 20_000
"""YAML nodes one file may expand to (aliases count each time they are used): an
alias bomb stops here instead of growing to gigabytes."""
MAX_DEPTH = 32
"""Nesting of mappings and sequences; the model itself is about 6 deep."""
MAX_EXTENDS = 8
"""Files in one extends chain (dev -> base is 2)."""
_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}
_EXTENDS = re.compile(EXTENDS_PATTERN)


def _line_at(text: str | bytes, offset: int) -> int:
    newline = b"\n" if isinstance(text, bytes) else "\n"
    return text[:offset].count(newline) + 1  # type: ignore[arg-type]


def _read_text(path: Path, shown: str) -> str:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError([Problem(f"cannot read: {exc.strerror}", file=shown)]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError([Problem("file is larger than 1 MiB: not an environment file", file=shown)])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte 0x{raw[exc.start]:02x} cannot be decoded)"
        raise ConfigError([Problem(message, shown, _line_at(raw, exc.start))]) from None


def _read_yaml(path: Path) -> Document:
    shown = display_path(path)
    text = _read_text(path, shown)
    try:
        node = _compose(text, shown)
    except yaml.reader.ReaderError as exc:
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character
        message = f"invalid YAML: character {char!r} is not allowed"
        raise ConfigError([Problem(message, shown, _line_at(text, exc.position))]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([Problem(f"invalid YAML: {problem}", file=shown, line=line)]) from None
    except RecursionError:
        raise ConfigError([Problem(f"nesting deeper than {MAX_DEPTH} levels", file=shown)]) from None
    if node is None:
        return Document({}, {(): (shown, 1)})
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(
            [Problem("expected a mapping at the top level", file=shown, line=node.start_mark.line + 1)]
        )
    converter = _Converter(shown)
    data = converter.convert(node, ())
    if converter.problems:
        raise ConfigError(converter.problems)
    converter.where[()] = (shown, 1)
    assert isinstance(data, dict)
    return Document(data, converter.where)


# libyaml parses an environment file about 10x faster than the pure-Python parser
# (base.yaml: 25 -> 2 ms; 5,000 services: 5.7 -> 0.7 s) and keeps every node's line.
# Its error messages differ from PyYAML's (and a reader error loses the character),
# so a file it refuses is parsed again by the pure-Python loader, which words the
# error the way the tests and the docs expect.
_FAST_LOADER: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)


def _compose(text: str, shown: str) -> yaml.Node | None:
    if _FAST_LOADER is not None:
        try:
            _check_depth(text, shown, _FAST_LOADER)
            return yaml.compose(text, Loader=_FAST_LOADER)
        except (yaml.YAMLError, ConfigError, RecursionError):
            pass  # worded by the pure-Python loader below
    _check_depth(text, shown, yaml.SafeLoader)
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _check_depth(text: str, shown: str, loader: type[yaml.SafeLoader]) -> None:
    """Refuse deep nesting from the event stream, before the (recursive) composer
    would run out of stack on it."""
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else None
                raise ConfigError([Problem(f"nesting deeper than {MAX_DEPTH} levels", shown, line)])
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


class _TooBig(Exception):
    """The document expands past MAX_NODES or MAX_DEPTH: stop converting at once."""


class _Converter:
    """YAML nodes -> plain data, recording where each value was written.

    Only the YAML core types are built (no custom or Python tags), merge keys
    (`<<: *anchor`) are applied as YAML 1.1 defines them, and aliases are expanded
    within MAX_NODES and MAX_DEPTH.
    """

    def __init__(self, shown: str) -> None:
        self.shown = shown
        self.where: dict[Loc, Where] = {}
        self.problems: list[Problem] = []
        self.nodes = 0
        self.active: set[int] = set()  # nodes being converted: an alias to one is a cycle
        self.scalars = yaml.SafeLoader("")

    def problem(self, message: str, node: yaml.Node, loc: Loc) -> None:
        self.problems.append(Problem(message, self.shown, node.start_mark.line + 1, _dotted(loc) or None))

    def convert(self, node: yaml.Node, loc: Loc) -> Any:
        try:
            return self._node(node, loc)
        except _TooBig as exc:
            self.problem(str(exc), node, ())
            return {}

    def _node(self, node: yaml.Node, loc: Loc) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooBig(f"the document expands to more than {MAX_NODES} values "
                          "(an alias expanded too often?)")
        if len(loc) > MAX_DEPTH:
            raise _TooBig(f"nesting deeper than {MAX_DEPTH} levels")
        self.where[loc] = (self.shown, node.start_mark.line + 1)
        if id(node) in self.active:
            self.problem("an alias refers to a node that contains it", node, loc)
            return None
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, loc)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode) and node.tag == f"{_TAG}map":
                return self._mapping(node, loc)
            if isinstance(node, yaml.SequenceNode) and node.tag == f"{_TAG}seq":
                return [self._node(item, (*loc, i)) for i, item in enumerate(node.value)]
            self.problem(f"YAML tag {shown_value(node.tag)} is not supported", node, loc)
            return None
        finally:
            self.active.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode, loc: Loc) -> Any:
        if node.tag not in _SCALAR_TAGS:
            self.problem(f"YAML tag {shown_value(node.tag)} is not supported", node, loc)
            return None
        try:
            return self.scalars.construct_object(node)
        # IndexError: PyYAML reads the first character of an empty !!int or !!float.
        except (ValueError, ArithmeticError, IndexError, yaml.YAMLError):
            tag = node.tag.removeprefix(_TAG)
            self.problem(f"not a valid {tag}: {shown_value(node.value)}", node, loc)
            return None

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        explicit: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == f"{_TAG}merge":
                for key, value in self._merge_sources(value_node, loc):
                    merged.setdefault(key, value)  # the first source that has a key wins
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _SCALAR_TAGS:
                self.problem("a key must be plain text", key_node, loc)
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in explicit:
                self.problems.append(Problem(
                    "duplicate key (a later one would silently win)", self.shown, line,
                    _dotted((*loc, key)),
                ))
                continue
            if id(value_node) in self.active:  # point at the alias, not at its anchor
                self.problems.append(Problem("an alias refers to a node that contains it",
                                             self.shown, line, _dotted((*loc, key))))
                continue
            explicit[key] = self._node(value_node, (*loc, key))
            self.where[(*loc, key)] = (self.shown, line)
        return {**merged, **explicit}

    def _merge_sources(self, node: yaml.Node, loc: Loc) -> list[tuple[str, Any]]:
        """The (key, value) pairs `<<:` brings in, in precedence order."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out: list[tuple[str, Any]] = []
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                self.problem("<< (merge) expects a mapping or a list of mappings", source, loc)
                continue
            data = self._node(source, loc)
            if isinstance(data, dict):
                out += list(data.items())
        return out


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
    if not isinstance(parent_name, str) or not _EXTENDS.fullmatch(parent_name):
        message = ("expected the name of another file in environments/, without .yaml "
                   f"(letters, digits, - and _), got {shown_value(parent_name)}")
        raise ConfigError([Problem(message, shown, line, "extends")])
    parent = path.with_name(f"{parent_name}.yaml")
    if len(_chain) >= MAX_EXTENDS:
        message = f"more than {MAX_EXTENDS} files extend one another"
        raise ConfigError([Problem(message, shown, line, "extends")])
    if parent in _chain or parent == path:
        cycle = " -> ".join(p.stem for p in (*_chain, path, parent))
        raise ConfigError([Problem(f"extends forms a cycle: {cycle}", shown, line, "extends")])
    if not parent.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.yaml") if p != path)
        message = f"no environment file {parent_name!r} (known: {', '.join(known)})"
        raise ConfigError([Problem(message, shown, line, "extends")])
    return deep_merge(load_document(parent, (*_chain, path)), doc)


def extends_chain(path: Path) -> list[tuple[Path, Document]]:
    """Each file of path's extends chain, not merged, the root first (for explain, once
    load_environment accepted the chain: a broken link ends the list)."""
    chain: list[tuple[Path, Document]] = []
    here: Path | None = path
    while here and here.is_file() and len(chain) <= MAX_EXTENDS and here not in dict(chain):
        doc = _read_yaml(here)
        chain.append((here, doc))
        parent = doc.data.get("extends")
        here = here.with_name(f"{parent}.yaml") if isinstance(parent, str) else None
    return chain[::-1]


def load_environment(path: Path) -> Environment:
    """Load, merge and validate one environment file; ConfigError lists every problem."""
    doc = load_document(path)
    doc.data.setdefault("name", path.stem)
    problems: list[Problem] = []
    if doc.data["name"] != path.stem:
        shown, line = doc.locate(("name",)) or (display_path(path), None)
        got = shown_value(doc.data["name"])
        problems.append(Problem(f"expected {path.stem!r} (the file name), got {got}", shown, line, "name"))
    try:
        env = Environment.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(_problems(exc, doc, path))
        raise ConfigError(problems) from None
    except (ValueError, TypeError, ArithmeticError) as exc:
        # A validator raised what pydantic does not turn into a located error (every
        # custom validator is wrapped by model.common.located, so this is a safety net).
        problems.append(Problem(f"invalid value ({shown_value(str(exc), 120)})", display_path(path)))
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
        if loc and loc[-1] == "[key]":  # pydantic's marker for a bad mapping key
            loc, message = loc[:-1], f"invalid key: {message}"
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
        pattern = err["ctx"]["pattern"]
        words = pattern_docs().get(pattern, "").rstrip(".")
        expected = words[:1].lower() + words[1:] if words else f"text matching {pattern}"
        return f"expected {expected}, got {shown_value(value)}"
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    msg = msg.replace("Input should be", "expected").replace("input should be", "expected")
    msg = msg.replace("String should have", "expected").replace("List should have", "expected")
    msg = msg.replace("Dictionary should have", "expected")
    if kind not in ("value_error", "assertion_error") and not isinstance(value, dict | list):
        msg += f", got {shown_value(value)}"
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
