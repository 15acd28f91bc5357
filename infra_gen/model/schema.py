"""JSON Schemas of the environment format, for editors and CI."""

from __future__ import annotations

import ast
import functools
import inspect
import itertools
import json
import textwrap
from typing import Annotated, Any, get_args, get_origin

from pydantic import StringConstraints

from . import common, cron, environment, operations, platform, services
from .common import EXTENDS_PATTERN, Doc, StrictModel
from .environment import Environment


@functools.cache
def pattern_docs() -> dict[str, str]:
    """The words (Doc) of every constrained text type of the model, by its pattern."""
    out: dict[str, str] = {}
    for module in (common, cron, environment, operations, platform, services):
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


def _field_docstrings(cls: type) -> dict[str, str]:
    """The docstring under each annotated attribute of a class body, by attribute name."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):  # no source (a class made at run time)
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for node, after in itertools.pairwise(body):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)):
            docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs


@functools.cache
def document_fields() -> None:
    """Field docstrings as descriptions, then every model rebuilt (base classes before the
    models that hold them, the order they were defined in) so the schema carries them.
    Done here, once, not at import: see StrictModel."""
    def subclasses(cls: type[StrictModel]) -> list[type[StrictModel]]:
        return [c for sub in cls.__subclasses__() for c in (sub, *subclasses(sub))]

    models = list(dict.fromkeys(subclasses(StrictModel)))
    for model in models:
        docs = _field_docstrings(model)
        for name, info in model.model_fields.items():
            if info.description is None and name in docs:
                info.description = docs[name]
    for model in models:
        model.model_rebuild(force=True)


def merged_schema() -> dict[str, Any]:
    """Schema of an environment once `extends` is merged: every required field present."""
    document_fields()
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
