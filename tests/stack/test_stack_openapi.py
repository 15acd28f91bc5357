"""The API's contract, live: the OpenAPI document the API serves through the load
balancer, and schemathesis requests generated from it (valid ones and, where the
document allows, invalid ones) sent to the running API with the API token: none is
answered with a 5xx.

Paced under the load balancer's rate limit (a 429 would hide what the API answers).
disruptive(1): the generated requests create, change and delete customers.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from stack_support import Site

from infra_gen.topology import Topology

pytestmark = pytest.mark.disruptive(1)

EXAMPLES = 25
"""Generated requests per operation and mode (about 650 in all, under a minute)."""
ROUTED = ("/api/", "/health/")
"""What the load balancer sends to the API (/health/ready and /metrics are internal)."""


@pytest.fixture(scope="module")
def document(site: Site) -> dict[str, Any]:
    r = site.get("/api/openapi.json")
    assert r.status_code == 200, r.text[:200]
    assert r.headers["Content-Type"].startswith("application/json")
    doc: dict[str, Any] = r.json()
    return doc


def test_the_document_is_served_and_names_every_public_route(document: dict[str, Any],
                                                             topo: Topology) -> None:
    assert document["openapi"].startswith("3.1")
    paths = set(document["paths"])
    assert {"/api/customers", "/api/customers/{customer_id}", "/api/predictions",
            "/api/predictions/{task_id}", "/api/openapi.json", "/health/"} <= paths
    # Never the test-only route, even where the API serves it (dev).
    assert not any(p.startswith("/api/_test") for p in paths)
    assert "bearer" in document["components"]["securitySchemes"]


def test_no_generated_request_gets_a_5xx(document: dict[str, Any], site: Site,
                                         api_token: str) -> None:
    schema = schemathesis.openapi.from_dict(document)
    auth = {"Authorization": f"Bearer {api_token}"}
    failures: list[str] = []
    sent = 0
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(ROUTED):
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case: Any) -> None:
                nonlocal sent
                wait = site.min_interval - (time.monotonic() - call.last)  # type: ignore[attr-defined]
                if wait > 0:
                    time.sleep(wait)
                call.last = time.monotonic()  # type: ignore[attr-defined]
                try:
                    response = case.call(base_url=site.base, session=site.session, headers=auth,
                                         timeout=15)
                except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL):
                    reject()  # not sendable at all: nothing reached the stack
                sent += 1
                if response.status_code >= 500:
                    failures.append(f"{response.status_code} {case.as_curl_command()}: "
                                    f"{response.text[:200]}")

            call.last = 0.0  # type: ignore[attr-defined]
            try:
                call()
            except Unsatisfiable:
                # No invalid request exists for an operation without inputs.
                assert mode is GenerationMode.NEGATIVE, operation.label
    elapsed = time.monotonic() - started
    print(f"\n{sent} generated requests in {elapsed:.0f} s, {len(failures)} answered 5xx")
    assert sent >= 200, sent
    assert not failures, "\n".join(failures[:10])
