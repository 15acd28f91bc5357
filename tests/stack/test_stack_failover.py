"""Failover: with one API replica stopped, the load balancer keeps answering from
the others (passive health checks, proxy_next_upstream); once it is back, it
serves again. Runs near the end (marker): it stops a container for a while."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.disruptive(1)


def _api_pool(topo):
    pools = [p for p in topo.upstreams if p.health_path == "/health/"]
    return pools[0] if pools else None


def test_api_failover_and_recovery(site, topo, stack):
    pool = _api_pool(topo)
    if pool is None or len(pool.members) < 2:
        pytest.skip("fewer than two API replicas: no failover to check")
    victim = pool.members[-1]
    path = pool.route.rstrip("/") + "/customers?per_page=1"
    stack.compose("stop", "--timeout", "30", victim, capture=True)
    try:
        served = set()
        for _ in range(4 * len(pool.members)):
            r = site.get(path)
            assert r.status_code == 200, f"{r.status_code} with {victim} stopped: {r.text[:200]}"
            served.add(r.headers.get("X-Served-By"))
        assert victim not in served and served <= set(pool.members), served
    finally:
        stack.compose("up", "-d", "--wait", "--wait-timeout", "120", victim, capture=True)
    # Back in the pool (after fail_timeout at most, if nginx marked it failed).
    deadline = time.monotonic() + 45
    served = set()
    while victim not in served:
        r = site.get(path)
        assert r.status_code == 200, r.text[:200]
        served.add(r.headers.get("X-Served-By"))
        assert time.monotonic() < deadline, f"{victim} not served again after restart: {served}"
