"""`infra-gen explain ENV FIELD`: a field's effective value and where it comes from.

The value is read from the validated Environment (defaults and derived values
included); its origin from the loader's record of where each key was written (the
same record its error messages use): the file and line of the `extends` chain that
set it last, the earlier files it overrides, or, when no file sets it, the model's
default and the field's docstring.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

from .errors import ConfigError, Problem
from .loader import Loc, extends_chain, load_document
from .project import Project

_INDEX = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Origin:
    file: str
    line: int


@dataclass
class Explanation:
    environment: str
    dotted: str
    """The field path as asked (services.api.replicas)."""
    value: Any
    """The effective value, as JSON data."""
    source: str
    """file (a file of the extends chain sets it), default (the model's default) or
    derived (no file sets it; the model computes it from other fields or the file name)."""
    origin: Origin | None = None
    """Where the effective value was written (source file only)."""
    overrides: list[Origin] = field(default_factory=list)
    """Earlier files of the chain that set it too, nearest first."""
    default: Any = None
    """The model's default for the field (JSON data), when it has one."""
    has_default: bool = False
    description: str = ""
    """The field's docstring."""

    def as_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "field": self.dotted,
            "value": self.value,
            "source": self.source,
            "file": self.origin.file if self.origin else None,
            "line": self.origin.line if self.origin else None,
            "overrides": [{"file": o.file, "line": o.line} for o in self.overrides],
            "default": self.default if self.has_default else None,
            "has_default": self.has_default,
            "description": self.description,
        }

    def text(self) -> list[str]:
        lines = [f"{self.environment}: {self.dotted} = {_shown(self.value)}"]
        if self.origin:
            lines.append(f"  set in {self.origin.file}:{self.origin.line}")
            # Mappings merge key by key (loader.py): an earlier file's other keys still hold.
            verb = "merges over" if isinstance(self.value, dict) else "overrides"
            lines += [f"  {verb} {o.file}:{o.line}" for o in self.overrides]
        elif self.source == "default":
            lines.append(f"  default (no file of the extends chain sets it; model default "
                         f"{_shown(self.default)})")
        else:
            lines.append("  derived (no file sets it: the model computes it from other fields or "
                         "the file name)")
        if self.description:
            lines += [f"  {ln}" for ln in self.description.splitlines()]
        return lines


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _parts(dotted: str) -> list[str]:
    """`services.api.ports[0]` or `services.api.ports.0` -> [services, api, ports, 0]."""
    return [p for p in _INDEX.sub(r".\1", dotted).split(".")]


def _unknown(dotted: str, done: list[str], choices: list[str], what: str) -> ConfigError:
    prefix = ".".join(done)
    wrong = dotted[len(prefix) + 1:] if prefix else dotted
    close = difflib.get_close_matches(wrong.split(".")[0].split("[")[0], choices, n=1)
    hint = f"did you mean {'.'.join([*done, close[0]])!r}? " if close else ""
    expected = f"expected one of: {', '.join(choices) or '(none)'}"
    return ConfigError([Problem(f"unknown {what}; {hint}{expected}", path=dotted)])


def _field_default(info: FieldInfo) -> tuple[bool, Any]:
    if info.default is not PydanticUndefined:
        return True, to_jsonable_python(info.default, by_alias=True)
    if info.default_factory is not None:
        return True, to_jsonable_python(info.get_default(call_default_factory=True), by_alias=True)
    return False, None


def resolve(env: BaseModel, dotted: str) -> tuple[Any, Loc, FieldInfo | None]:
    """The value at dotted, its location as the loader records it (YAML keys), and the
    model field it belongs to (None for a mapping entry or list item)."""
    if not dotted or any(not p for p in _parts(dotted)):
        raise ConfigError([Problem("expected a dotted field path such as postgres.max_connections",
                                   path=dotted or None)])
    value: Any = env
    loc: list[str | int] = []
    info: FieldInfo | None = None
    done: list[str] = []
    for part in _parts(dotted):
        if isinstance(value, BaseModel):
            fields = type(value).model_fields
            names = {(f.alias or name): name for name, f in fields.items()}
            if part not in names:
                raise _unknown(dotted, done, sorted(names), "field")
            info = fields[names[part]]
            value = getattr(value, names[part])
            loc.append(part)
        elif isinstance(value, dict):
            keys = {str(k): k for k in value}
            if part not in keys:
                raise _unknown(dotted, done, list(keys), "key")
            value, info = value[keys[part]], None
            loc.append(part)
        elif isinstance(value, list | tuple):
            if not part.isdigit() or int(part) >= len(value):
                raise ConfigError([Problem(f"expected an index below {len(value)} in "
                                           f"{'.'.join(done)}", path=dotted)])
            value, info = value[int(part)], None
            loc.append(int(part))
        else:
            message = f"{'.'.join(done)} is a value ({_shown(to_jsonable_python(value))}), it has no fields"
            raise ConfigError([Problem(message, path=dotted)])
        done.append(part)
    return value, tuple(loc), info


def complete(env: BaseModel, incomplete: str) -> list[str]:
    """Field paths that continue incomplete (shell completion of explain's FIELD)."""
    parent, _, stem = incomplete.rpartition(".")
    try:
        value = resolve(env, parent)[0] if parent else env
    except ConfigError:
        return []
    if isinstance(value, BaseModel):
        keys = [f.alias or name for name, f in type(value).model_fields.items()]
    elif isinstance(value, dict):
        keys = [str(k) for k in value]
    elif isinstance(value, list | tuple):
        keys = [str(i) for i in range(len(value))]
    else:
        return []
    return [f"{parent}.{k}" if parent else k for k in keys if k.startswith(stem)]


def explain(project: Project, env_name: str, dotted: str) -> Explanation:
    from .model.schema import document_fields

    document_fields()  # field docstrings are read on demand, not at import
    path = project.environment_path(env_name)
    env = project.load(env_name)  # a broken environment is reported as render would
    value, loc, info = resolve(env, dotted)
    merged = load_document(path)
    has_default, default = _field_default(info) if info is not None else (False, None)
    result = Explanation(env_name, dotted, to_jsonable_python(value, by_alias=True), "derived",
                         default=default, has_default=has_default,
                         description=(info.description or "") if info is not None else "")
    where = merged.where.get(loc)
    if where is not None:
        result.source, result.origin = "file", Origin(*where)
        setters = [Origin(*doc.where[loc]) for p, doc in extends_chain(path) if loc in doc.where]
        earlier = [o for o in setters if o != result.origin]
        result.overrides = earlier[::-1]
    elif has_default and result.value == default:
        result.source = "default"
    return result
