"""JSON Schemas of the environment format, for editors and CI."""

from __future__ import annotations

import json
from typing import Any

from .common import EXTENDS_PATTERN
from .environment import Environment


def merged_schema() -> dict[str, Any]:
    """Schema of an environment once `extends` is merged: every required field present."""
    return Environment.model_json_schema(by_alias=True)


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
