"""The running stack survives its faults, under paced load below the rate limit.

Each test injects one fault (kill an API replica, stop Redis, stop the replica,
kill the worker mid-task) while a load of reads runs through the load balancer,
asserts counts (requests sent, failed, slowest), and restores the stack (starts what
it stopped, waits until healthy) whatever happened. disruptive(5): after every other
stack test, the scale test included.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from stack_support import Site, cannot_run, docker

from infra_gen.stack import Stack
from infra_gen.topology import Topology

pytestmark = pytest.mark.disruptive(5)

# Paced load: this share of the rate limit (the test's own probes use part of the rest).
LOAD_SHARE = 0.5
# No request may take this long: a killed member costs proxy_connect_timeout (0.5 s)
# at most, where 5 s stalls were seen before.
MAX_LATENCY = 2.0


@dataclass
class Load:
    """Results of a paced load: (path, status or exception name, seconds)."""

    results: list[tuple[str, str, float]] = field(default_factory=list)

    def failed(self) -> list[tuple[str, str, float]]:
        return [r for r in self.results if r[1] != "200"]

    def slowest(self) -> float:
        return max((r[2] for r in self.results), default=0.0)

    def p99(self) -> float:
        times = sorted(r[2] for r in self.results)
        return times[int(0.99 * (len(times) - 1))] if times else 0.0

    def summary(self) -> str:
        return (f"{len(self.results)} sent, {len(self.failed())} failed, "
                f"p99 {self.p99():.3f} s, max {self.slowest():.3f} s")


@contextmanager
def paced_load(site: Site, topo: Topology, paths: list[str]) -> Iterator[Load]:
    """GET `paths` in turn at LOAD_SHARE of the rate limit, open loop (a slow answer
    does not slow the load down), until the block ends."""
    rate = LOAD_SHARE * topo.env.load_balancer.rate_limit.requests_per_second
    load = Load()
    stop = threading.Event()
    session = site.new_session()

    def one(path: str) -> None:
        started = time.monotonic()
        try:
            status = str(session.get(site.base + path, timeout=15).status_code)
        except requests.RequestException as exc:
            status = type(exc).__name__
        load.results.append((path, status, time.monotonic() - started))

    def run() -> None:
        with ThreadPoolExecutor(8) as pool:
            futures: list[Future[None]] = []
            n = 0
            next_at = time.monotonic()
            while not stop.is_set():
                futures.append(pool.submit(one, paths[n % len(paths)]))
                n += 1
                next_at += 1.0 / rate
                time.sleep(max(0.0, next_at - time.monotonic()))
            for f in futures:
                f.result()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield load
    finally:
        stop.set()
        thread.join(60)
        session.close()


def _read_paths(site: Site, api_token: str) -> list[str]:
    """Reads that touch the cache and both pools: a customer, a page, the ranking."""
    r = site.get("/api/customers?per_page=3")
    assert r.status_code == 200, r.text[:200]
    ids = [c["id"] for c in r.json()["items"]]
    if not ids:
        auth = {"Authorization": f"Bearer {api_token}"}
        created = site.post("/api/customers", headers=auth, json={
            "external_id": f"fault-{uuid.uuid4().hex[:12]}", "name": "Fault Test",
            "email": "fault@example.com", "tenure_months": 2, "monthly_charges": 70.0,
            "total_charges": 140.0, "contract_type": "month-to-month", "support_calls": 3})
        assert created.status_code == 201, created.text[:200]
        ids = [created.json()["id"]]
    return [*(f"/api/customers/{i}" for i in ids), "/api/customers?per_page=5",
            "/api/customers/top-risk?limit=5", "/health/"]


def _members(topo: Topology, kind: str) -> list[str]:
    return [c.name for c in topo.of_kind(kind)]


def _restore(stack: Stack, *services: str) -> None:
    """Start what a test stopped (only that: its dependencies were left running)."""
    stack.compose("up", "-d", "--no-deps", "--wait", "--wait-timeout", "180", *services,
                  capture=True)


def _ready(stack: Stack, api: str) -> dict[str, Any]:
    import json

    out = stack.exec(api, "curl", "-sS", "--max-time", "5", "http://127.0.0.1:8000/health/ready",
                     check=False).stdout
    return dict(json.loads(out)) if out.strip() else {}


def _until(check: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout:.0f} s"
        time.sleep(0.5)
    return time.monotonic() - started


# -- kill an API replica --------------------------------------------------------------
def test_killing_an_api_replica_fails_no_request_and_stalls_none(site, topo, stack, api_token,
                                                                  replica_ids):
    apis = [c for c in topo.of_kind("api") if c.port is not None]
    ids = replica_ids(apis[0].name) if apis else []
    if len(ids) < 2:
        cannot_run("fewer than two API replicas: nothing to fail over to")
    victim = ids[-1]
    paths = _read_paths(site, api_token)
    try:
        with paced_load(site, topo, paths) as load:
            time.sleep(1.0)
            docker("kill", "-s", "KILL", victim)
            time.sleep(5.0)
        print(f"\nkill one of {len(ids)} API replicas: {load.summary()}")
        assert not load.failed(), f"{load.summary()}: {load.failed()[:5]}"
        assert load.slowest() < MAX_LATENCY, load.summary()
        assert len(load.results) >= 4 * LOAD_SHARE * topo.env.load_balancer.rate_limit.requests_per_second
    finally:
        # The same container again: it keeps its address, which nginx resolved at start.
        docker("start", victim, check=False)
        _restore(stack, apis[0].name)


# -- stop Redis -----------------------------------------------------------------------
def test_redis_down_reads_succeed_and_predictions_get_a_fast_503(site, topo, stack, api_token):
    # Every Redis server: with Sentinels, stopping the primary alone is a failover,
    # not an outage. The replica is stopped first, on its own, so that nothing is
    # promoted while the primary goes down.
    redis = _members(topo, "redis-replica") + _members(topo, "redis")
    if not redis:
        cannot_run("no redis in this environment")
    paths = _read_paths(site, api_token)
    customer_id = int(paths[0].rsplit("/", 1)[1])
    auth = {"Authorization": f"Bearer {api_token}"}
    try:
        with paced_load(site, topo, paths) as load:
            time.sleep(1.0)
            for server in redis:
                stack.compose("stop", "--timeout", "5", server, capture=True)
            time.sleep(0.5)

            def predict(_: int) -> tuple[int, str | None, float]:
                started = time.monotonic()
                r = site.post("/api/predictions", json={"customer_id": customer_id},
                              headers=auth, throttle=False)
                return r.status_code, r.headers.get("Retry-After"), time.monotonic() - started

            # Four at once: they used to hold every API worker for 19 s.
            with ThreadPoolExecutor(4) as pool:
                refused = list(pool.map(predict, range(4)))
            time.sleep(3.0)
            ready = _ready(stack, _members(topo, "api")[0])
        print(f"\nredis stopped: {load.summary()}; 4 concurrent predictions "
              f"{[(c, round(t, 3)) for c, _, t in refused]}")
        assert not load.failed(), f"{load.summary()}: {load.failed()[:5]}"
        assert all(code == 503 and after and took < 1.0 for code, after, took in refused), refused
        assert (ready.get("status"), ready.get("failed")) == ("degraded", ["redis"]), ready
    finally:
        _restore(stack, *reversed(redis))
    # Back: predictions are taken again (the API reconnects on its own).
    took = _until(lambda: site.post("/api/predictions", json={"customer_id": customer_id},
                                    headers=auth).status_code == 202, 30, "predictions after redis")
    print(f"predictions accepted {took:.1f} s after redis was healthy")


# -- stop the replica -----------------------------------------------------------------
def test_replica_down_reads_fall_back_to_the_primary(site, topo, stack, api_token):
    replicas = _members(topo, "postgres-replica")
    if not replicas:
        cannot_run("no PostgreSQL replica in this environment")
    paths = _read_paths(site, api_token)
    api = _members(topo, "api")[0]
    try:
        with paced_load(site, topo, paths) as load:
            time.sleep(1.0)
            stack.compose("stop", "--timeout", "10", *replicas, capture=True)
            time.sleep(5.0)
            ready = _ready(stack, api)
        print(f"\nreplica stopped: {load.summary()}")
        assert not load.failed(), f"{load.summary()}: {load.failed()[:5]}"
        assert load.slowest() < MAX_LATENCY, load.summary()
        assert (ready.get("status"), ready.get("failed")) == ("degraded", ["replica"]), ready
    finally:
        _restore(stack, *replicas)
    _until(lambda: _ready(stack, api).get("status") == "ok", 60, "readiness after the replica")


# -- kill the worker mid-task ---------------------------------------------------------
def test_worker_killed_mid_task_loses_no_prediction(site, topo, stack, api_token):
    workers, mls = _members(topo, "worker"), _members(topo, "ml")
    if not workers or not mls:
        cannot_run("no worker or ML service in this environment")
    auth = {"Authorization": f"Bearer {api_token}"}
    customer_id = int(_read_paths(site, api_token)[0].rsplit("/", 1)[1])
    ml_ids = [cid for m in mls for cid in stack.compose("ps", "-q", m, capture=True).stdout.split()]
    tasks: list[str] = []
    try:
        # A frozen ML service holds the tasks in the worker (unacked) when it is killed.
        for cid in ml_ids:
            docker("pause", cid)
        for _ in range(10):
            r = site.post("/api/predictions", json={"customer_id": customer_id}, headers=auth)
            assert r.status_code == 202, r.text[:200]
            tasks.append(r.json()["id"])
        time.sleep(2.0)
        stack.compose("kill", "-s", "KILL", *workers, capture=True)
    finally:
        for cid in ml_ids:
            docker("unpause", cid, check=False)
        _restore(stack, *workers)

    def status(task: str) -> str:
        return str(site.get(f"/api/predictions/{task}").json()["status"])

    # Re-delivered after the visibility timeout (30 s) plus one restore sweep (5 s),
    # counted from their delivery before the kill; 120 s leaves room for a retry's
    # backoff. Once (CI, 2 cores) some were not done after 60 s: the statuses and the
    # worker's log say which and why.
    deadline = time.monotonic() + 120
    while not all(status(t) == "done" for t in tasks) and time.monotonic() < deadline:
        time.sleep(0.5)
    statuses = Counter(status(t) for t in tasks)
    if statuses["done"] != len(tasks):
        log = stack.compose("logs", "--no-color", "--tail", "60", *workers, capture=True)
        print(log.stdout[-6000:])
    assert statuses["done"] == len(tasks), f"not every prediction done in 120 s: {dict(statuses)}"
    took = 120 - (deadline - time.monotonic())
    print(f"\nworker killed with 10 tasks queued: all 10 done {took:.1f} s after restart")
    missing = site.get(f"/api/predictions/{uuid.uuid4()}")
    assert missing.status_code == 404, missing.text[:200]
