"""The REST API through Flask's test client, on in-memory fakes."""

from __future__ import annotations

import json
import math
import socket
import time
from typing import Any

import pytest
from churn.api import create_app
from churn.api.cache import RedisCustomerCache
from churn.api.queue import TaskState
from churn.api.services import ApiServices
from churn.config import Config
from churn.redis_cache import cache_client
from churn_fakes import FakeQueue, InMemoryStore
from conftest import AUTH, VALID_CUSTOMER


def _create(api: Any, **overrides: Any) -> dict[str, Any]:
    response = api.post("/api/customers", json={**VALID_CUSTOMER, **overrides}, headers=AUTH)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_every_response_names_the_serving_host(api: Any) -> None:
    for response in (api.get("/health/"), api.get("/api/customers/999"), api.get("/nope")):
        assert response.headers["X-Served-By"] == socket.gethostname()


def _down() -> None:
    raise ConnectionError("connection refused")


def test_readiness_ok_when_all_checks_pass(config: Any, api_services: ApiServices) -> None:
    api_services.health_checks = {"database": lambda: None, "redis": lambda: None}
    response = create_app(config, services=api_services).test_client().get("/health/ready")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok", "failed": [], "dependencies": {"database": "ok", "redis": "ok"}}


@pytest.mark.parametrize(("down", "code", "status"), [
    ({"redis"}, 200, "degraded"),
    ({"replica"}, 200, "degraded"),
    ({"replica", "redis"}, 200, "degraded"),
    ({"database"}, 503, "unavailable"),
    ({"database", "redis"}, 503, "unavailable"),
])
def test_readiness_names_what_failed_and_only_the_primary_makes_it_unready(
        config: Any, api_services: ApiServices, down: set[str], code: int, status: str) -> None:
    api_services.health_checks = {
        name: _down if name in down else (lambda: None) for name in ("database", "replica", "redis")}
    client = create_app(config, services=api_services).test_client()
    response = client.get("/health/ready")
    assert response.status_code == code
    body = response.get_json()
    assert (body["status"], body["failed"]) == (status, sorted(down))
    assert body["dependencies"]["database"] == ("connection refused" if "database" in down else "ok")
    # Liveness ignores dependencies: the load balancer keeps every replica.
    live = client.get("/health/")
    assert (live.status_code, live.get_json()) == (200, {"status": "ok"})
    # Each dependency's state is a metric too.
    metrics = client.get("/metrics").get_data(as_text=True)
    for name in ("database", "replica", "redis"):
        up = 0 if name in down else 1
        assert f'churn_api_dependency_up{{dependency="{name}"}} {up}.0' in metrics, metrics


def test_create_get_update_delete_roundtrip(api: Any) -> None:
    created = _create(api)
    assert created["risk_score"] is None
    url = f"/api/customers/{created['id']}"
    assert api.get(url).get_json()["email"] == "ada@example.com"

    patched = api.patch(url, json={"support_calls": 0}, headers=AUTH)
    assert patched.status_code == 200
    assert patched.get_json()["support_calls"] == 0

    replaced = api.put(url, json={**VALID_CUSTOMER, "name": "Ada King"}, headers=AUTH)
    assert replaced.get_json()["name"] == "Ada King"
    assert replaced.get_json()["support_calls"] == 4

    assert api.delete(url, headers=AUTH).status_code == 204
    assert api.get(url).status_code == 404


def test_list_paginates(api: Any) -> None:
    for n in range(5):
        _create(api, external_id=f"C-{n}")
    page = api.get("/api/customers?page=2&per_page=2").get_json()
    assert [c["external_id"] for c in page["items"]] == ["C-2", "C-3"]
    assert page["total"] == 5


