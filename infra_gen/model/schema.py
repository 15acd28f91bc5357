"""JSON Schemas of the environment format, for editors and CI."""

from __future__ import annotations

import functools
import json
from typing import Annotated, Any, get_args, get_origin

from pydantic import StringConstraints

from . import common, cron, environment, operations, overrides, platform, services
from .common import EXTENDS_PATTERN, Doc
from .environment import Environment


@functools.cache
def pattern_docs() -> dict[str, str]:
    """The words (Doc) of every constrained text type of the model, by its pattern."""
    out: dict[str, str] = {}
    for module in (common, cron, environment, operations, overrides, platform, services):
        for value in vars(module).values():
            if get_origin(value) is not Annotated:
                continue
            meta = get_args(value)[1:]
            patterns = [m.pattern for m in meta if isinstance(m, StringConstraints) and m.pattern]
            docs = [m.text for m in meta if isinstance(m, Doc)]
            if patterns and docs:
                out[str(patterns[0])] = docs[0]
    return out


def _describe(node: Any) -> None:
    """Append the words of a field's type to the field's own description."""
    if isinstance(node, dict):
        doc = pattern_docs().get(node.get("pattern", ""))
        if doc and doc not in node.get("description", ""):
            node["description"] = f"{node.get('description', '')} {doc}".strip()
        for value in node.values():
            _describe(value)
    elif isinstance(node, list):
        for value in node:
            _describe(value)


def merged_schema() -> dict[str, Any]:
    """Schema of an environment once `extends` is merged: every required field present."""
    schema = Environment.model_json_schema(by_alias=True)
    _describe(schema)
    return schema


def _optional(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("required", None)
        for value in node.values():
            _optional(value)
    elif isinstance(node, list):
        for value in node:
            _optional(value)


def file_schema() -> dict[str, Any]:
    """Schema of one file in environments/: the same fields and types, plus `extends`,
    with nothing required (a file may leave any field to the file it extends)."""
    schema = merged_schema()
    _optional(schema)
    schema["properties"] = {
        "extends": {
            "type": "string",
            "pattern": EXTENDS_PATTERN,
            "maxLength": 64,
            "title": "Extends",
            "description": "Another file of environments/, without .yaml, merged under this one: "
            "mappings merge key by key, every other value (lists too) is replaced.",
        },
        **schema["properties"],
    }
    schema["title"] = "infra-gen environment file"
    return schema


def schema_text(merged: bool = False) -> str:
    return json.dumps(merged_schema() if merged else file_schema(), indent=2) + "\n"
