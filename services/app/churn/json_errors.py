"""JSON bodies in, JSON errors out: every failure answers `{"error": "...", "field": "..."}`."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from churn.errors import StoreUnavailableError
from churn.schemas import BodyError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An expected client-visible failure with its HTTP status."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def error_response(status: int, message: str, field: str | None = None) -> tuple[Response, int]:
    return jsonify({"error": message, "field": field}), status


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def json_body() -> Any:
    """The decoded request body (any Content-Type); 400 naming `body` when it is not JSON."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise ApiError(400, "request body must be JSON", "body")
    try:
        # parse_constant: the json module would otherwise accept NaN and Infinity.
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"malformed JSON: {exc}", "body") from exc


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> tuple[Response, int]:
        return error_response(exc.status, exc.message, exc.field)

    @app.errorhandler(BodyError)
    def _body_error(exc: BodyError) -> tuple[Response, int]:
        return error_response(422, exc.message, exc.field)

    @app.errorhandler(StoreUnavailableError)
    def _store_down(exc: StoreUnavailableError) -> tuple[Response, int]:
        log.warning("database unavailable: %s", exc)
        return error_response(503, "database unavailable")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        return error_response(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unhandled error")
        return error_response(500, "internal error")
