"""Two meanings of health.

`/health/` is liveness: the process serves HTTP. The container healthcheck and the
load balancer use it, so a degraded dependency never takes a replica out of the
pool (every replica shares the same dependencies: taking them all out turns a
degraded read path into an outage). `/health/ready` is readiness and dependency
status: each dependency's state, 503 only when a required one (the primary
database) is down. The same states are exported as churn_api_dependency_up.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from churn.api.metrics import DEPENDENCY_UP
from churn.api.request_helpers import services
from churn.api.services import ApiServices

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/health/")
def live() -> Response:
    return jsonify({"status": "ok"})


def check_dependencies(svc: ApiServices) -> dict[str, str]:
    """"ok" or the error of every dependency; records churn_api_dependency_up."""
    states: dict[str, str] = {}
    for name, check in svc.health_checks.items():
        try:
            check()
            states[name] = "ok"
        except Exception as exc:  # any failure of a dependency means "down"
            states[name] = str(exc) or type(exc).__name__
        DEPENDENCY_UP.labels(name).set(1 if states[name] == "ok" else 0)
    return states


@bp.get("/health/ready")
def ready() -> tuple[Response, int]:
    svc = services()
    states = check_dependencies(svc)
    down = sorted(name for name, state in states.items() if state != "ok")
    if down:
        log.warning("dependencies down: %s", {name: states[name] for name in down})
    not_ready = [name for name in down if name in svc.required_checks]
    status = "unavailable" if not_ready else "degraded" if down else "ok"
    body = {"status": status, "failed": down, "dependencies": states}
    return jsonify(body), 503 if not_ready else 200
