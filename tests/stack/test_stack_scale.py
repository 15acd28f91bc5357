"""Scaling with no re-render: the API goes from its planned replicas to one more and
back under paced load; the new replica takes traffic and is scraped, and not one
request fails. Disruptive: it changes the running stack
(and leaves it at the planned count)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from stack_support import PacedLoad, Site, docker

from infra_gen.model import TlsMode
from infra_gen.stack.scale import scale

pytestmark = pytest.mark.disruptive(4)


@pytest.fixture()
def api_pool(topo):
    pools = [p for p in topo.upstreams if p.health_path == "/health/" and p.replicas]
    if not pools:
        pytest.skip("no API pool")
    if not topo.env.load_balancer.replica_header:
        pytest.skip("load_balancer.replica_header is off: replicas are not named")
    return pools[0]


@pytest.fixture()
def load(stack, topo, api_pool) -> Iterator[PacedLoad]:
    # Its own client (session and pacing), apart from the test's own requests.
    own = Site(topo, stack.secrets / "tls" / "fullchain.pem"
               if topo.env.tls.mode is TlsMode.self_signed else None)
    lo = PacedLoad(own, api_pool.route.rstrip("/") + "/customers?per_page=1")
    thread = threading.Thread(target=lo.run, daemon=True)
    thread.start()
    yield lo
    lo.stop.set()
    thread.join(timeout=30)


def _scraped(prom_targets, service: str, port: int, ips: set[str]) -> bool:
    want = {f"{service}@{ip}:{port}" for ip in ips}
    return any(t["labels"].get("instance") in want and t["health"] == "up" for t in prom_targets)


def test_scale_api_up_and_back_under_load(stack, topo, site, api_pool, load, replica_ids):
    planned = api_pool.replicas
    before = set(replica_ids(api_pool.service))
    time.sleep(3)  # some traffic before
    t0 = time.monotonic()
    try:
        timings = scale(stack, {api_pool.service: planned + 1}, lambda _m: None)
        (new,) = set(replica_ids(api_pool.service)) - before
        deadline = time.monotonic() + 30
        while load.first_from(new[:12]) is None:
            assert time.monotonic() < deadline, "the new replica took no traffic in 30 s"
            time.sleep(0.2)
        took = load.first_from(new[:12])
        assert took is not None
        print(f"\nscale {planned}->{planned + 1}: compose {timings['scaled']:.1f} s, "
              f"reloaded {timings['reloaded']:.1f} s, first request served by the new "
              f"replica {took - t0:.1f} s after the command started")
        # Prometheus finds it through DNS (refresh 10 s) and scrapes it.
        ips = set(docker("inspect", "-f",
                         "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                         new).split())
        prefix = "/" + topo.urls["prometheus"].split(topo.env.domain, 1)[1].split("/", 1)[1]
        deadline = time.monotonic() + 60
        while True:
            r = site.get(f"{prefix.rstrip('/')}/api/v1/targets", params={"state": "active"})
            targets = r.json()["data"]["activeTargets"] if r.status_code == 200 else []
            if _scraped(targets, api_pool.service, api_pool.port, ips):
                break
            assert time.monotonic() < deadline, "the new replica was not scraped in 60 s"
            time.sleep(2)
        print(f"scraped {time.monotonic() - t0:.1f} s after the command started")
    finally:
        scale(stack, {api_pool.service: planned}, lambda _m: None)
    time.sleep(5)  # traffic after the scale-down
    assert len(replica_ids(api_pool.service)) == planned
    served = {by for _t, status, by in load.results if status == 200}
    print(f"{len(load.results)} requests, {len(load.failed())} failed, "
          f"{len(load.retried)} sent again after a reload closed their kept-alive "
          f"connection, served by {sorted(served)}")
    assert not load.failed(), load.failed()[:5]
