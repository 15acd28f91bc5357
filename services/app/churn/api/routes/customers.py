"""Customers: CRUD, top-risk ranking and risk history."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, url_for

from churn.api.auth import require_token
from churn.api.metrics import CACHE_LOOKUPS
from churn.api.request_helpers import check_id, int_arg, services
from churn.errors import DuplicateExternalIdError
from churn.json_errors import ApiError, json_body
from churn.schemas import BodyError, CustomerCreate, CustomerPatch, OutcomeRecord, validate_body

bp = Blueprint("customers", __name__, url_prefix="/api/customers")


def _not_found() -> ApiError:
    return ApiError(404, "customer not found", "customer_id")


def _duplicate() -> ApiError:
    return ApiError(409, "external_id is already used by another customer", "external_id")


@bp.get("")
def list_customers() -> Response:
    page = int_arg("page", 1, 1, 1_000_000)
    per_page = int_arg("per_page", 20, 1, 100)
    result = services().customers.list_customers(limit=per_page, offset=(page - 1) * per_page)
    return jsonify(
        {
            "items": [c.to_json() for c in result.items],
            "page": page,
            "per_page": per_page,
            "total": result.total,
        }
    )


@bp.get("/<int:customer_id>")
def get_customer(customer_id: int) -> Response:
    svc = services()
    cached = svc.cache.get(check_id(customer_id))
    if cached is not None:
        CACHE_LOOKUPS.labels("hit").inc()
        return jsonify(cached)
    CACHE_LOOKUPS.labels("miss").inc()
    customer = svc.customers.get_customer(customer_id)
    if customer is None:
        raise _not_found()
    data = customer.to_json()
    svc.cache.put(customer_id, data)
    return jsonify(data)


@bp.post("")
@require_token
def create_customer() -> tuple[Response, int, dict[str, str]]:
    fields = validate_body(CustomerCreate, json_body()).model_dump()
    try:
        customer = services().customers.create_customer(fields)
    except DuplicateExternalIdError as exc:
        raise _duplicate() from exc
    location = url_for("customers.get_customer", customer_id=customer.id)
    return jsonify(customer.to_json()), 201, {"Location": location}


def _changes_from_body(*, partial: bool) -> dict[str, Any]:
    body = json_body()
    if not partial:
        return validate_body(CustomerCreate, body).model_dump()
    changes = validate_body(CustomerPatch, body).model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None:
            raise BodyError("may not be null", name)
    if not changes:
        raise BodyError("no fields to update", "body")
    return changes


def _update(customer_id: int, *, partial: bool) -> Response:
    changes = _changes_from_body(partial=partial)
    svc = services()
    try:
        customer = svc.customers.update_customer(check_id(customer_id), changes)
    except DuplicateExternalIdError as exc:
        raise _duplicate() from exc
    if customer is None:
        raise _not_found()
    svc.cache.invalidate(customer_id)
    return jsonify(customer.to_json())


@bp.put("/<int:customer_id>")
@require_token
def replace_customer(customer_id: int) -> Response:
    return _update(customer_id, partial=False)


@bp.patch("/<int:customer_id>")
@require_token
def patch_customer(customer_id: int) -> Response:
    return _update(customer_id, partial=True)


@bp.delete("/<int:customer_id>")
@require_token
def delete_customer(customer_id: int) -> tuple[str, int]:
    svc = services()
    if not svc.customers.delete_customer(check_id(customer_id)):
        raise _not_found()
    svc.cache.invalidate(customer_id)
    return "", 204


@bp.get("/top-risk")
def top_risk() -> Response:
    limit = int_arg("limit", 10, 1, 100)
    customers = services().customers.top_risk(limit)
    return jsonify({"items": [c.to_json() for c in customers], "limit": limit})


@bp.get("/<int:customer_id>/risk-history")
def risk_history(customer_id: int) -> Response:
    limit = int_arg("limit", 50, 1, 500)
    history = services().customers.risk_history(check_id(customer_id), limit)
    if history is None:
        raise _not_found()
    return jsonify({"customer_id": customer_id, "items": [r.to_json() for r in history]})


@bp.put("/<int:customer_id>/outcome")
@require_token
def record_outcome(customer_id: int) -> Response:
    """The customer's real outcome (churned or stayed), once known: it labels the
    newest prediction made before it, and the API's live accuracy metric counts it."""
    outcome = validate_body(OutcomeRecord, json_body())
    if not services().customers.record_outcome(check_id(customer_id), outcome.churned):
        raise _not_found()
    return jsonify({"customer_id": customer_id, "churned": outcome.churned})
