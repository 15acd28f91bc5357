"""Bad input gets a 4xx JSON error naming the field, and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from churn_fakes import InMemoryStore
from conftest import AUTH, VALID_CUSTOMER


def _with(**changes: Any) -> dict[str, Any]:
    return {**VALID_CUSTOMER, **changes}


def _without(field: str) -> dict[str, Any]:
    return {k: v for k, v in VALID_CUSTOMER.items() if k != field}


CREATE_CASES = [
    # (case, raw body or JSON value, expected status, expected field)
    ("malformed json", b"{not json", 400, "body"),
    ("empty body", b"", 400, "body"),
    ("NaN is not JSON", b'{"tenure_months": NaN}', 400, "body"),
    ("array instead of object", [VALID_CUSTOMER], 422, "body"),
    ("missing field", _without("email"), 422, "email"),
    ("unknown field", _with(plan="gold"), 422, "plan"),
    ("string for int", _with(tenure_months="12"), 422, "tenure_months"),
    ("float for int", _with(support_calls=1.5), 422, "support_calls"),
    ("bool for int", _with(support_calls=True), 422, "support_calls"),
    ("negative tenure", _with(tenure_months=-1), 422, "tenure_months"),
    ("string for money", _with(monthly_charges="9.99"), 422, "monthly_charges"),
    ("negative money", _with(total_charges=-5.0), 422, "total_charges"),
    ("unknown contract", _with(contract_type="weekly"), 422, "contract_type"),
    ("bad email", _with(email="not-an-email"), 422, "email"),
    ("empty name", _with(name="   "), 422, "name"),
    ("null name", _with(name=None), 422, "name"),
]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [case[1:] for case in CREATE_CASES],
    ids=[case[0] for case in CREATE_CASES],
)
def test_create_rejects(api: Any, store: InMemoryStore, body: Any, status: int, field: str) -> None:
    if isinstance(body, bytes):
        response = api.post("/api/customers", data=body, headers={**AUTH, "Content-Type": "application/json"})
    else:
        response = api.post("/api/customers", json=body, headers=AUTH)
    assert response.status_code == status, response.get_json()
    error = response.get_json()
    assert error["field"] == field
    assert error["error"]
    assert store.writes == 0


PATCH_CASES = [
    ("empty patch", {}, 422, "body"),
    ("null for required column", {"email": None}, 422, "email"),
    ("unknown field", {"risk_score": 0.1}, 422, "risk_score"),
    ("wrong type", {"tenure_months": "ten"}, 422, "tenure_months"),
]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [case[1:] for case in PATCH_CASES],
    ids=[case[0] for case in PATCH_CASES],
)
def test_patch_rejects_without_partial_write(
    api: Any, store: InMemoryStore, body: Any, status: int, field: str
) -> None:
    created = api.post("/api/customers", json=VALID_CUSTOMER, headers=AUTH).get_json()
    before = store.snapshot()
    response = api.patch(f"/api/customers/{created['id']}", json=body, headers=AUTH)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["field"] == field
    assert store.snapshot() == before


PREDICTION_CASES = [
    ("missing customer_id", {}, 422, "customer_id"),
    ("string id", {"customer_id": "1"}, 422, "customer_id"),
    ("zero id", {"customer_id": 0}, 422, "customer_id"),
    ("extra field", {"customer_id": 1, "priority": "high"}, 422, "priority"),
    ("unknown customer", {"customer_id": 424242}, 404, "customer_id"),
    ("id beyond bigint", {"customer_id": 2**70}, 404, "customer_id"),
]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [case[1:] for case in PREDICTION_CASES],
    ids=[case[0] for case in PREDICTION_CASES],
)
def test_prediction_request_rejects(api: Any, body: Any, status: int, field: str) -> None:
    response = api.post("/api/predictions", json=body, headers=AUTH)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["field"] == field


@pytest.mark.parametrize(
    ("query", "field"),
    [("page=0", "page"), ("per_page=1000", "per_page"), ("page=abc", "page")],
)
def test_bad_pagination_is_400(api: Any, query: str, field: str) -> None:
    response = api.get(f"/api/customers?{query}")
    assert response.status_code == 400
    assert response.get_json()["field"] == field


def test_unknown_route_and_method_are_json(api: Any) -> None:
    assert api.get("/api/nothing").get_json()["error"]
    response = api.delete("/api/customers", headers=AUTH)
    assert response.status_code == 405
    assert response.get_json()["error"]
