"""`overrides`: patches of the files built from data (docs/contract.md, "Overrides").

Every section reaches its file (and only it), both patch forms apply as documented,
a patch that does not apply is one located line, and a patched file is still held
to the hardening rules by `validate`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra_gen.errors import ConfigError
from infra_gen.overrides import PatchError, apply_patch, merge_patch
from infra_gen.project import Project
from infra_gen.render import render_environment, write_tree
from infra_gen.topology import plan
from infra_gen.validate import Context, Status, run_check
from infra_gen.validate.hardening import CHECKS as HARDENING

ROOT = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path, overrides: str, env: str = "prod") -> Project:
    shutil.copytree(ROOT / "environments", tmp_path / "environments")
    path = tmp_path / "environments" / f"{env}.yaml"
    path.write_text(path.read_text() + overrides)
    return Project(tmp_path)


def _doc(files: dict[str, Any], rel: str) -> Any:
    text = files[rel].content.decode()
    return json.loads(text) if rel.endswith(".json") else yaml.safe_load(text)


# section -> the file it patches, and where the marker lands in it.
SECTIONS = [
    ("compose", "compose.yaml", ["x-marker"]),
    ("stack", "stack.yaml", ["x-marker"]),
    ("prometheus", "prometheus/prometheus.yml", ["x-marker"]),
    ("prometheus", "prometheus/prometheus.swarm.yml", ["x-marker"]),
    ("alertmanager", "alertmanager/alertmanager.yml", ["x-marker"]),
    ("grafana: {datasource", "grafana/provisioning/datasources/prometheus.yml", ["x-marker"]),
    ("grafana: {dashboard_provider", "grafana/provisioning/dashboards/provider.yml", ["x-marker"]),
    ("grafana: {dashboards: {system", "grafana/dashboards/system.json", ["x-marker"]),
    ("grafana: {dashboards: {application", "grafana/dashboards/application.json", ["x-marker"]),
    ("grafana: {dashboards: {ml", "grafana/dashboards/ml.json", ["x-marker"]),
]


@pytest.mark.parametrize(("section", "rel", "key"), SECTIONS, ids=[s[1] for s in SECTIONS])
def test_each_section_patches_its_file_and_no_other(tmp_path: Path, section: str, rel: str,
                                                    key: list[str]) -> None:
    closing = "}" * section.count("{")
    text = f"overrides:\n  {section}: {{x-marker: 42}}{closing}\n"
    files = render_environment(_project(tmp_path, text), "prod")
    assert _doc(files, rel)[key[0]] == 42
    marked = [p for p in files if p != "MANIFEST" and b"x-marker" in files[p].content]
    same_section = {r for s, r, _ in SECTIONS if s == section}
    assert set(marked) == same_section


def test_merge_patch_merges_mappings_replaces_lists_and_deletes_with_null(tmp_path: Path) -> None:
    text = """overrides:
  compose:
    services:
      api:
        labels: {team: payments}
        security_opt: [no-new-privileges:true, "apparmor:docker-default"]
        logging: null
    x-extra: {a: [1, 2]}
"""
    api = _doc(render_environment(_project(tmp_path, text), "prod"), "compose.yaml")["services"]["api"]
    assert api["labels"] == {"team": "payments"}
    assert api["security_opt"] == ["no-new-privileges:true", "apparmor:docker-default"]
    assert "logging" not in api
    assert api["image"].endswith("/app:" + api["image"].rsplit(":", 1)[1])  # the rest is kept


def test_json_patch_appends_inserts_moves_and_tests(tmp_path: Path) -> None:
    text = """overrides:
  prometheus:
    - {op: test, path: /global/scrape_interval, value: 15s}
    - {op: add, path: /scrape_configs/-, value: {job_name: blackbox, static_configs: [{targets: ["api:8000"]}]}}
    - {op: add, path: /global/scrape_timeout, value: 10s}
    - {op: copy, from: /global/scrape_interval, path: /global/x-copied}
    - {op: move, from: /global/x-copied, path: /global/x-moved}
    - {op: replace, path: /scrape_configs/0/job_name, value: renamed}
