"""Real-tool validation: every environment passes `validate --strict`, and each tool
check catches a deliberately broken artifact with the tool's own message."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mutations import append, edit_compose, edit_yaml, include_service, sub

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
    ("mtail program syntax error", "mtail --compile_only",
     sub("mtail/lb_access.mtail", r"\+\+\n\}\n\Z", "++\n"), "syntax error"),
    ("nginx access line out of step with the mtail program", "mtail counts nginx's access lines",
     sub("nginx/nginx.conf", r"request_time=\$request_time", "rt=$request_time"),
     "did not count nginx's access line"),
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
     sub("firewall/ufw.sh", r"^    '-A DOCKER-USER -j ufw-user-forward'\n", ""),
     "DOCKER-USER must first jump to ufw-user-forward"),
    ("ufw private port open to anyone", "ufw in a container",
     sub("firewall/ufw.sh", r"^rule allow 10\.0\.0\.0/8 6379 ", "rule allow any 6379 "),
     "unintended rule 6379/tcp ALLOW IN from any"),
    ("ufw script without its rollback", "ufw in a container",
     sub("firewall/ufw.sh", r"""^trap 'rollback "\$step"' ERR\n""", ""),
     "left other rules than before (no rollback)"),
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
    """A check that cannot fail is a defect (semantic ones: tests/unit/test_semantic.py;
    the stack.yaml ones: tests/unit/test_swarm_placement.py)."""
    from infra_gen.validate.hardening import CHECKS as HARDENING
    from infra_gen.validate.semantic import CHECKS as SEMANTIC
    from infra_gen.validate.swarm import CHECKS as SWARM

    semantic = {c.name for c in (*SEMANTIC, *HARDENING, *SWARM)}
    assert {c.name for c in CHECKS} - semantic <= {m[1] for m in MUTATIONS}


def test_strict_turns_a_skip_into_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing tool is a skip; --strict, or CI=true without it, makes that skip a failure."""
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("CI", raising=False)
    checks = [BY_NAME["logrotate -d"]]
    report = validate(PROJECT, ["dev"], strict=False, checks=checks)
    assert report.results[0].status is Status.skipped, report.results[0].messages()
    strict = validate(PROJECT, ["dev"], strict=True, checks=checks)
    assert strict.results[0].status is Status.failed
    assert "not installed" in strict.results[0].messages()[0]
    monkeypatch.setenv("CI", "true")
    under_ci = validate(PROJECT, ["dev"], strict=False, checks=checks)
    assert under_ci.strict and under_ci.results[0].status is Status.failed
    assert "a failure under --strict/CI" in under_ci.results[0].messages()[0]


def _extends_included(root: Path) -> None:
    include_service()(root)  # writes included.yaml; the include: itself goes again
    edit_yaml("compose.yaml", lambda d: d.pop("include"))(root)
    edit_compose(lambda s: s["api"].__setitem__(
        "extends", {"file": "included.yaml", "service": "evil"}))(root)


@pytest.mark.parametrize(("mutate", "expected"), [
    (include_service(), ["services.evil.privileged: must not be privileged",
                         "services.evil.volumes: mounts the host path /, which the model does "
                         "not plan for evil", "services.evil.user: runs as 0:0"]),
    (_extends_included, ["services.api.privileged: must not be privileged",
                         "services.api.volumes: mounts the host path /"]),
], ids=["include", "extends"])
def test_hardening_reads_docker_compose_config(prod: Path, tmp_path: Path,
                                               mutate: Callable[[Path], None],
                                               expected: list[str]) -> None:
    """The real `docker compose config` path: a privileged service mounting / that an
    include: (or an extends: from another file) brings in is caught by the hardening check,
    and the include:/extends: itself by `compose self-contained`."""
    from infra_gen.validate import parse

    root = tmp_path / "prod"
    shutil.copytree(prod, root)
    mutate(root)
    ctx = Context(plan(PROJECT.load("prod")), root)
    if parse.normalized_compose(ctx) is None:
        pytest.skip("docker compose config cannot run here (docker CLI with the compose plugin)")
    result = run_check(ctx, BY_NAME["services hardened"])
    messages = "\n".join(result.messages())
    assert result.status is Status.failed
    for want in expected:
        assert want in messages, messages
    refused = run_check(Context(plan(PROJECT.load("prod")), root), BY_NAME["compose self-contained"])
    assert refused.status is Status.failed and "the model has no way to ask for" in \
        "\n".join(refused.messages())
