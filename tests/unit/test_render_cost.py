"""What keeps a render cheap: the alert table built once, no cyclic GC while rendering,
libyaml where present, field docstrings read only for the schema."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
import yaml

from infra_gen import commands, loader
from infra_gen.artifacts import alerts as alert_table
from infra_gen.artifacts import prometheus
from infra_gen.model import Environment
from infra_gen.project import Project
from infra_gen.render import render_environment

ROOT = Path(__file__).resolve().parents[2]


def test_the_alert_table_is_built_once_per_render(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def counted(topo):  # type: ignore[no-untyped-def]
        calls.append(topo.name)
        return alert_table.alerts(topo)

    monkeypatch.setattr(prometheus, "alerts", counted)
    files = render_environment(Project(ROOT), "prod")
    assert calls == ["prod"]
    assert "prometheus/rules/alerts.yml" in files and "prometheus/tests/alerts_test.yml" in files


def test_no_gc_during_a_render_and_restored_after() -> None:
    assert gc.isenabled()
    with commands.no_gc():
        assert not gc.isenabled() and gc.get_freeze_count() > 0
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_no_gc_restored_after_an_error() -> None:
    with pytest.raises(RuntimeError), commands.no_gc():
        raise RuntimeError
    assert gc.isenabled() and gc.get_freeze_count() == 0


@pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML built without libyaml")
def test_environment_files_are_parsed_by_libyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    """The C loader composes the file (and its lines still point at the right place)."""
    used = []
    real = yaml.compose

    def compose(text, Loader):  # type: ignore[no-untyped-def]
        used.append(Loader)
        return real(text, Loader=Loader)

    monkeypatch.setattr(loader.yaml, "compose", compose)
    doc = loader.load_document(ROOT / "environments" / "prod.yaml")
    assert set(used) == {yaml.CSafeLoader}
    text = (ROOT / "environments" / "prod.yaml").read_text().splitlines()
    _, line = doc.where[("domain",)]
    assert text[line - 1].startswith("domain:")


def test_a_yaml_error_is_worded_by_the_pure_python_loader(tmp_path: Path) -> None:
    """libyaml words errors differently; the message users see is PyYAML's, as before."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ndomain: a\n\tservices: {}\n")
    with pytest.raises(loader.ConfigError) as info:
        loader.load_document(bad)
    assert str(info.value.problems[0]).endswith(
        "bad.yaml:3: invalid YAML: found character '\\t' that cannot start any token")


def test_field_docstrings_are_not_read_at_import() -> None:
    """pydantic's use_attribute_docstrings parses class sources at import; the schema
    reads them when it is asked for (tests/unit/test_schema.py checks it has them)."""
    assert not Environment.model_config.get("use_attribute_docstrings")
