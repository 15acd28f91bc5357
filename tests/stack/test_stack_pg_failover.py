"""PostgreSQL failover with the generated scripts, under paced writes (issue 10, point 4).

The primary is killed (SIGKILL, as a lost host) while a thread creates customers
through the load balancer below the rate limit; failover/failover.sh fences it and
promotes the replica. Asserted: every acknowledged write is on the new primary; the
old primary ran no more after the kill (no write can have landed on it); after
`docker compose up` it is a read-only standby of the new primary (no split brain);
the nightly dump follows the primary. The seconds clients saw errors are printed.
failback.sh then restores the planned layout, whatever happened. disruptive(6):
after every other stack test, the fault tests included.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from stack_support import Site, cannot_run, docker

from infra_gen.stack import Stack
from infra_gen.stack.docker import docker_binary
from infra_gen.topology import Topology

pytestmark = pytest.mark.disruptive(6)

# Writes at this share of the rate limit (the test's own requests use part of the rest).
WRITE_SHARE = 0.25
# The whole test (failover, compose up, failback) stays within CI's budget.
BUDGET_SECONDS = 150


@dataclass
class Writes:
    """(sent at, answered at, status or exception name, external_id) of each POST."""

    run: str
    results: list[tuple[float, float, str, str]] = field(default_factory=list)

    def acked(self) -> set[str]:
        return {ext for _, _, status, ext in self.results if status == "201"}

    def failed(self) -> list[tuple[float, float, str, str]]:
        return [r for r in self.results if r[2] != "201"]

    def error_window(self) -> float:
        """Seconds from the first failed write to the first success after the last one."""
        failed = self.failed()
        if not failed:
            return 0.0
        last = failed[-1][0]
        back = next((done for sent, done, status, _ in self.results
                     if status == "201" and sent > last), last)
        return back - failed[0][0]


@contextmanager
def paced_writes(site: Site, topo: Topology, token: str) -> Iterator[Writes]:
    """POST /api/customers at WRITE_SHARE of the rate limit until the block ends, one
    at a time (a write that hangs delays the next: a client would wait too)."""
    interval = 1.0 / (WRITE_SHARE * topo.env.load_balancer.rate_limit.requests_per_second)
    writes = Writes(run=uuid.uuid4().hex[:8])
    stop = threading.Event()
    session = site.new_session(token)

    def run() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            ext = f"failover-{writes.run}-{n:05d}"
            sent = time.monotonic()
            try:
                status = str(session.post(site.base + "/api/customers", timeout=15, json={
                    "external_id": ext, "name": "Failover Test", "email": "fo@example.com",
                    "tenure_months": 3, "monthly_charges": 50.0, "total_charges": 150.0,
                    "contract_type": "month-to-month", "support_calls": 1}).status_code)
            except requests.RequestException as exc:
                status = type(exc).__name__
            writes.results.append((sent, time.monotonic(), status, ext))
            stop.wait(max(0.0, sent + interval - time.monotonic()))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield writes
    finally:
        stop.set()
        thread.join(30)
        session.close()


def _script(stack: Stack, path: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ,
           "PATH": f"{Path(docker_binary()).parent}:{os.environ.get('PATH', '')}",
           "COMPOSE_PROJECT": stack.topo.compose_project, "COMPOSE_FILE": str(stack.compose_file),
           **extra}
    result = subprocess.run([str(stack.env_dir / path)], env=env, capture_output=True,
                            text=True, timeout=400, check=False)
    assert result.returncode == 0, f"{path}: {result.stderr}{result.stdout}"
    return result


def _rows(stack: Stack, node: str, run: str) -> set[str]:
    out = stack.psql(f"SELECT external_id FROM customer WHERE external_id LIKE 'failover-{run}-%'",
                     service=node)
    return set(out.split())


def _state(stack: Stack, node: str) -> tuple[bool, str]:
    cid = stack.compose("ps", "-q", "-a", node, capture=True).stdout.split()[0]
    running, started = docker("inspect", "-f", "{{.State.Running}} {{.State.StartedAt}}",
                              cid).split()
    return running == "true", started


def _until(check: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout:.0f} s"
        time.sleep(0.5)
    return time.monotonic() - started


def test_failover_under_writes_loses_no_acknowledged_write_and_fences_the_old_primary(
        site, topo, stack, api_token, tmp_path):
    repl = topo.replication
    if repl is None or not (stack.env_dir / "failover" / "failover.sh").is_file():
        cannot_run("no PostgreSQL replica in this environment: nothing to fail over to")
    old, new = repl.primary, repl.replica
    began = time.monotonic()
    try:
        with paced_writes(site, topo, api_token) as writes:
            time.sleep(3.0)
            assert writes.acked(), f"no write succeeded before the fault: {writes.results[:3]}"
            stack.compose("kill", "-s", "KILL", old, capture=True)
            killed = time.monotonic()
            _, killed_started = _state(stack, old)
            done = _script(stack, "failover/failover.sh")
            promoted = time.monotonic() - killed
            # Clients reconnect by themselves: a write succeeds again, then a few more.
            _until(lambda: any(s == "201" and t > killed + promoted
                               for t, _, s, _ in writes.results), 30, "a write after promotion")
            time.sleep(3.0)
        print(f"\nfailover: {len(writes.results)} writes, {len(writes.failed())} failed, "
              f"clients saw errors for {writes.error_window():.1f} s; failover.sh took "
              f"{promoted:.1f} s after the kill\n{done.stderr.strip()}")

        # Every acknowledged write is on the new primary.
        missing = writes.acked() - _rows(stack, new, writes.run)
        assert not missing, f"{len(missing)} acknowledged writes lost: {sorted(missing)[:5]}"
        # The old primary did not run again after the kill: no write can have landed there.
        assert _state(stack, old) == (False, killed_started), "the old primary was restarted"

        # Backups follow the primary.
        dumped = _script(stack, "backup/backup_db.sh", BACKUP_DIR=str(tmp_path / "dumps"),
                         LOG_DIR=str(tmp_path / "log"))
        assert f"from {new})" in (tmp_path / "log" / "backup_db.log").read_text(), dumped.stderr

        # `compose up` (what `make up` runs) brings the old primary back only as a
        # read-only standby of the new one: no split brain.
        up = stack.compose("up", "-d", "--wait", "--wait-timeout", "240", capture=True)
        print("compose up after the failover: " + " / ".join(
            ln.strip() for ln in up.stderr.splitlines() if "Recreate" in ln or "Start" in ln))
        assert stack.psql("SELECT pg_is_in_recovery()", service=old) == "t"
        assert stack.psql("SELECT pg_is_in_recovery()", service=new) == "f"
        probe = stack.exec(old, "psql", "-X", "-d", topo.env.postgres.database, "-c",
                           "CREATE TABLE failover_probe (x int)", check=False)
        assert probe.returncode != 0 and "read-only transaction" in probe.stderr, probe.stderr
        ext = f"failover-{writes.run}-after-up"
        r = site.post("/api/customers", headers={"Authorization": f"Bearer {api_token}"}, json={
            "external_id": ext, "name": "After Up", "email": "fo@example.com",
            "tenure_months": 1, "monthly_charges": 10.0, "total_charges": 10.0,
            "contract_type": "month-to-month", "support_calls": 0})
        assert r.status_code == 201, r.text[:200]
        assert ext in _rows(stack, new, writes.run)
        _until(lambda: ext in _rows(stack, old, writes.run), 10, "the write reaching the standby")
    finally:
        back = _script(stack, "failover/failback.sh")
        print(back.stderr.strip())
        stack.compose("up", "-d", "--wait", "--wait-timeout", "240", capture=True)
    # The planned layout again, for whatever runs next.
    assert stack.psql("SELECT pg_is_in_recovery()", service=old) == "f"
    assert stack.psql("SELECT status FROM pg_stat_wal_receiver", service=new) == "streaming"
    assert stack.psql("SELECT active FROM pg_replication_slots", service=old) == "t"
    r = site.get("/api/customers?per_page=1")
    assert r.status_code == 200, r.text[:200]
    took = time.monotonic() - began
    print(f"failover test, failback included: {took:.1f} s")
    assert took < BUDGET_SECONDS
