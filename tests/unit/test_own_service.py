"""A service with its own image is one more entry of the roles table: every artifact
follows from its entry, none of the bundled app's wiring leaks into it, and the
cross-artifact checks catch a scrape port it does not serve.

The environment is the held-out shape: 5 API replicas, a user service with its own
route and metrics port, no PostgreSQL replica, private range 192.168.0.0/16."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from mutations import sub
from pydantic import ValidationError

from infra_gen.artifacts.compose import document
from infra_gen.errors import InfraGenError
from infra_gen.model import Environment
from infra_gen.project import Project
from infra_gen.render import render_environment, write_tree
from infra_gen.topology import WRITABLE_ROOT_LABEL, plan
from infra_gen.validate import Context, Status, run_check
from infra_gen.validate.hardening import CHECKS as HARDENING
from infra_gen.validate.semantic import CHECKS as SEMANTIC

ROOT = Path(__file__).resolve().parents[2]

BILLING = """\
  billing:
    image: acme/billing:1.4.2
    command: [billing-server, --port, "9100"]
    replicas: 2
    route: /billing/
    port: 9100
    metrics: {port: 9101, path: /internal/metrics}
    healthcheck: {command: [billing-server, --check]}
    user: "20001:20001"
    tmpfs: [/var/cache/billing]
    environment: {BILLING_CURRENCY: EUR}
    secrets: [billing_api_key]
    volumes: [{name: billing-ledger, target: /var/lib/billing, backup: true}]
    depends_on: [redis]
    capabilities: [{name: NET_BIND_SERVICE, reason: binds the legacy port 443 inside}]
"""
HELD_OUT = f"""\
extends: base
name: heldout
domain: heldout.example.com
services:
  api: {{replicas: 5}}
{BILLING}postgres: {{replicas: 0}}
firewall: {{public_ports: [80, 443], private_cidr: 192.168.0.0/16}}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("own")
    shutil.copytree(ROOT / "environments", root / "environments")
    (root / "environments" / "heldout.yaml").write_text(HELD_OUT)
    return Project(root)


