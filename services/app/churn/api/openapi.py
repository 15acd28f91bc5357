"""The API's OpenAPI 3.1 document, built from the app itself: the paths, methods and
path parameters from Flask's URL map, which routes need a token from the views
(`require_token` marks them), and every body's JSON Schema from the pydantic models
that validate requests (churn.schemas) and describe responses (churn.api.responses).
Only what Flask cannot tell (summaries, query parameters, status codes) is in
OPERATIONS, and a route missing there fails the build of the document.

Served at GET /api/openapi.json.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from werkzeug.routing import Rule

from churn import schemas
from churn.api import responses as out
from churn.api.request_helpers import MAX_ID

PATH = "/api/openapi.json"
TEST_ONLY = frozenset({"testing.deliberate_error"})
"""Endpoints left out of the document: only dev registers them (TEST_ERROR_ROUTE)."""
_IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})
_COMPONENTS = "#/components/schemas/{model}"

bp = Blueprint("openapi", __name__)


@dataclass(frozen=True)
class Query:
    """An integer query parameter (int_arg's bounds)."""

    name: str
    minimum: int
    maximum: int
    default: int
    description: str


@dataclass(frozen=True)
class Operation:
    summary: str
    responses: dict[int, type[BaseModel] | str | None]
    """Status -> the body's model; a media type for a body that is not JSON; None: no body."""
    body: type[BaseModel] | None = None
    query: tuple[Query, ...] = ()
    errors: tuple[int, ...] = ()
    """Statuses answered with ErrorBody, besides those every route may answer."""


_PAGE = (Query("page", 1, 1_000_000, 1, "Page number, from 1."),
         Query("per_page", 1, 100, 20, "Customers per page."))
_BODY_ERRORS = (400, 422)
"""Malformed JSON (400) and a body that fails validation (422)."""

OPERATIONS: dict[str, Operation] = {
    "health.live": Operation("Liveness: the process serves HTTP.", {200: out.Live}),
    "health.ready": Operation("Readiness and the state of each dependency.",
                              {200: out.Ready, 503: out.Ready}),
    "customers.list_customers": Operation("A page of customers, oldest first.",
                                          {200: out.CustomerPage}, query=_PAGE, errors=(400,)),
    "customers.get_customer": Operation("One customer.", {200: out.Customer}, errors=(404,)),
    "customers.create_customer": Operation(
        "Create a customer.", {201: out.Customer}, body=schemas.CustomerCreate,
        errors=(*_BODY_ERRORS, 409)),
    "customers.replace_customer": Operation(
        "Replace every field of a customer.", {200: out.Customer}, body=schemas.CustomerCreate,
        errors=(*_BODY_ERRORS, 404, 409)),
    "customers.patch_customer": Operation(
        "Change some fields of a customer.", {200: out.Customer}, body=schemas.CustomerPatch,
        errors=(*_BODY_ERRORS, 404, 409)),
    "customers.delete_customer": Operation("Delete a customer.", {204: None}, errors=(404,)),
    "customers.top_risk": Operation(
        "Customers with the highest risk score.", {200: out.TopRisk},
        query=(Query("limit", 1, 100, 10, "How many customers."),), errors=(400,)),
    "customers.risk_history": Operation(
        "A customer's risk scores, newest first.", {200: out.RiskHistory},
        query=(Query("limit", 1, 500, 50, "How many scores."),), errors=(400, 404)),
    "customers.record_outcome": Operation(
        "Record whether the customer really churned (labels the newest prediction).",
        {200: out.Outcome}, body=schemas.OutcomeRecord, errors=(*_BODY_ERRORS, 404)),
    "predictions.create_prediction": Operation(
        "Queue a churn prediction for a customer; poll the Location.",
        {202: out.PredictionAccepted}, body=schemas.PredictionRequest,
        errors=(*_BODY_ERRORS, 404)),
    "predictions.get_prediction": Operation("The state or result of a prediction.",
                                            {200: out.PredictionState}, errors=(404,)),
    "openapi.document": Operation("This document.", {200: "application/json"}),
    "metrics": Operation("Prometheus metrics (not routed by the load balancer).",
                         {200: "text/plain"}),
}

_STANDARD_ERRORS = {
    401: "Missing or unknown bearer token.",
    400: "Malformed request (not JSON, bad query parameter).",
    404: "Not found.",
    405: "Method not allowed.",
    409: "Conflicts with another resource (external_id in use).",
    422: "The body failed validation; `field` names the first bad field.",
    503: "A dependency is down; retry after Retry-After seconds.",
}

_PARAM = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


def _path_parameters(rule: Rule) -> tuple[str, list[dict[str, Any]]]:
    """Flask's /api/customers/<int:customer_id> -> /api/customers/{customer_id} and
    its parameters."""
    params: list[dict[str, Any]] = []

    def convert(match: re.Match[str]) -> str:
        name, converter = match["name"], match["converter"] or "default"
        if converter == "int":
            # Flask's int converter takes digits only; ids are PostgreSQL BIGINTs.
            schema: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
        elif converter in ("default", "string"):
            schema = {"type": "string", "pattern": "^[^/]+$"}
        else:
            raise ValueError(f"{rule.rule}: no schema for the {converter!r} converter")
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    return _PARAM.sub(convert, rule.rule), params


def _media(kind: type[BaseModel] | str, refs: dict[type[BaseModel], str]) -> dict[str, Any]:
    if isinstance(kind, str):
        schema: dict[str, Any] = {"type": "object"} if kind == "application/json" else {
            "type": "string"}
        return {kind: {"schema": schema}}
    return {"application/json": {"schema": {"$ref": refs[kind]}}}


def _models() -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {"ErrorBody": out.ErrorBody}
    for op in OPERATIONS.values():
        for kind in (op.body, *op.responses.values()):
            if isinstance(kind, type):
                found[kind.__name__] = kind
    return [found[name] for name in sorted(found)]


def _operation(endpoint: str, op: Operation, rule: Rule,
               refs: dict[type[BaseModel], str]) -> dict[str, Any]:
    view = current_app.view_functions[endpoint]
    secured = bool(getattr(view, "requires_token", False))
    responses: dict[str, Any] = {}
    for status, kind in sorted(op.responses.items()):
        entry: dict[str, Any] = {"description": "OK" if status < 300 else "Error"}
        if kind is not None:
            entry["content"] = _media(kind, refs)
        responses[str(status)] = entry
    error = {"application/json": {"schema": {"$ref": refs[out.ErrorBody]}}}
    errors = {*op.errors, *((401,) if secured else ())}
    for status in sorted(errors):
        responses.setdefault(str(status), {"description": _STANDARD_ERRORS[status],
                                           "content": error})
    _, params = _path_parameters(rule)
    params += [{"name": q.name, "in": "query", "required": False, "description": q.description,
                "schema": {"type": "integer", "minimum": q.minimum, "maximum": q.maximum,
                           "default": q.default}} for q in op.query]
    doc: dict[str, Any] = {"operationId": endpoint.replace(".", "_"), "summary": op.summary,
                           "responses": responses}
    if params:
        doc["parameters"] = params
    if op.body is not None:
        doc["requestBody"] = {"required": True,
                              "content": {"application/json": {"schema": {"$ref": refs[op.body]}}}}
    if secured:
        doc["security"] = [{"bearer": []}]
    return doc


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of `app` (call inside its app context)."""
    models = _models()
    keys, defs = models_json_schema(
        [(m, "serialization" if m.__module__ == out.__name__ else "validation") for m in models],
        ref_template=_COMPONENTS)
    refs: dict[type[BaseModel], str] = {
        m: str(schema["$ref"]) for (m, _), schema in keys.items() if issubclass(m, BaseModel)}
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static" or rule.endpoint in TEST_ONLY:
            continue
        op = OPERATIONS.get(rule.endpoint)
        if op is None:
            raise KeyError(f"{rule.rule} ({rule.endpoint}): not in churn.api.openapi.OPERATIONS")
        path, _ = _path_parameters(rule)
        for method in sorted((rule.methods or set()) - _IGNORED_METHODS):
            paths.setdefault(path, {})[method.lower()] = _operation(rule.endpoint, op, rule, refs)
    from churn import __version__

    return {
        "openapi": "3.1.0",
        "info": {"title": "churn API", "version": __version__,
                 "description": "Customers, churn predictions and their outcomes. Errors are "
                                "`{\"error\": ..., \"field\": ...}`."},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "An API token (churn create-token)."}},
        },
    }


@bp.get(PATH)
def document() -> Response:
    doc = current_app.extensions.get("churn.openapi")
    if doc is None:
        doc = current_app.extensions["churn.openapi"] = build_document(current_app)
    return jsonify(doc)
