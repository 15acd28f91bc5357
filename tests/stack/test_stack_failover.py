"""Failover: with one API replica stopped, the load balancer keeps answering from
the others (passive health checks, proxy_next_upstream); once it is back, it
serves again. Runs near the end (marker): it stops a container for a while."""

from __future__ import annotations

import time

import pytest
from stack_support import docker

pytestmark = pytest.mark.disruptive(1)


def _api_pool(topo):
    pools = [p for p in topo.upstreams if p.health_path == "/health/"]
    return pools[0] if pools else None


def test_api_failover_and_recovery(site, topo, stack, replica_ids):
    pool = _api_pool(topo)
    if pool is None or pool.replicas < 2:
        pytest.skip("fewer than two API replicas: no failover to check")
    if not topo.env.load_balancer.replica_header:
        pytest.skip("load_balancer.replica_header is off: replicas are not named")
    ids = replica_ids(pool.service)
    victim = ids[-1]
    hosts = {cid[:12] for cid in ids}
    path = pool.route.rstrip("/") + "/customers?per_page=1"
    docker("stop", "--time", "30", victim)
    try:
        served = set()
        for _ in range(4 * pool.replicas):
            r = site.get(path)
            assert r.status_code == 200, f"{r.status_code} with {victim} stopped: {r.text[:200]}"
            served.add(r.headers.get("X-Served-By"))
        assert victim[:12] not in served and served <= hosts, served
    finally:
        docker("start", victim)
        stack.compose("up", "-d", "--wait", "--wait-timeout", "120", pool.service, capture=True)
    # Back in the pool (after fail_timeout at most, if nginx marked it failed): the
    # container kept its address, so nginx's resolved upstream still holds it.
    deadline = time.monotonic() + 45
    served = set()
    while victim[:12] not in served:
        r = site.get(path)
        assert r.status_code == 200, r.text[:200]
        served.add(r.headers.get("X-Served-By"))
        assert time.monotonic() < deadline, f"{victim} not served again after restart: {served}"