def test_duplicate_external_id_is_409(api: Any, store: InMemoryStore) -> None:
    _create(api)
    response = api.post("/api/customers", json=VALID_CUSTOMER, headers=AUTH)
    assert response.status_code == 409
    assert response.get_json()["field"] == "external_id"
    assert len(store.customers) == 1


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, "missing bearer token"),
        ({"Authorization": "Bearer wrong"}, "invalid token"),
        ({"Authorization": "Basic dXNlcjpwdw=="}, "missing bearer token"),
    ],
)
def test_writes_need_a_valid_token(
    api: Any, store: InMemoryStore, headers: dict[str, str], error: str
) -> None:
    response = api.post("/api/customers", json=VALID_CUSTOMER, headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {"error": error, "field": "Authorization"}
    assert store.writes == 0


def test_cached_read_is_invalidated_on_update(config: Any, store: InMemoryStore) -> None:
    cache = DictCache()
    services = ApiServices(customers=store, tokens=store, predictions=FakeQueue(), cache=cache)
    api = create_app(config, services=services).test_client()
    customer = _create(api)
    url = f"/api/customers/{customer['id']}"
    api.get(url)
    assert customer["id"] in cache.entries
    api.patch(url, json={"name": "Changed"}, headers=AUTH)
    assert customer["id"] not in cache.entries
    assert api.get(url).get_json()["name"] == "Changed"


def test_cache_fails_open_when_redis_is_down(config: Any, store: InMemoryStore) -> None:
    # Nothing listens on port 1: every Redis call fails with "connection refused".
    unreachable = cache_client(Config(redis_host="127.0.0.1", redis_port=1))
    services = ApiServices(
        customers=store,
        tokens=store,
        predictions=FakeQueue(),
        cache=RedisCustomerCache(unreachable),
    )
    api = create_app(config, services=services).test_client()
    customer = _create(api)
    started = time.perf_counter()
    response = api.get(f"/api/customers/{customer['id']}")
    assert time.perf_counter() - started < 1.0, "a dead cache must not stall reads"
    assert response.status_code == 200
    assert response.get_json()["name"] == "Ada Lovelace"
    assert api.patch(f"/api/customers/{customer['id']}", json={"name": "X"}, headers=AUTH).status_code == 200


def test_database_outage_is_503_not_500(api: Any, store: InMemoryStore) -> None:
    store.down = True
    response = api.get("/api/customers")
    assert response.status_code == 503
    assert response.get_json()["error"] == "database unavailable"


def test_prediction_is_queued_and_reported(api: Any, store: InMemoryStore, queue: FakeQueue) -> None:
    customer = _create(api)
    response = api.post("/api/predictions", json={"customer_id": customer["id"]}, headers=AUTH)
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "pending"
    assert queue.enqueued == [(body["id"], customer["id"])]

    assert api.get(f"/api/predictions/{body['id']}").get_json()["status"] == "pending"
    store.record_score(customer["id"], body["id"], 0.9, "m1")
    done = api.get(f"/api/predictions/{body['id']}").get_json()
    assert done["status"] == "done"
    assert done["risk_score"] == 0.9


def test_failed_prediction_is_reported(api: Any, queue: FakeQueue) -> None:
    task_id = "00000000-0000-4000-8000-000000000042"
    queue.states[task_id] = TaskState("failed", error="customer 7 not found")
    body = api.get(f"/api/predictions/{task_id}").get_json()
    assert body["status"] == "failed"
    assert body["error"] == "customer 7 not found"


def test_unknown_prediction_id_is_404(api: Any) -> None:
    assert api.get("/api/predictions/not-a-uuid").status_code == 404


def test_prediction_for_unknown_customer_is_404(api: Any, queue: FakeQueue) -> None:
    response = api.post("/api/predictions", json={"customer_id": 999}, headers=AUTH)
    assert response.status_code == 404
    assert response.get_json()["field"] == "customer_id"
    assert queue.enqueued == []


def test_top_risk_and_history(api: Any, store: InMemoryStore) -> None:
    low, high, _unscored = (_create(api, external_id=f"C-{n}") for n in range(3))
    store.record_score(low["id"], "t1", 0.2, "m1")
    store.record_score(high["id"], "t2", 0.8, "m1")
    store.record_score(high["id"], "t3", 0.95, "m1")
    top = api.get("/api/customers/top-risk?limit=5").get_json()["items"]
    assert [c["id"] for c in top] == [high["id"], low["id"]]
    history = api.get(f"/api/customers/{high['id']}/risk-history").get_json()["items"]
    assert [h["risk_score"] for h in history] == [0.95, 0.8]
    assert api.get("/api/customers/999/risk-history").status_code == 404


def test_metrics_count_requests_by_route_and_status(api: Any) -> None:
    api.get("/api/customers/12345")
    text = api.get("/metrics").get_data(as_text=True)
    assert (
        'churn_api_requests_total{method="GET",route="/api/customers/<int:customer_id>",status="404"}' in text
    )
    assert "churn_api_request_duration_seconds_bucket" in text
    assert "churn_api_active_clients" in text


def _gauge(text: str, name: str) -> float:
    (line,) = [ln for ln in text.splitlines() if ln.startswith(name + " ")]
    return float(line.split()[1])


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"churned": "yes"}, 422, "churned"),
    ({"churned": 1}, 422, "churned"),
    ({}, 422, "churned"),
    ({"churned": True, "extra": 1}, 422, "extra"),
])
def test_outcome_bad_bodies(api: Any, body: dict[str, Any], status: int, field: str) -> None:
    customer = _create(api)
    r = api.put(f"/api/customers/{customer['id']}/outcome", json=body, headers=AUTH)
    assert r.status_code == status, r.get_json()
    assert field in json.dumps(r.get_json())