@pytest.fixture(scope="module")
def tree(project: Project, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("heldout") / "heldout"
    write_tree(out, render_environment(project, "heldout"))
    return out


def _yaml(tree: Path, rel: str) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((tree / rel).read_text())


def test_compose_runs_its_own_image_and_nothing_of_the_bundled_app(tree: Path) -> None:
    svc = _yaml(tree, "compose.yaml")["services"]["billing"]
    assert svc["image"] == "acme/billing:1.4.2"
    assert svc["command"] == ["billing-server", "--port", "9100"]
    assert svc["user"] == "20001:20001" and svc["read_only"] is True
    # Its own directory is its user's (a tmpfs is root's otherwise).
    assert svc["tmpfs"] == ["/tmp", "/var/cache/billing:uid=20001,gid=20001"]
    assert "labels" not in svc
    assert svc["cap_drop"] == ["ALL"] and svc["cap_add"] == ["NET_BIND_SERVICE"]
    assert svc["deploy"]["replicas"] == 2
    assert svc["expose"] == ["9100", "9101"]
    assert svc["healthcheck"]["test"] == ["CMD", "billing-server", "--check"]
    assert svc["environment"] == {"LOG_LEVEL": "info", "BILLING_CURRENCY": "EUR"}
    assert svc["secrets"] == ["billing_api_key"]
    assert svc["depends_on"] == {"redis": {"condition": "service_healthy"}}
    assert {"type": "volume", "source": "billing-ledger", "target": "/var/lib/billing",
            "read_only": False} in svc["volumes"]
    api = _yaml(tree, "compose.yaml")["services"]["api"]
    assert api["deploy"]["replicas"] == 5
    assert "postgres-replica" not in _yaml(tree, "compose.yaml")["services"]


def test_routed_and_scraped_where_it_really_serves(tree: Path) -> None:
    conf = (tree / "nginx/nginx.conf").read_text()
    assert "server billing:9100 max_fails=3 fail_timeout=30s;" in conf
    assert "location /billing/ {" in conf
    (job,) = [j for j in _yaml(tree, "prometheus/prometheus.yml")["scrape_configs"]
              if j["job_name"] == "billing"]
    assert job["metrics_path"] == "/internal/metrics"
    assert job["dns_sd_configs"][0]["names"] == ["billing"]
    assert job["dns_sd_configs"][0]["port"] == 9101


def test_generic_alerts_and_dashboard_row_not_the_bundled_app_s(tree: Path) -> None:
    groups = {g["name"]: g["rules"] for g in _yaml(tree, "prometheus/rules/alerts.yml")["groups"]}
    rules = {r["alert"]: r["expr"] for r in groups["billing"]}
    assert set(rules) == {"HighErrorRate", "HighLatency"}
    assert all("http_re" in e and "churn_" not in e for e in rules.values())
    assert 'job="billing"' in rules["HighErrorRate"]
    tests = _yaml(tree, "prometheus/tests/alerts_test.yml")["tests"]
    assert {t["name"] for t in tests} >= {"billing HighErrorRate fires",
                                          "billing HighLatency stays quiet"}
    dashboard = json.loads((tree / "grafana/dashboards/application.json").read_text())
    assert "Service: billing" in [p["title"] for p in dashboard["panels"] if p["type"] == "row"]


def test_flagged_volume_is_backed_up_and_docs_name_the_service(tree: Path) -> None:
    script = (tree / "backup/backup_volumes.sh").read_text()
    assert "VOLUMES=(churn-prediction-heldout_billing-ledger)" in script
    assert "backup_volumes.sh" in (tree / "backup/crontab").read_text()
    assert "| billing | 2 | `acme/billing:1.4.2` |" in (tree / "RUNBOOK.md").read_text()
    assert 'n_lb -->|"/billing/ :9100"| n_billing' in (tree / "ARCHITECTURE.md").read_text()
    assert "BILLING_API_KEY=" in (tree / "env.example").read_text()


def _check(project: Project, root: Path, name: str):  # type: ignore[no-untyped-def]
    checks = {c.name: c for c in (*SEMANTIC, *HARDENING)}
    return run_check(Context(plan(project.load("heldout")), root), checks[name])


def test_every_cross_artifact_check_passes(project: Project, tree: Path) -> None:
    for check in (*SEMANTIC, *HARDENING):
        result = run_check(Context(plan(project.load("heldout")), tree), check)
        assert result.status is Status.passed, (check.name, result.messages())


def test_a_scrape_port_the_service_does_not_serve_is_caught(
    project: Project, tree: Path, tmp_path: Path
) -> None:
    root = tmp_path / "heldout"
    shutil.copytree(tree, root)
    sub("prometheus/prometheus.yml", r"port: 9101", "port: 9102")(root)
    result = _check(project, root, "scrape targets are services")
    assert result.status is Status.failed
    assert "billing:9102, but service billing exposes [9100, 9101]" in "\n".join(result.messages())


BAD = [
    ("image: acme/billing:latest", "must be pinned, not latest"),
    ("image: acme/billing", "image: expected text matching"),
    ('user: "0:0"', "never runs as root"),
    ("healthcheck: {path: /h, command: [x]}", "give exactly one of path or command"),
    ("depends_on: [ledger]", "depends_on: 'ledger' is not another service"),
]


@pytest.mark.parametrize(("line", "expected"), BAD)
def test_bad_own_service_is_one_located_line(project: Project, line: str, expected: str) -> None:
    key = line.split(":", 1)[0]
    body = "\n".join(f"    {line}" if ln.strip().startswith(f"{key}:") else ln
                     for ln in BILLING.splitlines())
    path = project.root / "environments" / "bad.yaml"
    path.write_text(HELD_OUT.replace(BILLING, body + "\n").replace("name: heldout", "name: bad"))
    try:
        with pytest.raises(InfraGenError) as err:
            project.load("bad")
    finally:
        path.unlink()
    assert expected in str(err.value)
    assert "services.billing" in str(err.value)


def test_a_writable_root_needs_its_reason_and_shows_it(project: Project) -> None:
    """Every container is read-only unless its entry says why; the reason becomes a
    label the stack test reads back from `docker inspect`."""
    env = project.load("heldout").model_dump(by_alias=True)
    env["services"]["billing"]["writable_root"] = {"reason": "the vendor image unpacks itself at start"}
    env["services"]["worker"]["writable_root"] = {"reason": "celery writes its state file"}
    topo = plan(Environment.model_validate(env))
    doc = document(topo, swarm=False)["services"]
    for name in ("billing", "worker"):
        assert "read_only" not in doc[name]
        assert doc[name]["labels"][WRITABLE_ROOT_LABEL] == env["services"][name]["writable_root"]["reason"]
    readonly = [n for n, s in doc.items() if s.get("read_only") is True]
    assert sorted(readonly) == sorted(set(doc) - {"billing", "worker"})
    env["services"]["worker"]["writable_root"] = {"reason": "short"}
    with pytest.raises(ValidationError, match="at least 10 characters"):
        Environment.model_validate(env)


def test_swarm_gets_tmpfs_as_mounts(project: Project) -> None:
    """`docker stack deploy` ignores a service's `tmpfs:`; a tmpfs mount it makes."""
    topo = plan(project.load("heldout"))
    billing = document(topo, swarm=True)["services"]["billing"]
    assert "tmpfs" not in billing and billing["read_only"] is True
    assert [v for v in billing["volumes"] if v["type"] == "tmpfs"] == [
        {"type": "tmpfs", "target": "/tmp"}, {"type": "tmpfs", "target": "/var/cache/billing"}]
