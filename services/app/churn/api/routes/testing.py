"""A test-only route: GET /api/_test/error raises an unhandled error on purpose, so a
stack test sees it reach error tracking (the 500 handler reports it).

Registered only when TEST_ERROR_ROUTE=1 (the model's
error_tracking.test_error_route, on in dev only): production never has it."""

from __future__ import annotations

from flask import Blueprint, Response, request

bp = Blueprint("testing", __name__, url_prefix="/api/_test")

PATH = "/api/_test/error"


class DeliberateError(RuntimeError):
    """Raised by the test route; its message carries the caller's marker."""


@bp.get("/error")
def deliberate_error() -> Response:
    marker = request.args.get("marker", "")[:64]
    raise DeliberateError(f"deliberate error for the error-tracking test {marker}".strip())
