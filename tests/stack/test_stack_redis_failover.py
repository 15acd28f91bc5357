"""The Redis primary killed under load, with Sentinels (issue 10, point 5).

Runs on an environment whose Redis has Sentinels (`make stack-test-ha`: dev-ha); on
one without, it is deselected (tests/stack/conftest.py), never skipped. While a
client asks for predictions (and reads) below the rate limit, the primary the
Sentinels name is killed (SIGKILL, as a lost host). Asserted: the Sentinels promote
the replica; predictions flow again after the failover without a restart of the API
or the worker; every prediction the API accepted (202) is scored (none lost with the
dead primary); a client that honours Retry-After gets every prediction it asked for;
reads never fail; the old primary, started again, joins the new one as its replica
(no second primary). The seconds predictions were refused are printed.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
import requests
from stack_support import Site

from infra_gen.stack import Stack
from infra_gen.topology import Topology

pytestmark = [pytest.mark.redis_ha, pytest.mark.disruptive(7)]

# Predictions a second, and reads between them: well below the rate limit.
PREDICTIONS_PER_SECOND = 2.0
# A refused prediction is asked again after Retry-After, at most this many times.
RETRIES = 4


@dataclass
class Predictions:
    """Each asked prediction: (asked at, final status, task id or None, 503s before it)."""

    asked: list[tuple[float, str, str | None, int]] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    refused_at: list[float] = field(default_factory=list)

    def accepted(self) -> list[str]:
        return [task for _, status, task, _ in self.asked if status == "202" and task]

    def failed(self) -> list[tuple[float, str, str | None, int]]:
        return [a for a in self.asked if a[1] != "202"]

    def refused_window(self) -> float:
        return (self.refused_at[-1] - self.refused_at[0]) if self.refused_at else 0.0


@contextmanager
def asking(site: Site, token: str, customer_id: int) -> Iterator[Predictions]:
    """POST /api/predictions at PREDICTIONS_PER_SECOND, honouring Retry-After, with a
    read between two predictions, until the block ends."""
    out = Predictions()
    stop = threading.Event()
    session = site.new_session(token)

    def predict() -> None:
        asked, refused = time.monotonic(), 0
        while True:
            try:
                r = session.post(site.base + "/api/predictions", json={"customer_id": customer_id},
                                 timeout=10)
                status, task = str(r.status_code), (r.json().get("id") if r.status_code == 202 else None)
            except requests.RequestException as exc:
                status, task, r = type(exc).__name__, None, None
            if status != "503" or refused >= RETRIES or r is None:
                out.asked.append((asked, status, task, refused))
                return
            refused += 1
            out.refused_at.append(time.monotonic())
            time.sleep(min(float(r.headers.get("Retry-After") or 1), 5.0))

    def run() -> None:
        threads: list[threading.Thread] = []
        next_at = time.monotonic()
        while not stop.is_set():
            t = threading.Thread(target=predict, daemon=True)
            t.start()
            threads.append(t)
            try:
                read = session.get(site.base + f"/api/customers/{customer_id}", timeout=10)
                out.reads.append(str(read.status_code))
            except requests.RequestException as exc:
                out.reads.append(type(exc).__name__)
            next_at += 1.0 / PREDICTIONS_PER_SECOND
            time.sleep(max(0.0, next_at - time.monotonic()))
        for t in threads:
            t.join(60)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join(120)
        session.close()


def _sentinel_primary(stack: Stack, topo: Topology) -> str:
    """The service the Sentinels name as the primary (they announce host names)."""
    assert topo.redis_ha is not None
    for sentinel in topo.of_kind("redis-sentinel"):
        out = stack.exec(sentinel.name, "redis-auth-cli", "SENTINEL", "get-master-addr-by-name",
                         topo.redis_ha.master_name, check=False).stdout.split()
        if out:
            return out[0]
    raise AssertionError("no Sentinel names a primary")


def _role(stack: Stack, server: str) -> list[str]:
    return stack.exec(server, "redis-auth-cli", "ROLE", check=False).stdout.split()


def _until(check: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout:.0f} s"
        time.sleep(0.5)
    return time.monotonic() - started


def test_killing_the_redis_primary_loses_no_prediction(site: Site, topo: Topology, stack: Stack,
                                                       api_token: str) -> None:
    assert topo.redis_ha is not None
    servers = [c.name for c in topo.of_kind("redis", "redis-replica")]
    auth = {"Authorization": f"Bearer {api_token}"}
    created = site.post("/api/customers", headers=auth, json={
        "external_id": f"redis-ha-{uuid.uuid4().hex[:12]}", "name": "Redis Failover",
        "email": "ha@example.com", "tenure_months": 3, "monthly_charges": 80.0,
        "total_charges": 240.0, "contract_type": "month-to-month", "support_calls": 2})
    assert created.status_code == 201, created.text[:200]
    customer_id = created.json()["id"]
    old = _sentinel_primary(stack, topo)
    assert old in servers, old
    new = next(s for s in servers if s != old)
    apis_started = {c.name: stack.exec(c.name, "cat", "/proc/1/stat", check=False).stdout.split()[21]
                    for c in topo.of_kind("api", "worker")}

    try:
        with asking(site, api_token, customer_id) as load:
            time.sleep(3.0)
            killed = time.monotonic()
            stack.compose("kill", "-s", "KILL", old, capture=True)
            promoted = _until(lambda: _sentinel_primary(stack, topo) == new, 60,
                              f"the Sentinels promoting {new}")
            time.sleep(8.0)
        after = [a for a in load.asked if a[0] > killed + promoted + 5.0]
        print(f"\nredis primary killed: {len(load.asked)} predictions asked, "
              f"{len(load.refused_at)} refusals (503, retried after Retry-After) over "
              f"{load.refused_window():.1f} s, {len(load.failed())} failed for good; "
              f"{new} promoted {promoted:.1f} s after the kill; {len(load.reads)} reads")

        # Predictions flow after the failover, with no restart of the API or the worker.
        assert after and all(status == "202" and not refused for _, status, _, refused in after), after
        assert not load.failed(), load.failed()[:5]
        assert set(load.reads) == {"200"}, sorted(set(load.reads))
        for name, started in apis_started.items():
            now = stack.exec(name, "cat", "/proc/1/stat", check=False).stdout.split()[21]
            assert now == started, f"{name} was restarted"

        # Every accepted prediction is scored: none was lost with the dead primary.
        accepted = load.accepted()

        def pending() -> list[str]:
            return [t for t in accepted
                    if site.get(f"/api/predictions/{t}", headers=auth).json().get("status") != "done"]

        _until(lambda: not pending(), 90, f"every accepted prediction done ({len(accepted)})")
    finally:
        # The old primary comes back as the new one's replica: no second primary.
        stack.compose("up", "-d", "--no-deps", "--wait", "--wait-timeout", "120", old, capture=True)
    _until(lambda: _role(stack, old)[:2] == ["slave", new], 60, f"{old} replicating {new}")
    assert _role(stack, new)[0] == "master"
    assert _sentinel_primary(stack, topo) == new
    r = site.post("/api/predictions", json={"customer_id": customer_id}, headers=auth)
    assert r.status_code == 202, r.text[:200]
