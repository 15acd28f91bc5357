"""Prometheus exposition shared by the API and the ML service.

Under gunicorn each worker is a separate process; when PROMETHEUS_MULTIPROC_DIR is
set (churn.gunicorn_conf sets it) every process writes its samples to files there and
the scrape aggregates them, so counters are totals over all workers rather than
whichever worker happened to answer the scrape.
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector


def render_metrics() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
