"""JSON bodies in, JSON errors out: every failure answers `{"error": "...", "field": "..."}`."""

from __future__ import annotations

import json
import logging
from typing import Any

import psycopg
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from churn.error_tracking import report
from churn.errors import StoreUnavailableError
from churn.schemas import BodyError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An expected client-visible failure with its HTTP status."""

    def __init__(
        self, status: int, message: str, field: str | None = None, *, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.retry_after = retry_after


# Seconds a client should wait before retrying when the database is down.
DATABASE_RETRY_AFTER_SECONDS = 5


def error_response(
    status: int, message: str, field: str | None = None, *, retry_after: int | None = None
) -> tuple[Response, int]:
    response = jsonify({"error": message, "field": field})
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response, status


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects a body may have (the API's bodies are flat)."""


def _reject_nul(text: str) -> str:
    # PostgreSQL text cannot hold NUL (psycopg raises DataError): refuse it at the door.
    if "\x00" in text:
        raise ValueError("strings may not contain NUL (\\u0000)")
    # A lone surrogate (\ud800 in the JSON) decodes, but no UTF-8 can hold it.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("strings may not contain lone surrogates") from None
    return text


def _check_value(value: Any, depth: int = 0) -> None:
    """No key or string holds NUL, and nesting stays within MAX_JSON_DEPTH."""
    if isinstance(value, str):
        _reject_nul(value)
        return
    if isinstance(value, dict | list) and depth >= MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            _reject_nul(key)
            _check_value(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_value(item, depth + 1)


def json_body() -> Any:
    """The decoded request body (any Content-Type); 400 naming `body` when it is not JSON,
    nests deeper than MAX_JSON_DEPTH or carries a NUL character."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise ApiError(400, "request body must be JSON", "body")
    try:
        # parse_constant: the json module would otherwise accept NaN and Infinity.
        # RecursionError: the decoder recurses per nesting level (100 000 deep).
        body = json.loads(raw, parse_constant=_reject_constant)
        _check_value(body)
        return body
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ApiError(400, f"malformed JSON: {exc}", "body") from exc


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> tuple[Response, int]:
        return error_response(exc.status, exc.message, exc.field, retry_after=exc.retry_after)

    @app.errorhandler(BodyError)
    def _body_error(exc: BodyError) -> tuple[Response, int]:
        return error_response(422, exc.message, exc.field)

    @app.errorhandler(StoreUnavailableError)
    def _store_down(exc: StoreUnavailableError) -> tuple[Response, int]:
        log.warning("database unavailable: %s", exc)
        return error_response(503, "database unavailable", retry_after=DATABASE_RETRY_AFTER_SECONDS)

    @app.errorhandler(psycopg.DataError)
    def _bad_value(exc: psycopg.DataError) -> tuple[Response, int]:
        # A value PostgreSQL cannot store (NUL in a header-borne token, say): the
        # client's input, not a server fault. Validation should have caught it first.
        log.warning("value refused by the database: %s", exc)
        return error_response(400, "invalid value")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        return error_response(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unhandled error")
        # This handler answers the request, so Flask's own exception signal (which the
        # SDK's Flask integration listens to) never fires: report it here.
        report(exc)
        return error_response(500, "internal error")
