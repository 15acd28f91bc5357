"""Topology facts: derived once, consistent across artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra_gen.model import Environment
from infra_gen.project import Project
from infra_gen.topology import BACKEND_NET, FRONTEND_NET, plan

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Project(ROOT)


def topo_of(name: str):  # type: ignore[no-untyped-def]
    return plan(PROJECT.load(name))


def test_prod_has_the_seed_upstreams_and_workers() -> None:
    topo = topo_of("prod")
    (api,) = [u for u in topo.upstreams if u.service == "api"]
    assert (api.replicas, topo.container("api").replicas) == (3, 3)
    assert topo.container("worker").replicas == 3
    assert topo.env.load_balancer.upstream.max_fails == 3
    assert topo.env.load_balancer.upstream.fail_timeout == "30s"
    api1 = topo.container("api")
    assert (api1.resources.limits.cpus, api1.resources.limits.memory) == (2, "4G")
    assert api1.resources.reservations is not None
    assert (api1.resources.reservations.cpus, api1.resources.reservations.memory) == (1, "2G")


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_upstream_members_and_scrape_targets_are_containers(name: str) -> None:
    topo = topo_of(name)
    names = {c.name: c for c in topo.containers}
    lb = names["lb"]
    for pool in topo.upstreams:
        assert pool.service in names
        assert set(names[pool.service].networks) & set(lb.networks)
        assert names[pool.service].port == pool.port
        assert pool.port in names[pool.service].expose
    for job in topo.scrape_jobs:
        assert job.service in names, job
        assert job.port in names[job.service].expose or job.port == names[job.service].port


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_only_the_load_balancer_publishes_ports(name: str) -> None:
    topo = topo_of(name)
    publishing = [c.name for c in topo.containers if c.published]
    assert publishing == ["lb"]
    ports = {p.host_port for p in topo.container("lb").published}
    assert ports == set(topo.env.firewall.public_ports)


def test_data_tier_is_only_on_the_backend_network() -> None:
    topo = topo_of("prod")
    for name in ("postgres", "postgres-replica", "redis"):
        assert topo.container(name).networks == (BACKEND_NET,)
    assert FRONTEND_NET in topo.container("lb").networks


def test_stop_grace_period_outlasts_gunicorn_graceful_timeout() -> None:
    topo = topo_of("prod")
    for c in topo.of_kind("api", "ml"):
        graceful = int(dict(c.environment)["GUNICORN_GRACEFUL_TIMEOUT"])
        assert int(c.stop_grace_period.rstrip("s")) > graceful


def test_a_user_service_gets_every_derived_fact() -> None:
    data = PROJECT.load("prod").model_dump(by_alias=True)
    data["services"]["reports"] = {"role": "api", "route": "/api/v2/", "replicas": 2, "port": 8100}
    topo = plan(Environment.model_validate(data))
    assert topo.container("reports").replicas == 2
    (pool,) = [u for u in topo.upstreams if u.service == "reports"]
    assert pool.route == "/api/v2/" and pool.port == 8100
    # The longer route must come before /api/ so nginx matches it first.
    routes = [u.route for u in topo.upstreams]
    assert routes.index("/api/v2/") < routes.index("/api/")
    (job,) = [j for j in topo.scrape_jobs if j.job == "reports"]
    assert (job.service, job.port, job.discovered) == ("reports", 8100, True)


def test_secrets_are_exactly_what_containers_mount() -> None:
    topo = topo_of("prod")
    mounted = {s for c in topo.containers for s in c.secrets}
    assert set(topo.secrets) == mounted
    assert "smtp_password" in topo.secrets and "grafana_admin_password" in topo.secrets
    assert "grafana_admin_password" not in topo_of("dev").secrets


def test_dev_keeps_what_cannot_run_here_off() -> None:
    kinds = {c.kind for c in topo_of("dev").containers}
    assert "grafana" not in kinds and "fluentd" not in kinds
    assert {"postgres-replica", "prometheus", "alertmanager", "lb"} <= kinds
