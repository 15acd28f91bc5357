"""./VERSION is the one version of the project: everything else reads it, or (where
a file cannot read it: the app's own package, built from services/app alone) must
say the same. The Dockerfiles' `ARG VERSION` defaults are checked in test_images."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import pytest

import infra_gen
from infra_gen.artifacts import ci
from infra_gen.model.platform import Images

ROOT = Path(__file__).parents[2]
VERSION = (ROOT / "VERSION").read_text(encoding="utf-8").strip()


def _schema_tag_default() -> str:
    schema = json.loads((ROOT / "docs/environment.schema.json").read_text(encoding="utf-8"))
    return str(schema["$defs"]["Images"]["properties"]["tag"]["default"])


def _app_pyproject() -> str:
    data = tomllib.loads((ROOT / "services/app/pyproject.toml").read_text(encoding="utf-8"))
    return str(data["project"]["version"])


def _app_package() -> str:
    text = (ROOT / "services/app/churn/__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    assert found, "services/app/churn/__init__.py has no __version__"
    return found.group(1)


def _changelog_releases() -> list[str]:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    return re.findall(r"^## \[(\d[^\]]*)\]", text, re.M)


def test_version_is_a_release_number() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)


def test_pyproject_reads_version_file() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in data["project"]
    assert "version" in data["project"]["dynamic"]
    assert data["tool"]["setuptools"]["dynamic"]["version"] == {"file": "VERSION"}


@pytest.mark.parametrize(("where", "read"), [
    ("installed metadata (reinstall after changing VERSION)", lambda: version("infra-gen")),
    ("infra_gen.__version__", lambda: infra_gen.__version__),
    ("default image tag (model)", lambda: Images().tag),
    ("default image tag (docs/environment.schema.json; make render)", _schema_tag_default),
    ("services/app/pyproject.toml", _app_pyproject),
    ("services/app/churn/__init__.py", _app_package),
    ("infra-gen pinned by the generated CI workflow", lambda: ci.INFRA_GEN_TAG.removeprefix("v")),
    ("latest release in CHANGELOG.md", lambda: _changelog_releases()[0]),
])
def test_every_version_agrees_with_the_version_file(where: str, read: Callable[[], str]) -> None:
    assert read() == VERSION, f"{where} says {read()}, ./VERSION says {VERSION}"
