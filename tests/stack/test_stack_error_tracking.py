"""Error tracking, live: a deliberate error raised through the API's test-only route
(error_tracking.test_error_route) reaches the error sink the stack runs
(error_tracking.sink) as a Sentry envelope, with the release (the image tag) and
environment the model gives; worker and ml start their SDK too."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from stack_support import Site, cannot_run, wait_for

from infra_gen.stack import Stack
from infra_gen.topology import PORTS, Topology

WITHIN = 30.0
"""Seconds from the failed request to its event in the sink."""


def sink_events(stack: Stack, sink: str, since: float) -> list[dict[str, Any]]:
    out = stack.exec(sink, "curl", "-fsS", "--max-time", "5",
                     f"http://127.0.0.1:{PORTS['error-sink']}/events?since={since:.3f}",
                     check=False).stdout
    return list(json.loads(out)["events"]) if out.strip() else []


def _sink(topo: Topology) -> str:
    track = topo.env.error_tracking
    sinks = topo.of_kind("error-sink")
    if not (track.enabled and track.test_error_route and sinks):
        cannot_run("error_tracking with sink and test_error_route is not on in this environment")
    return sinks[0].name


def test_a_deliberate_error_arrives_with_release_and_environment(
        stack: Stack, topo: Topology, site: Site) -> None:
    sink = _sink(topo)
    marker = f"m-{uuid.uuid4().hex[:12]}"
    since = time.time() - 1
    r = site.get(f"/api/_test/error?marker={marker}")
    assert r.status_code == 500, r.text[:200]
    assert r.json() == {"error": "internal error", "field": None}
    sent = time.monotonic()

    def mine() -> list[dict[str, Any]]:
        return [e for e in sink_events(stack, sink, since)
                if any(marker in (x["value"] or "") for x in e["exceptions"])]

    events = wait_for(mine, WITHIN, interval=1.0)
    assert events, f"no event with {marker} in the sink after {WITHIN:.0f} s: " \
                   f"{sink_events(stack, sink, since)}"
    print(f"\nevent in the sink {time.monotonic() - sent:.1f} s after the request")
    event = events[0]
    api = dict(topo.container("api").environment)
    assert event["release"] == api["SENTRY_RELEASE"] == topo.env.images.tag
    assert event["environment"] == api["SENTRY_ENVIRONMENT"] == topo.name
    assert event["exceptions"][-1]["type"] == "DeliberateError"
    assert event["tags"].get("service") == "api"
    assert event["level"] == "error"


def test_worker_and_ml_start_error_tracking(stack: Stack, topo: Topology) -> None:
    _sink(topo)
    release = topo.env.images.tag
    for service in ("worker", "ml"):
        logs = stack.compose("logs", "--no-color", service, capture=True).stdout
        assert f"error tracking on (release {release}, environment {topo.name})" in logs, \
            f"{service} did not start error tracking: {logs[-800:]}"

