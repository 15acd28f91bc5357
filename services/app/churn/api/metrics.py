"""Prometheus metrics of the API, recorded by request hooks."""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, Response, g, request
from prometheus_client import Counter, Gauge, Histogram

from churn.metrics_export import render_metrics
from churn.store.protocols import CustomerStore

log = logging.getLogger(__name__)

REQUESTS = Counter(
    "churn_api_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "churn_api_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ERRORS = Counter("churn_api_errors_total", "Responses with status >= 500", ["route", "status"])
ACTIVE_CLIENTS = Gauge(
    "churn_api_active_clients",
    "Distinct API clients (tokens or addresses) seen in the last 5 minutes",
    multiprocess_mode="mostrecent",
)
DEPENDENCY_UP = Gauge(
    "churn_api_dependency_up",
    "1 when the dependency answered the last readiness check (every scrape runs one)",
    ["dependency"],
    multiprocess_mode="mostrecent",
)
LIVE_ACCURACY = Gauge(
    "churn_model_live_accuracy",
    "Share of labelled predictions the model got right (outcomes of the last "
    "LIVE_ACCURACY_DAYS days, each against the newest prediction before it)",
    multiprocess_mode="mostrecent",
)
LABELLED = Gauge(
    "churn_model_labelled_predictions",
    "Predictions with a recorded real outcome in the live accuracy's window",
    multiprocess_mode="mostrecent",
)
LIVE_ACCURACY_DAYS = 30
CACHE_LOOKUPS = Counter("churn_api_cache_lookups_total", "Customer cache lookups", ["result"])


def _route() -> str:
    # The URL rule, not the path: /api/customers/<int:customer_id> is one series.
    return request.url_rule.rule if request.url_rule is not None else "unmatched"


def _live_accuracy(customers: CustomerStore) -> None:
    """Computed at scrape time (one indexed query). With no labelled prediction the
    accuracy is NaN (0 of 0): the series exists, and no comparison with it is true, so
    the alert (which also needs enough labelled predictions) stays quiet."""
    try:
        labelled, accuracy = customers.live_accuracy(LIVE_ACCURACY_DAYS)
    except Exception:  # database down: /health/ready and its gauge say so already
        log.warning("live accuracy not computed: database unavailable", exc_info=True)
        return
    LABELLED.set(labelled)
    LIVE_ACCURACY.set(math.nan if accuracy is None else accuracy)


def install_metrics(app: Flask) -> None:
    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _record(response: Response) -> Response:
        started = g.get("request_started")
        route = _route()
        status = str(response.status_code)
        REQUESTS.labels(request.method, route, status).inc()
        if started is not None:
            LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        if response.status_code >= 500:
            ERRORS.labels(route, status).inc()
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        from churn.api.routes.health import check_dependencies

        svc = app.extensions["churn"]
        ACTIVE_CLIENTS.set(svc.active_clients.count())
        check_dependencies(svc)
        _live_accuracy(svc.customers)
        body, content_type = render_metrics()
        return Response(body, content_type=content_type)
