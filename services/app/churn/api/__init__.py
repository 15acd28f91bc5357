"""The REST API (Flask). Served by gunicorn as `churn.api.wsgi:app`."""

from __future__ import annotations

import hashlib
import socket

from flask import Flask, Response, request

from churn.api import openapi
from churn.api.auth import bearer_token
from churn.api.metrics import install_metrics
from churn.api.routes import customers, health, predictions, testing
from churn.api.services import ApiServices, build_services
from churn.config import Config
from churn.json_errors import register_error_handlers

# Requests from probes and scrapers are not users.
_UNTRACKED_PATHS = frozenset({"/health/", "/health/ready", "/metrics"})


def _client_identity() -> str:
    token = bearer_token()
    if token is not None:
        # A short digest: identifies the token without putting it in Redis.
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]
    forwarded = request.headers.get("X-Forwarded-For", "")
    address = forwarded.split(",")[0].strip() or request.remote_addr or "unknown"
    return "addr:" + address


def create_app(config: Config | None = None, services: ApiServices | None = None) -> Flask:
    """Build the API. `services` replaces the PostgreSQL/Redis/Celery wiring (tests)."""
    config = config or Config.from_env()
    app = Flask(__name__)
    app.config["SECRET_KEY"] = config.require("secret_key")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["churn"] = services or build_services(config)
    served_by = socket.gethostname()

    @app.before_request
    def _track_client() -> None:
        if request.path not in _UNTRACKED_PATHS:
            app.extensions["churn"].active_clients.seen(_client_identity())

    @app.after_request
    def _served_by(response: Response) -> Response:
        # Lets the load balancer's spreading of requests be observed from outside.
        response.headers["X-Served-By"] = served_by
        return response

    register_error_handlers(app)
    install_metrics(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(customers.bp)
    app.register_blueprint(predictions.bp)
    app.register_blueprint(openapi.bp)
    if config.test_error_route:
        app.register_blueprint(testing.bp)
    return app
