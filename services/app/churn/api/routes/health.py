"""Readiness: 200 only when every dependency answers."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from churn.api.request_helpers import services

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/health/")
def health() -> tuple[Response, int]:
    failures: dict[str, str] = {}
    for name, check in services().health_checks.items():
        try:
            check()
        except Exception as exc:  # any failure of a dependency means "not ready"
            failures[name] = str(exc) or type(exc).__name__
    if failures:
        log.warning("health check failed: %s", failures)
        return jsonify(
            {"status": "unavailable", "failed": sorted(failures), "errors": failures}
        ), 503
    return jsonify({"status": "ok"}), 200
