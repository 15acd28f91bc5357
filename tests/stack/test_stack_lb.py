"""The load balancer: non-root nginx, valid config, HTTPS only, headers, health through
it, and balancing over every API replica (from the topology). Its TLS (versions,
suites, groups, certificate) is scanned by sslyze in test_stack_tls.py."""

from __future__ import annotations

from collections import Counter

import pytest
import requests
from stack_support import docker

from infra_gen.topology import PORTS

SECURITY_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
                    "Content-Security-Policy")


def test_nginx_processes_are_not_root(container_ids, topo):
    lb = topo.container("lb")
    expected_uid = lb.user.split(":")[0]
    rows = [r.split(None, 1)[1] for r in
            docker("top", container_ids["lb"], "-eo", "pid,uid,args").splitlines()[1:]]
    masters = [r for r in rows if "nginx: master" in r]
    workers = [r for r in rows if "nginx: worker" in r]
    assert masters and workers, rows
    for row in rows:
        assert row.split()[0] == expected_uid, f"lb process not run as {expected_uid}: {row}"


def test_nginx_config_test_passes(host):
    result = host("lb").run("nginx -t")
    assert result.rc == 0, result.stderr
    assert "test is successful" in result.stderr


def test_http_redirects_to_https(site):
    if not site.tls:
        pytest.skip("tls: none in this environment")
    r = requests.get(site.http_base + "/some/page?x=1", headers={"Host": site.domain},
                     allow_redirects=False, timeout=10)
    assert r.status_code in (301, 308), r.status_code
    assert r.headers["Location"].startswith(f"https://{site.domain}")
    assert r.headers["Location"].endswith("/some/page?x=1")


def test_hsts_and_security_headers(site):
    r = site.get("/")
    assert r.status_code == 200
    if site.tls:
        hsts = r.headers.get("Strict-Transport-Security", "")
        assert "max-age=" in hsts and int(hsts.split("max-age=")[1].split(";")[0]) >= 15552000
    for name in SECURITY_HEADERS:
        assert name in r.headers, f"missing {name}"
    assert "nginx/" not in r.headers.get("Server", ""), "server version disclosed"


def test_health_through_load_balancer(site):
    r = site.get("/health/")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok"


def test_requests_reach_every_api_replica(site, topo, replica_ids):
    if not topo.env.load_balancer.replica_header:
        pytest.skip("load_balancer.replica_header is off: replicas are not named")
    for pool in topo.upstreams:
        if pool.health_path != "/health/":
            continue
        hosts = {cid[:12] for cid in replica_ids(pool.service)}
        assert len(hosts) == pool.replicas
        seen = Counter()
        path = pool.route.rstrip("/") + "/customers?per_page=1"
        for _ in range(6 * pool.replicas):
            r = site.get(path)
            assert r.status_code == 200, r.text
            seen[r.headers.get("X-Served-By")] += 1
        assert set(seen) == hosts, f"{pool.service}: served by {dict(seen)}, replicas {hosts}"


def test_frontend_served(site, topo):
    if not topo.of_kind("frontend"):
        pytest.skip("no frontend in this environment")
    r = site.get("/")
    assert r.status_code == 200
    assert "<html" in r.text.lower()


def test_published_ports_are_the_topology_s(inspect, topo):
    lb = topo.container("lb")
    ports = inspect("lb")["HostConfig"]["PortBindings"] or {}
    got = sorted((b["HostIp"], int(b["HostPort"]), int(k.split("/")[0]))
                 for k, v in ports.items() for b in v)
    want = sorted((p.host_ip, p.host_port, p.container_port) for p in lb.published)
    assert got == want
    assert {PORTS["lb_http"]} <= {p.container_port for p in lb.published}