def test_outcomes_label_predictions_and_feed_the_live_accuracy(api: Any, store: Any) -> None:
    before = api.get("/metrics").get_data(as_text=True)
    # Nothing labelled yet: 0 of 0 is NaN (the series exists; no alert compares true).
    assert _gauge(before, "churn_model_labelled_predictions") == 0
    assert math.isnan(_gauge(before, "churn_model_live_accuracy"))
    right, wrong, unpredicted = (_create(api, external_id=f"O-{n}") for n in range(3))
    store.record_score(right["id"], "o1", 0.9, "m1")   # predicted churn
    store.record_score(wrong["id"], "o2", 0.1, "m1")   # predicted stay
    assert api.put(f"/api/customers/{right['id']}/outcome", json={"churned": True}).status_code == 401
    for customer, churned in ((right, True), (wrong, True), (unpredicted, False)):
        r = api.put(f"/api/customers/{customer['id']}/outcome", json={"churned": churned},
                    headers=AUTH)
        assert r.status_code == 200 and r.get_json()["churned"] is churned
    assert api.put("/api/customers/99999/outcome", json={"churned": True},
                   headers=AUTH).status_code == 404
    text = api.get("/metrics").get_data(as_text=True)
    # The unpredicted customer labels nothing: 2 labelled, 1 right.
    assert _gauge(text, "churn_model_labelled_predictions") == 2
    assert _gauge(text, "churn_model_live_accuracy") == 0.5
    # A corrected outcome replaces the first one.
    api.put(f"/api/customers/{wrong['id']}/outcome", json={"churned": False}, headers=AUTH)
    text = api.get("/metrics").get_data(as_text=True)
    assert _gauge(text, "churn_model_live_accuracy") == 1.0


def test_metrics_survive_a_database_outage(api: Any, store: Any) -> None:
    store.down = True
    assert api.get("/metrics").status_code == 200


class DictCache:
    def __init__(self) -> None:
        self.entries: dict[int, dict[str, Any]] = {}

    def get(self, customer_id: int) -> dict[str, Any] | None:
        return self.entries.get(customer_id)

    def put(self, customer_id: int, customer: dict[str, Any]) -> None:
        self.entries[customer_id] = customer

    def invalidate(self, customer_id: int) -> None:
        self.entries.pop(customer_id, None)
