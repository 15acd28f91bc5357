"""`infra-gen scale ENV GROUP=N ...`: change how many replicas run, with no re-render.

Prometheus finds replicas through Docker's DNS by itself (dns_sd_configs). nginx
resolves a pool's service name when it starts and when it reloads, so after the
replicas changed (and the new ones are healthy) the load balancer is reloaded: a
graceful reload keeps the passive health checks (max_fails/fail_timeout) and the
upstream keepalive that runtime re-resolution would lose (docs/contract.md,
"Scaling", has the measurements).
"""

from __future__ import annotations

import re
import time

from ..errors import StackError, UserError
from .compose import Stack
from .docker import Say

_ASSIGNMENT = re.compile(r"^([a-z][a-z0-9-]*)=([0-9]{1,3})$")
MAX_REPLICAS = 50
"""The model's bound on services.<name>.replicas."""


def parse_counts(stack: Stack, assignments: list[str]) -> dict[str, int]:
    """GROUP=N arguments -> {group: N}; only app services scale."""
    return parse_assignments(assignments, [c.name for c in stack.containers if c.scalable],
                             stack.name, MAX_REPLICAS)


def parse_assignments(assignments: list[str], scalable: list[str], env: str,
                      most: int) -> dict[str, int]:
    """GROUP=N arguments -> {group: N} (compose and swarm)."""
    counts: dict[str, int] = {}
    for arg in assignments:
        m = _ASSIGNMENT.match(arg)
        if m is None:
            raise UserError(f"scale: {arg!r}: expected GROUP=N (e.g. api=4)")
        group, count = m.group(1), int(m.group(2))
        if group not in scalable:
            raise UserError(f"scale: {group!r} is not an app service of {env}; "
                            f"expected one of: {', '.join(scalable)}")
        if count > most:
            raise UserError(f"scale: {group}={count}: at most {most} replicas")
        counts[group] = count
    if not counts:
        raise UserError("scale: name at least one GROUP=N")
    return counts


def reload_load_balancer(stack: Stack) -> None:
    """nginx re-reads its configuration and re-resolves every upstream name."""
    for lb in stack.topo.of_kind("lb"):
        result = stack.exec(lb.name, "nginx", "-s", "reload", check=False)
        if result.returncode != 0:
            raise StackError(f"nginx reload in {lb.name} failed: {result.stderr.strip()}")


def scale(stack: Stack, counts: dict[str, int], say: Say, wait_timeout: int = 300,
          reload: bool = True) -> dict[str, float]:
    """Run counts[group] replicas of each group; returns timings in seconds."""
    t0 = time.monotonic()
    flags = [f"--scale={group}={n}" for group, n in sorted(counts.items())]
    say("docker compose up " + " ".join(flags) + " (existing replicas untouched)")
    # --no-recreate keeps the running replicas as they are; --no-deps leaves the
    # databases alone; --wait returns when the new replicas are healthy.
    stack.compose("up", "-d", "--no-recreate", "--no-deps", "--wait",
                  "--wait-timeout", str(wait_timeout), *flags, *sorted(counts), capture=True)
    timings = {"scaled": time.monotonic() - t0}
    if reload:
        reload_load_balancer(stack)
        timings["reloaded"] = time.monotonic() - t0
        say("load balancer reloaded: it resolves the new set of replicas")
    return timings