"""
    config = _doc(render_environment(_project(tmp_path, text), "prod"), "prometheus/prometheus.yml")
    assert config["scrape_configs"][-1]["job_name"] == "blackbox"
    assert config["scrape_configs"][0]["job_name"] == "renamed"
    assert config["global"]["scrape_timeout"] == "10s"
    assert config["global"]["x-moved"] == "15s" and "x-copied" not in config["global"]


def test_a_patched_value_is_not_interpolated_by_compose(tmp_path: Path) -> None:
    text = "overrides:\n  compose: {services: {api: {labels: {cost: '${HOME}'}}}}\n"
    compose = render_environment(_project(tmp_path, text), "prod")["compose.yaml"].content.decode()
    assert "cost: $${HOME}" in compose


# Bad patches: (overrides text appended to prod.yaml, the line of the text the error
# is on, the rest of the one expected error line).
BAD = [
    ("unknown section",
     "overrides:\n  nginx: {a: 1}\n",
     2, "overrides.nginx: unknown field; expected one of: alertmanager, compose, grafana, prometheus, stack"),
    ("null deletes a key that is not there",
     "overrides:\n  compose:\n    services:\n      api: {privilegd: null}\n",
     4, "overrides.compose.services.api.privilegd: null deletes a key, but the generated document has no key 'privilegd' here"),
    ("path through a missing key",
     "overrides:\n  compose:\n    - {op: add, path: /services/nope/x, value: 1}\n",
     3, "overrides.compose[0].path: /services/nope/x: no key 'nope' at /services (keys: alertmanager, api,"),
    ("index past the end",
     "overrides:\n  alertmanager:\n    - {op: remove, path: /receivers/5}\n",
     3, "overrides.alertmanager[0].path: /receivers/5: index 5 is past the end of a list of 1"),
    ("not an index",
     "overrides:\n  alertmanager:\n    - {op: replace, path: /receivers/first, value: {}}\n",
     3, "overrides.alertmanager[0].path: /receivers/first: 'first' is not a list index"),
    ("replace needs the key",
     "overrides:\n  prometheus:\n    - {op: replace, path: /global/scrape_timeout, value: 5s}\n",
     3, "overrides.prometheus[0].path: /global/scrape_timeout: no key 'scrape_timeout' at /global"),
    ("failed test",
     "overrides:\n  prometheus:\n    - {op: test, path: /global/scrape_interval, value: 1m}\n",
     3, "overrides.prometheus[0].value: test failed: /global/scrape_interval is '15s'"),
    ("move from a missing key",
     "overrides:\n  prometheus:\n    - {op: move, from: /nope, path: /x}\n",
     3, "overrides.prometheus[0].from: /nope: no key 'nope' at the document root"),
    ("add without value",
     "overrides:\n  compose:\n    - {op: add, path: /x}\n",
     3, "overrides.compose[0].value: required by op add"),
    ("copy without from",
     "overrides:\n  compose:\n    - {op: copy, path: /x}\n",
     3, "overrides.compose[0].from: required by op copy"),
    ("unknown op",
     "overrides:\n  compose:\n    - {op: append, path: /x, value: 1}\n",
     3, "overrides.compose[0].op: expected 'add', 'remove', 'replace', 'move', 'copy' or 'test'"),
    ("pointer without a leading slash",
     "overrides:\n  compose:\n    - {op: remove, path: services}\n",
     3, "overrides.compose[0].path: expected an RFC 6901 JSON Pointer"),
    ("a patch is a mapping or a list",
     "overrides:\n  compose: 3\n",
     2, "overrides.compose: expected a valid dictionary"),
]


def _lines(env: str) -> int:
    text = (ROOT / "environments" / f"{env}.yaml").read_text()
    assert text.endswith("\n")
    return len(text.splitlines())


@pytest.mark.parametrize(("text", "line", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_patch_is_one_located_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         text: str, line: int, expected: str) -> None:
    expected = f"environments/prod.yaml:{_lines('prod') + line}: {expected}"
    monkeypatch.chdir(tmp_path)
    project = _project(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        render_environment(project, "prod")
    (problem,) = caught.value.problems
    assert str(problem).startswith(expected)


def test_stack_overrides_need_swarm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    project = _project(tmp_path, "overrides:\n  stack: {a: 1}\n", env="dev")
    with pytest.raises(ConfigError) as caught:
        project.load("dev")
    assert [str(p) for p in caught.value.problems] == [
        f"environments/dev.yaml:{_lines('dev') + 2}: overrides.stack: deploy.swarm is off, "
        "so there is no stack.yaml"]


def test_a_patched_privileged_service_fails_the_hardening_check(tmp_path: Path) -> None:
    """The patch is applied before validation: validate sees what would be deployed."""
    text = "overrides:\n  compose:\n    services:\n      api: {privileged: true, cap_drop: null}\n"
    project = _project(tmp_path, text)
    out = tmp_path / "out" / "prod"
    write_tree(out, render_environment(project, "prod"))
    ctx = Context(plan(project.load("prod")), out)
    result = run_check(ctx, next(c for c in HARDENING if c.name == "services hardened"))
    assert result.status is Status.failed
    messages = [f.message for f in result.findings]
    assert any("services.api.privileged" in m for m in messages), messages
    assert any("services.api.cap_drop" in m for m in messages), messages


@pytest.mark.parametrize(("target", "patch", "expected"), [
    ({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}, {"a": {"c": 2, "d": 3}}),
    ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
    ({"a": 1}, {"a": {"b": 2}}, {"a": {"b": 2}}),
    ({"a": {"b": 1}}, {"a": "x"}, {"a": "x"}),
])
def test_merge_patch_rule(target: Any, patch: Any, expected: Any) -> None:
    before = json.dumps(target)
    assert merge_patch(target, patch) == expected
    assert json.dumps(target) == before  # the generated document is not changed in place


def test_json_patch_rule_on_escaped_pointers() -> None:
    from infra_gen.model.overrides import PatchOperation

    doc = {"a/b": {"m~n": [1, 2]}}
    ops = [PatchOperation.model_validate({"op": "add", "path": "/a~1b/m~0n/1", "value": 9}),
           PatchOperation.model_validate({"op": "remove", "path": "/a~1b/m~0n/0"})]
    assert apply_patch(doc, ops) == {"a/b": {"m~n": [9, 2]}}
    assert doc == {"a/b": {"m~n": [1, 2]}}
    with pytest.raises(PatchError) as caught:
        apply_patch(doc, [PatchOperation.model_validate({"op": "add", "path": "/a~1b/m~0n/x/y", "value": 1})])
    assert caught.value.loc == (0, "path")


def test_the_documented_example_applies(tmp_path: Path) -> None:
    doc = (ROOT / "docs/contract.md").read_text()
    section = doc[doc.index("## Overrides"):]
    block = section[section.index("```yaml\n") + 8:section.index("  ```\n", section.index("```yaml"))]
    text = "\n".join(line.removeprefix("  ") for line in block.splitlines()) + "\n"
    assert text.startswith("overrides:\n")
    files = render_environment(_project(tmp_path, text), "prod")
    assert _doc(files, "compose.yaml")["services"]["api"]["labels"] == {"team": "payments"}
    assert _doc(files, "prometheus/prometheus.yml")["global"]["scrape_timeout"] == "10s"
