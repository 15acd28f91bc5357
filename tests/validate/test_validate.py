"""Real-tool validation: every environment passes `validate --strict`, and each tool
check catches a deliberately broken artifact with the tool's own message."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mutations import append, edit_yaml, sub

from infra_gen.project import Project
from infra_gen.render import render_environment, write_tree
from infra_gen.topology import plan
from infra_gen.validate import Context, Status, run_check, validate
from infra_gen.validate.registry import CHECKS

pytestmark = pytest.mark.validate

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Project(ROOT)
BY_NAME = {c.name: c for c in CHECKS}


@pytest.mark.parametrize("env", PROJECT.environment_names)
def test_environment_passes_strict(env: str) -> None:
    report = validate(PROJECT, [env], strict=True)
    failed = {f"{r.artifact}/{r.check}": r.messages() for r in report.failed}
    assert report.ok, json.dumps(failed, indent=2)


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rendered") / "prod"
    write_tree(root, render_environment(PROJECT, "prod"))
    return root





def _never_fires(doc: Any) -> None:
    rule = next(r for g in doc["groups"] for r in g["rules"] if "alert" in r)
    rule["expr"] = "vector(1) < 0"


def _drop_quiet_cases(doc: Any) -> None:
    doc["tests"] = [t for t in doc["tests"]
                    if all(c.get("exp_alerts") for c in t.get("alert_rule_test", []))]


def _bad_panel_query(doc: Any) -> None:
    panel = next(p for p in doc["panels"] if p.get("targets"))
    panel["targets"][0]["expr"] = "sum(rate(http_requests_total[5m])"


def _bad_json(root: Path) -> None:
    board = sorted((root / "grafana/dashboards").glob("*.json"))[0]
    board.write_text(board.read_text()[:-3])


def _edit_json(pattern: str, fn: Callable[[Any], None]) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        path = sorted((root / "grafana/dashboards").glob(pattern))[0]
        doc = json.loads(path.read_text())
        fn(doc)
        path.write_text(json.dumps(doc, indent=2))
    return mutate


def _first_service(doc: Any) -> dict[str, Any]:
    return next(iter(doc["services"].values()))  # type: ignore[no-any-return]


MUTATIONS: list[tuple[str, str, Callable[[Path], None], str]] = [
    ("compose key that does not exist", "compose-spec schema",
     edit_yaml("compose.yaml", lambda d: _first_service(d).__setitem__("hostnam", "x")),
     "'hostnam' was unexpected"),
    ("compose key that does not exist (docker)", "docker compose config",
     edit_yaml("compose.yaml", lambda d: _first_service(d).__setitem__("hostnam", "x")),
     "hostnam"),
    ("upstream at a missing service", "nginx -t",
     sub("nginx/nginx.conf", r"server api:", "server api-9:"), "host not found in upstream"),
    ("nginx syntax error", "nginx -t",
     sub("nginx/nginx.conf", r"keepalive 32;", "keepalive 32"), "nginx -t"),
    ("version disclosure", "gixy-ng",
     sub("nginx/nginx.conf", r"^http \{", "http {\n    server_tokens on;"), "gixy"),
    ("prometheus config error", "promtool check config",
     sub("prometheus/prometheus.yml", r"scrape_interval: 15s", "scrape_interval: 15x"),
     "promtool"),
    ("PromQL syntax error in a rule", "promtool check rules",
     sub("prometheus/rules/alerts.yml", r"expr: up == 0", "expr: up == (0"), "parse error"),
    ("alert that never fires in its test", "promtool test rules",
     edit_yaml("prometheus/rules/alerts.yml", _never_fires), "FAILED"),
    ("alert without a quiet test", "rule test coverage",
     edit_yaml("prometheus/tests/alerts_test.yml", _drop_quiet_cases),
     "has no rule unit test where it does not fire"),
    ("route to a missing receiver", "amtool check-config",
     sub("alertmanager/alertmanager.yml", r"^  receiver: team-emails", "  receiver: pager"),
     "undefined receiver"),
    ("bad logrotate directive", "logrotate -d",
     sub("logrotate/churn_prediction", r"^    daily$", "    daily\n    rotaet 7"),
     "unknown option 'rotaet'"),
    ("unquoted variable in a script", "shellcheck",
     append("backup/backup_db.sh", '\nrm -rf $1/old\n'), "SC2086"),
    ("ufw script without the DOCKER-USER block", "ufw in a container",
     sub("firewall/ufw.sh", r"^-A DOCKER-USER -j ufw-user-forward\n", ""),
     "DOCKER-USER must first jump to ufw-user-forward"),
    ("ufw private port open to anyone", "ufw in a container",
     sub("firewall/ufw.sh", r"from 10\.0\.0\.0/8 to any port 6379", "from any to any port 6379"),
     "unintended rule 6379/tcp ALLOW IN from any"),
    ("dashboard that is not JSON", "grafana provisioning", _bad_json, "not valid JSON"),
    ("panel query syntax error", "grafana queries (promtool)",
     _edit_json("*.json", _bad_panel_query), "unclosed left parenthesis"),
    ("workflow with an unknown key", "github-workflows schema",
     edit_yaml("ci/github-workflow.yml", lambda d: d["jobs"]["validate"].__setitem__("run-on", 1)),
     "vendor.github-workflows"),
]


@pytest.mark.parametrize(("check", "mutate", "expected"), [m[1:] for m in MUTATIONS],
                         ids=[m[0] for m in MUTATIONS])
def test_tool_check_catches(prod: Path, tmp_path: Path, check: str,
                            mutate: Callable[[Path], None], expected: str) -> None:
    root = tmp_path / "prod"
    shutil.copytree(prod, root)
    mutate(root)
    result = run_check(Context(plan(PROJECT.load("prod")), root), BY_NAME[check])
    assert result.status is Status.failed, f"{check}: {result.status} {result.messages()}"
    assert expected in "\n".join(result.messages())
    assert all(f.file for f in result.findings), "every finding names the generated file"


def test_every_tool_check_has_a_mutation() -> None:
    """A check that cannot fail is a defect (semantic ones: tests/unit/test_semantic.py)."""
    from infra_gen.validate.hardening import CHECKS as HARDENING
    from infra_gen.validate.semantic import CHECKS as SEMANTIC

    semantic = {c.name for c in (*SEMANTIC, *HARDENING)}
    assert {c.name for c in CHECKS} - semantic <= {m[1] for m in MUTATIONS}


def test_strict_turns_a_skip_into_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    report = validate(PROJECT, ["dev"], strict=False, checks=[BY_NAME["logrotate -d"]])
    monkeypatch.delenv("CI", raising=False)
    assert report.results[0].status in (Status.skipped, Status.failed)
    strict = validate(PROJECT, ["dev"], strict=True, checks=[BY_NAME["logrotate -d"]])
    assert strict.results[0].status is Status.failed
    assert "not installed" in strict.results[0].messages()[0]
