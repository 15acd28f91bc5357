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
        prod = project / "environments" / "prod.yaml"
        prod.write_text(prod.read_text().replace(
            "services:\n",
            "services:\n  reports: {role: api, route: /api/v2/, port: 8100, replicas: 2}\n", 1))
        rendered = render_environment(Project(project), "prod")
        return {path: f.content.decode() for path, f in rendered.items()}


def test_compose_runs_one_hardened_service_with_its_replicas(files: dict[str, str]) -> None:
    services = yaml.safe_load(files["compose.yaml"])["services"]
    svc = services["reports"]
    assert svc["deploy"]["replicas"] == 2
    assert svc["image"].startswith("infra-gen/app:")
    assert svc["cap_drop"] == ["ALL"]
    assert svc["deploy"]["resources"]["limits"]["memory"]
    assert svc["logging"]["options"]["max-file"] == "7"  # the logrotate policy
    assert svc["environment"]["PORT"] == "8100"
    stack = yaml.safe_load(files["stack.yaml"])["services"]
    assert stack["reports"]["deploy"]["replicas"] == 2


def test_load_balancer_routes_the_new_prefix_first(files: dict[str, str]) -> None:
    conf = files["nginx/nginx.conf"]
    block = conf[conf.index("upstream reports {"):]
    block = block[: block.index("}")]
    assert "server reports:8100 max_fails=3 fail_timeout=30s;" in block
    assert conf.index("location /api/v2/") < conf.index("location /api/ ")


def test_prometheus_finds_each_replica(files: dict[str, str]) -> None:
    for path, name in (("prometheus/prometheus.yml", "reports"),
                       ("prometheus/prometheus.swarm.yml", "tasks.reports")):
        config = yaml.safe_load(files[path])
        (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "reports"]
        (sd,) = job["dns_sd_configs"]
        assert (sd["names"], sd["port"]) == ([name], 8100)


def test_dashboards_and_runbook_name_it(files: dict[str, str]) -> None:
    dashboard = json.loads(files["grafana/dashboards/application.json"])
    assert any('job="reports"' in t.get("expr", "")
               for p in dashboard["panels"] for t in p.get("targets", []))
    assert "reports" in files["RUNBOOK.md"]
    assert "n_reports" in files["ARCHITECTURE.md"]
