"""Prometheus metrics of the API, recorded by request hooks."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from prometheus_client import Counter, Gauge, Histogram

from churn.metrics_export import render_metrics

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
CACHE_LOOKUPS = Counter("churn_api_cache_lookups_total", "Customer cache lookups", ["result"])


def _route() -> str:
    # The URL rule, not the path: /api/customers/<int:customer_id> is one series.
    return request.url_rule.rule if request.url_rule is not None else "unmatched"


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

        ACTIVE_CLIENTS.set(app.extensions["churn"].active_clients.count())
        check_dependencies(app.extensions["churn"])
        body, content_type = render_metrics()
        return Response(body, content_type=content_type)
