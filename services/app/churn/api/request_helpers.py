"""Parsing of query parameters and ids into typed values or 4xx errors."""

from __future__ import annotations

from flask import current_app, request

from churn.api.services import ApiServices
from churn.json_errors import ApiError

# PostgreSQL BIGINT: larger ids cannot exist, and must not reach SQL as overflow errors.
MAX_ID = 2**63 - 1


def services() -> ApiServices:
    registered: ApiServices = current_app.extensions["churn"]
    return registered


def int_arg(name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, f"{name} must be an integer", name) from exc
    if not minimum <= value <= maximum:
        raise ApiError(400, f"{name} must be between {minimum} and {maximum}", name)
    return value


def check_id(customer_id: int) -> int:
    if customer_id > MAX_ID:
        raise ApiError(404, "customer not found", "customer_id")
    return customer_id
