"""Facts the planner computes once and writes into commands and environments from:
the typed field and what the container is given agree, and artifacts read the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra_gen.model import Environment
from infra_gen.project import Project
from infra_gen.topology import Link, plan
from infra_gen.topology.plan import APP_MODEL_DIR

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Project(ROOT)
ENVS = ["dev", "staging", "prod"]


def with_replicas(name: str, replicas: int) -> Environment:
    env = PROJECT.load(name)
    return env.model_copy(update={"postgres": env.postgres.model_copy(update={"replicas": replicas})})


@pytest.mark.parametrize("name", ENVS)
@pytest.mark.parametrize(("kind", "prefix"), [("prometheus", "/prometheus"),
                                              ("alertmanager", "/alertmanager")])
def test_route_prefix_is_the_flag_the_container_runs_with(name: str, kind: str, prefix: str) -> None:
    topo = plan(PROJECT.load(name))
    c = topo.of_kind(kind)[0]
    assert topo.route_prefix(kind) == c.route_prefix == prefix
    assert f"--web.route-prefix={prefix}" in c.command
    assert f"--web.external-url={topo.base_url}{prefix}/" in c.command
    assert c.healthcheck.test[-1].endswith(f"{prefix}/-/healthy")
    (job,) = [j for j in topo.scrape_jobs if j.service == c.name]
    assert job.metrics_path == f"{prefix}/metrics"


@pytest.mark.parametrize("name", ENVS)
def test_admin_urls_and_grafanas_root_url_are_the_route_prefixes(name: str) -> None:
    topo = plan(PROJECT.load(name))
    admin = topo.of_kind("prometheus", "alertmanager", "grafana")
    assert {c.kind: f"{topo.base_url}{c.route_prefix}/" for c in admin} == \
        {k: v for k, v in topo.urls.items() if k not in ("site", "api")}
    for c in topo.of_kind("grafana"):
        assert c.route_prefix == "/grafana"
        assert dict(c.environment)["GF_SERVER_ROOT_URL"] == topo.urls["grafana"]


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_replication_is_one_field_the_env_is_built_from(name: str) -> None:
    topo = plan(with_replicas(name, 1))
    repl = topo.replication
    assert repl is not None
    primary = dict(topo.container(repl.primary).environment)
    assert (primary["REPLICATION_USER"], primary["REPLICATION_SLOT"]) == (repl.user, repl.slot)
    assert primary["REPLICATION_PASSWORD_FILE"].endswith(f"/{repl.password_secret}")
    replica = topo.container(repl.replica)
    assert dict(replica.environment)["PRIMARY_HOST"] == repl.primary
    assert Link(repl.primary, "replication") in replica.links
    assert repl.password_secret in topo.secrets
    assert plan(with_replicas(name, 0)).replication is None


def test_the_replication_field_reaches_the_rendered_files() -> None:
    # Changing the field changes what every artifact says (none re-reads the env).
    from dataclasses import replace

    from infra_gen.render import render_topology
    topo = plan(with_replicas("prod", 1))
    assert topo.replication is not None
    moved = replace(topo, replication=replace(topo.replication, slot="slot_x", user="repl_x"))
    files = {k: v.content.decode() for k, v in render_topology(moved, PROJECT.templates_dir).items()}
    assert "slot_x" in files["postgres/postgresql.conf"]
    assert '"repl_x"' in files["postgres/pg_hba.conf"]
    assert "slot_x" in files["RUNBOOK.md"]
    assert 'slot_name="slot_x"' in files["prometheus/rules/alerts.yml"]


def test_model_dir_is_the_apps_default_or_the_ml_services_override() -> None:
    config = (ROOT / "services/app/churn/config.py").read_text()
    assert f'DEFAULT_MODEL_DIR = "{APP_MODEL_DIR}"' in config
    env = PROJECT.load("dev")
    assert plan(env).model_dir == APP_MODEL_DIR
    ml = next(n for n, s in env.services.items() if env.role_of(n) is not None
              and env.role_of(n).value == "ml")  # type: ignore[union-attr]
    svc = env.services[ml].model_copy(update={"environment": {"MODEL_DIR": "/srv/model"}})
    moved = env.model_copy(update={"services": {**env.services, ml: svc}})
    assert plan(moved).model_dir == "/srv/model"


@pytest.mark.parametrize("name", ENVS)
def test_scrape_jobs_carry_their_kind_and_what_an_exporter_watches(name: str) -> None:
    topo = plan(PROJECT.load(name))
    for job in topo.scrape_jobs:
        c = topo.container(job.service)
        assert job.kind == c.kind
        assert (job.alerts, job.dashboard) == ((c.alerts, c.dashboard) if c.scalable else ((), ()))
        assert job.port in (c.expose or (c.port,))
    _, primary = topo.postgres_jobs()
    assert primary is not None and primary.watches == "postgres"
    watched = {j.service: j.watches for j in topo.jobs_of_kind("postgres-exporter", "redis-exporter",
                                                                 "nginx-exporter", "node-exporter")}
    assert watched["redis-exporter"] == "redis"
    assert watched["nginx-exporter"] == "lb"
    assert watched["node-exporter"] is None


@pytest.mark.parametrize("name", ENVS)
def test_links_point_at_containers(name: str) -> None:
    topo = plan(PROJECT.load(name))
    names = {c.name for c in topo.containers}
    for c in topo.containers:
        assert all(link.target in names for link in c.links), c.name
    api = topo.of_kind("api")[0]
    assert [link.target for link in api.links][:2] == ["postgres", "redis"]


def test_grafana_reads_the_dashboards_dir_it_is_mounted_at() -> None:
    topo = plan(PROJECT.load("prod"))
    grafana = topo.of_kind("grafana")
    targets = {m.target.rsplit("/", 1)[0] for m in grafana[0].mounts if m.target.endswith(".json")} \
        if grafana else {topo.grafana_dashboards_dir}
    assert targets == {topo.grafana_dashboards_dir}
