"""A service of one's own in the running stack: a tiny image built here from the base
image, added to the dev environment as one entry (image, route, port, metrics port
and path, health command, user), is routed by the load balancer, scraped on its own
metrics port and alerted on, with no template edit. The stack is put back as
generated afterwards (disruptive: runs after the other tests)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from stack_support import docker

from infra_gen.project import Project
from infra_gen.render import render_environment, write_tree
from infra_gen.stack.docker import docker_binary

pytestmark = pytest.mark.disruptive(3)

HERE = Path(__file__).resolve().parent
IMAGE = "infra-gen-test/billing:1"
ENTRY = """\
  billing:
    image: infra-gen-test/billing:1
    route: /billing/
    port: 9100
    metrics: {port: 9101, path: /internal/metrics}
    healthcheck: {command: [python3, -c, "import urllib.request as u; u.urlopen('http://127.0.0.1:9100/')"]}
    user: "20001:20001"
    depends_on: [redis]
"""


def _compose(project: str, env_dir: Path, *args: str) -> None:
    result = subprocess.run([docker_binary(), "compose", "-p", project, "-f",
                             str(env_dir / "compose.yaml"), *args], cwd=env_dir, text=True,
                            capture_output=True, timeout=300, check=False)
    assert result.returncode == 0, f"compose {' '.join(args)}: {result.stderr[-2000:]}"


def _prom(site, topo, path: str, **params: str) -> dict:
    r = site.get(f"{topo.route_prefix('prometheus')}/api/v1/{path}", params=params or None)
    assert r.status_code == 200, r.text[:300]
    return r.json()["data"]


def _wait(what: str, check, timeout: float = 90):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(2)
    return value


def test_own_service_is_routed_scraped_and_alerted_on(stack, topo, site, tmp_path):
    if topo.name != "dev":
        pytest.skip("adds a service to the dev environment")
    docker("build", "-q", "-t", IMAGE, str(HERE / "own_service"), timeout=600)
    root = tmp_path / "project"
    shutil.copytree(stack.project.root / "environments", root / "environments")
    dev = root / "environments" / "dev.yaml"
    dev.write_text(dev.read_text().replace("services:\n", "services:\n" + ENTRY, 1))
    # The secrets (and the TLS pair) are the running stack's: same relative path.
    (root / ".secrets").symlink_to(stack.project.root / ".secrets")
    env_dir = root / "generated" / "dev"
    write_tree(env_dir, render_environment(Project(root), "dev"))
    project = topo.compose_project
    try:
        # Only what the new entry changes: the service, nginx and Prometheus.
        _compose(project, env_dir, "up", "-d", "--wait", "--wait-timeout", "180", "--no-deps",
                 "billing", "lb", "prometheus")
        r = _wait("routed", lambda: (x := site.get("/billing/hello")).status_code == 200 and x)
        assert r.text.startswith("billing /billing/hello from "), r.text

        def scraped():  # type: ignore[no-untyped-def]
            active = _prom(site, topo, "targets", state="active")["activeTargets"]
            return [t for t in active if t["labels"]["job"] == "billing"
                    and t["health"] == "up"]

        (target,) = _wait("scraped", scraped)
        assert target["labels"]["instance"].startswith("billing@")
        assert target["scrapeUrl"].endswith(":9101/internal/metrics"), target["scrapeUrl"]

        def alerted():  # type: ignore[no-untyped-def]
            groups = _prom(site, topo, "rules", type="alert")["groups"]
            rules = [r for g in groups if g["name"] == "billing" for r in g["rules"]]
            return rules if rules and all(r["health"] == "ok" and r["lastEvaluation"]
                                          [:4] != "0001" for r in rules) else None

        rules = _wait("alert rules evaluated", alerted)
        assert {r["name"] for r in rules} == {"HighErrorRate", "HighLatency"}
        assert all("churn_" not in r["query"] for r in rules)
        # The target may have been scraped (and be up) before the routed request
        # counted anything: the series appears at the next scrape.
        _wait("the alert's metric has data", lambda: _prom(
            site, topo, "query", query='http_requests_total{job="billing"}')["result"])
    finally:
        _compose(project, env_dir, "rm", "--stop", "--force", "billing")
        _compose(project, stack.env_dir, "up", "-d", "--wait", "--wait-timeout", "180",
                 "--no-deps", "lb", "prometheus")
