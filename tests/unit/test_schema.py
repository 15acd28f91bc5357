"""The JSON Schema editors and CI use for environment files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from infra_gen.model.schema import merged_schema, schema_text

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "environments").glob("*.yaml"))


def test_committed_schema_is_current() -> None:
    # `make render` refreshes it.
    assert (ROOT / "docs" / "environment.schema.json").read_text() == schema_text()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_environment_file_matches_the_file_schema(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../docs/environment.schema.json"
    jsonschema.validate(yaml.safe_load(path.read_text()), json.loads(schema_text()))


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [
        ({"services": {"api": {"replcas": 2}}}, "Additional properties are not allowed"),
        ({"load_balancer": {"http_port": "eighty"}}, "is not of type 'integer'"),
        ({"tls": {"mode": "letsencrypt"}}, "is not one of"),
    ],
)
def test_the_file_schema_rejects_what_the_loader_rejects(edit: dict[str, object], complaint: str) -> None:
    with pytest.raises(jsonschema.ValidationError, match=complaint):
        jsonschema.validate({"extends": "base", **edit}, json.loads(schema_text()))


def test_the_merged_schema_requires_what_a_whole_environment_needs() -> None:
    assert {"services", "alerting"} <= set(merged_schema()["required"])
    assert "required" not in json.loads(schema_text())
