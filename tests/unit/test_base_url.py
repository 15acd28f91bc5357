"""One public base URL: scheme from the TLS mode, the port only when not the default,
read by Prometheus, Alertmanager and Grafana as well as the URLs the docs print."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra_gen.model import Environment, TlsMode
from infra_gen.project import Project
from infra_gen.topology import plan
from infra_gen.topology.facts import public_base_url

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Project(ROOT)


def variant(mode: TlsMode, http_port: int, https_port: int) -> Environment:
    env = PROJECT.load("dev")
    return env.model_copy(update={
        "tls": env.tls.model_copy(update={"mode": mode}),
        "load_balancer": env.load_balancer.model_copy(update={"http_port": http_port,
                                                               "https_port": https_port}),
    })


@pytest.mark.parametrize(("mode", "http_port", "https_port", "expected"), [
    (TlsMode.self_signed, 8080, 8443, "https://churn.localhost:8443"),
    (TlsMode.self_signed, 80, 443, "https://churn.localhost"),
    (TlsMode.certbot, 8080, 443, "https://churn.localhost"),
    (TlsMode.none, 80, 8443, "http://churn.localhost"),
    (TlsMode.none, 8080, 443, "http://churn.localhost:8080"),
])
def test_scheme_from_tls_and_port_only_when_not_default(mode: TlsMode, http_port: int, https_port: int,
                                                        expected: str) -> None:
    assert public_base_url(variant(mode, http_port, https_port)) == expected


@pytest.mark.parametrize(("mode", "http_port", "https_port"), [
    (TlsMode.self_signed, 8080, 8443),
    (TlsMode.none, 8080, 8443),
])
def test_every_absolute_url_starts_with_the_base(mode: TlsMode, http_port: int, https_port: int) -> None:
    topo = plan(variant(mode, http_port, https_port))
    base = topo.base_url
    external = [arg.split("=", 1)[1] for c in topo.containers for arg in c.command
                if arg.startswith("--web.external-url=")]
    assert sorted(external) == [f"{base}/alertmanager/", f"{base}/prometheus/"]
    assert all(url.startswith(f"{base}/") for url in topo.urls.values()), topo.urls
    for c in topo.containers:
        root_url = dict(c.environment).get("GF_SERVER_ROOT_URL")
        assert root_url is None or root_url == f"{base}/grafana/"


def test_dev_links_carry_its_port() -> None:
    topo = plan(PROJECT.load("dev"))
    assert topo.base_url == "https://churn.localhost:8443"
    assert f"--web.external-url={topo.base_url}/prometheus/" in topo.container("prometheus").command
