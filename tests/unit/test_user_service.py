"""A service the user adds to the model reaches every artifact, with no template edit."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from infra_gen.project import Project
from infra_gen.render import render_environment

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        shutil.copytree(ROOT / "environments", project / "environments")
        shutil.copytree(ROOT / "templates", project / "templates")
        prod = project / "environments" / "prod.yaml"
        prod.write_text(prod.read_text().replace(
            "services:\n",
            "services:\n  reports: {role: api, route: /api/v2/, port: 8100, replicas: 2}\n", 1))
        rendered = render_environment(Project(project), "prod")
        return {path: f.content.decode() for path, f in rendered.items()}


def test_compose_runs_each_replica_hardened(files: dict[str, str]) -> None:
    services = yaml.safe_load(files["compose.yaml"])["services"]
    for name in ("reports-1", "reports-2"):
        svc = services[name]
        assert svc["image"].startswith("infra-gen/app:")
        assert svc["cap_drop"] == ["ALL"]
        assert svc["deploy"]["resources"]["limits"]["memory"]
        assert svc["logging"]["options"]["max-file"] == "7"  # the logrotate policy
        assert svc["environment"]["PORT"] == "8100"
    stack = yaml.safe_load(files["stack.yaml"])["services"]
    assert {"reports-1", "reports-2"} <= set(stack)


def test_load_balancer_routes_the_new_prefix_first(files: dict[str, str]) -> None:
    conf = files["nginx/nginx.conf"]
    block = conf[conf.index("upstream reports {"):]
    block = block[: block.index("}")]
    assert "server reports-1:8100 max_fails=3 fail_timeout=30s;" in block
    assert "server reports-2:8100 max_fails=3 fail_timeout=30s;" in block
    assert conf.index("location /api/v2/") < conf.index("location /api/ ")


def test_prometheus_scrapes_each_replica(files: dict[str, str]) -> None:
    config = yaml.safe_load(files["prometheus/prometheus.yml"])
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "reports"]
    targets = sorted(t for group in job["static_configs"] for t in group["targets"])
    assert targets == ["reports-1:8100", "reports-2:8100"]


def test_dashboards_and_runbook_name_it(files: dict[str, str]) -> None:
    dashboard = json.loads(files["grafana/dashboards/application.json"])
    assert any('job="reports"' in t.get("expr", "")
               for p in dashboard["panels"] for t in p.get("targets", []))
    assert "reports" in files["RUNBOOK.md"]
    assert "reports-1" in files["ARCHITECTURE.md"]
