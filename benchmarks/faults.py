"""What each fault costs clients, under paced load (not a test).

    python benchmarks/faults.py [--env dev] [--hold 10]

Needs the stack running (`make up`) and leaves it whole. For each fault, a paced
load of reads (half the load balancer's rate limit: a customer, a page, the
ranking, /health/; tests/stack/test_stack_faults.py's client) runs from just before
the fault until the stack has recovered:

  api replica killed   SIGKILL to one API replica; after --hold s it is started again;
                       recovered when it answers requests through the load balancer
  redis stopped        `compose stop redis`, --hold s, start; recovered when a
                       prediction is accepted (202) again
  pg replica stopped   `compose stop postgres-replica`, --hold s, start; recovered when
                       the API's readiness is "ok" again (reads back on the replica)
  worker killed        10 predictions queued while the ML service is paused, the
                       worker SIGKILLed, then started; recovered when all 10 are done

Prints one row per fault: requests sent, failed, p99 latency (while the fault held
and until recovery), and seconds to recover (from the moment the fault is lifted,
or from the kill for the worker).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "stack")]

from stack_support import Site, docker  # noqa: E402
from test_stack_faults import (  # noqa: E402
    Load,
    _members,
    _read_paths,
    _ready,
    _restore,
    _until,
    paced_load,
)

from infra_gen.model import TlsMode  # noqa: E402
from infra_gen.stack import Stack  # noqa: E402
from infra_gen.stack.secrets import read_token  # noqa: E402


@dataclass
class Row:
    fault: str
    load: Load
    recover: float
    note: str = ""


class Bench:
    def __init__(self, stack: Stack, hold: float) -> None:
        self.stack, self.topo, self.hold = stack, stack.topo, hold
        cert = (stack.secrets / "tls" / "fullchain.pem"
                if self.topo.env.tls.mode is TlsMode.self_signed else None)
        self.site = Site(self.topo, cert)
        token = read_token(stack.secrets)
        assert token, f"no API token in {stack.secrets}/api_token (infra-gen up creates it)"
        self.auth = {"Authorization": f"Bearer {token}"}
        self.paths = _read_paths(self.site, token)
        self.customer = int(self.paths[0].rsplit("/", 1)[1])

    def predict(self) -> int:
        return self.site.post("/api/predictions", json={"customer_id": self.customer},
                              headers=self.auth).status_code

    def episode(self, fault: Callable[[], None], lift: Callable[[], None],
                recovered: Callable[[], bool]) -> tuple[Load, float]:
        """Load from just before the fault until recovered; seconds from the moment the
        fault is lifted (the start command, not the end of its wait for health)."""
        with paced_load(self.site, self.topo, self.paths) as load:
            time.sleep(1.0)
            fault()
            time.sleep(self.hold)
            lifted = time.monotonic()
            lift()
            _until(recovered, 180, "recovery")
            took = time.monotonic() - lifted
            time.sleep(1.0)
        return load, took

    def api_replica(self) -> Row:
        api = _members(self.topo, "api")[0]
        ids = self.stack.compose("ps", "-q", api, capture=True).stdout.split()
        assert len(ids) >= 2, "fewer than two API replicas: nothing to fail over to"
        victim = ids[-1]

        def serves() -> bool:
            if not self.topo.env.load_balancer.replica_header:
                health = docker("inspect", "-f", "{{.State.Health.Status}}", victim).strip()
                return health == "healthy"
            # X-Served-By (dev) is the host name: the container id's first 12.
            r = self.site.get("/api/customers?per_page=1")
            return r.headers.get("X-Served-By", "") == victim[:12]

        load, took = self.episode(lambda: docker("kill", "-s", "KILL", victim),
                                  lambda: docker("start", victim), serves)
        _restore(self.stack, api)
        return Row("API replica killed", load, took, f"1 of {len(ids)} replicas")

    def redis(self) -> Row:
        redis = _members(self.topo, "redis")
        load, took = self.episode(
            lambda: self.stack.compose("stop", "--timeout", "5", *redis, capture=True),
            lambda: _restore(self.stack, *redis), lambda: self.predict() == 202)
        return Row("Redis stopped", load, took, "predictions 503 while down")

    def pg_replica(self) -> Row:
        replicas = _members(self.topo, "postgres-replica")
        assert replicas, "no PostgreSQL replica in this environment"
        api = _members(self.topo, "api")[0]
        load, took = self.episode(
            lambda: self.stack.compose("stop", "--timeout", "10", *replicas, capture=True),
            lambda: _restore(self.stack, *replicas),
            lambda: _ready(self.stack, api).get("status") == "ok")
        return Row("PG replica stopped", load, took, "reads on the primary while down")

    def worker(self) -> Row:
        workers, mls = _members(self.topo, "worker"), _members(self.topo, "ml")
        ml_ids = [cid for m in mls
                  for cid in self.stack.compose("ps", "-q", m, capture=True).stdout.split()]
        tasks: list[str] = []
        killed = finished = 0.0

        def fault() -> None:
            nonlocal killed
            for cid in ml_ids:
                # The cgroup freezer can time out on a loaded machine: try again.
                for attempt in range(3):
                    docker("pause", cid, check=attempt == 2)
                    if docker("inspect", "-f", "{{.State.Paused}}", cid).strip() == "true":
                        break
                    time.sleep(1.0)
            try:
                for _ in range(10):
                    r = self.site.post("/api/predictions", json={"customer_id": self.customer},
                                       headers=self.auth)
                    assert r.status_code == 202, r.text[:200]
                    tasks.append(r.json()["id"])
                time.sleep(2.0)
                self.stack.compose("kill", "-s", "KILL", *workers, capture=True)
                killed = time.monotonic()
            finally:
                for cid in ml_ids:
                    docker("unpause", cid, check=False)

        def done() -> bool:
            nonlocal finished
            finished = time.monotonic()
            return all(self.site.get(f"/api/predictions/{t}").json()["status"] == "done"
                       for t in tasks)

        load, _ = self.episode(fault, lambda: _restore(self.stack, *workers), done)
        took = finished - killed
        lost = sum(self.site.get(f"/api/predictions/{t}").json()["status"] != "done"
                   for t in tasks)
        assert self.site.get(f"/api/predictions/{uuid.uuid4()}").status_code == 404
        return Row("worker killed mid-task", load, took,
                   f"{len(tasks) - lost} of {len(tasks)} predictions done, from the kill")


def table(rows: list[Row]) -> str:
    head = ("| fault | requests sent | failed | p99 latency (s) | recovered after (s) | |\n"
            "|---|---:|---:|---:|---:|---|\n")
    return head + "".join(
        f"| {r.fault} | {len(r.load.results)} | {len(r.load.failed())} | {r.load.p99():.3f} "
        f"| {r.recover:.1f} | {r.note} |\n" for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--env", default="dev")
    parser.add_argument("--hold", type=float, default=10.0,
                        help="seconds each fault is held before it is lifted")
    args = parser.parse_args(argv)
    bench = Bench(Stack.load(args.env, ROOT), args.hold)
    rows: list[Row] = []
    faults: list[Callable[[], Row]] = [bench.api_replica, bench.redis, bench.pg_replica,
                                       bench.worker]
    for fault in faults:
        started = time.monotonic()
        try:
            rows.append(fault())
        except AssertionError as exc:
            print(f"{fault.__name__}: not measured: {exc}", file=sys.stderr)
            continue
        r = rows[-1]
        print(f"{r.fault}: {r.load.summary()}; recovered after {r.recover:.1f} s "
              f"({time.monotonic() - started:.0f} s in all); failed: {r.load.failed()[:5]}",
              file=sys.stderr)
    rate = bench.topo.env.load_balancer.rate_limit.requests_per_second
    print(f"{args.env}, paced reads at half of {rate:g} req/s, faults held {args.hold:g} s:\n")
    print(table(rows), end="")
    return 0 if len(rows) == len(faults) else 1


if __name__ == "__main__":
    raise SystemExit(main())
