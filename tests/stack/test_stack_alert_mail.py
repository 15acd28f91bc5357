"""Alerts reach people: Redis stopped, the RedisDown mail arrives in the SMTP sink the
stack runs (alerting.smtp.sink), and the resolved mail after Redis is back.

Prints the time from the stop to the firing mail and from the start to the resolved
one. disruptive(5): Redis is down for as long as the alert takes.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from stack_support import cannot_run

from infra_gen.model import duration_seconds
from infra_gen.stack import Stack
from infra_gen.topology import PORTS, Topology

pytestmark = pytest.mark.disruptive(5)

WITHIN = 60.0
"""Seconds from the fault (or the fix) to its mail in dev."""


def sink_messages(stack: Stack, sink: str, since: float) -> list[dict[str, Any]]:
    """Messages the sink received after `since` (epoch seconds), oldest first."""
    out = stack.exec(sink, "curl", "-fsS", "--max-time", "5",
                     f"http://127.0.0.1:{PORTS['mail-sink-api']}/messages?since={since:.3f}",
                     check=False).stdout
    return list(json.loads(out)["messages"]) if out.strip() else []


def wait_for_mail(stack: Stack, sink: str, since: float, subject: str, alert: str,
                  timeout: float) -> dict[str, Any]:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        found = [m for m in sink_messages(stack, sink, since)
                 if subject in m["subject"] and alert in m["subject"]]
        if found:
            return found[0]
        time.sleep(1.0)
    raise AssertionError(f"no {subject} {alert} mail in {timeout:.0f} s: "
                         f"{[m['subject'] for m in sink_messages(stack, sink, since)]}")


def expected_delay(topo: Topology) -> float:
    """Scrape, evaluation, `for:` and group_wait, one each: what the model asks for."""
    mon, route = topo.env.monitoring, topo.env.alerting.route
    return sum(duration_seconds(d) for d in (mon.scrape_interval, mon.evaluation_interval,
                                            mon.alert_for.down, route.group_wait))


def test_redis_down_is_mailed_and_so_is_its_resolution(stack: Stack, topo: Topology) -> None:
    sinks = [c.name for c in topo.of_kind("mail-sink")]
    redis = [c.name for c in topo.of_kind("redis")]
    if not sinks or not redis:
        cannot_run("no SMTP sink (alerting.smtp.sink) or no Redis in this environment")
    sink = sinks[0]
    # The model's own delays must fit the promise, or the test would only wait longer.
    assert expected_delay(topo) < WITHIN, expected_delay(topo)
    recipients = {r.email.to for r in topo.env.alerting.receivers if r.email}
    since = time.time()
    try:
        stack.compose("stop", "--timeout", "5", *redis, capture=True)
        stopped = time.time()
        fired = wait_for_mail(stack, sink, since, "[FIRING", "RedisDown", WITHIN + 30)
    finally:
        # From the start command: the exporter sees Redis before its health check does.
        started = time.time()
        stack.compose("up", "-d", "--no-deps", "--wait", "--wait-timeout", "120", *redis,
                      capture=True)
        healthy = time.time() - started
    resolved = wait_for_mail(stack, sink, started, "[RESOLVED]", "RedisDown", WITHIN + 30)
    to_fire, to_resolve = fired["received"] - stopped, resolved["received"] - started
    print(f"\nRedisDown mailed {to_fire:.1f} s after Redis stopped; resolved mailed "
          f"{to_resolve:.1f} s after it was started (healthy after {healthy:.1f} s; model: "
          f"at most {expected_delay(topo):.0f} s plus one evaluation)")
    assert fired["to"] in recipients and resolved["to"] in recipients
    assert fired["from"] == topo.env.alerting.smtp.from_  # type: ignore[union-attr]
    assert to_fire < WITHIN and to_resolve < WITHIN
