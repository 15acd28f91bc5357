"""Worker metrics, served on METRICS_PORT by the worker's main process.

The Celery app runs the threads pool (see celery_app.py), so tasks execute in the
process that serves /metrics and plain in-process counters are exact.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import signals
from prometheus_client import Counter, Histogram, start_http_server

from churn.config import Config
from churn.error_tracking import init_error_tracking
from churn.error_tracking import status as error_tracking_status

log = logging.getLogger(__name__)

TASKS_SUCCEEDED = Counter("churn_worker_tasks_succeeded_total", "Tasks finished OK", ["task"])
TASKS_FAILED = Counter("churn_worker_tasks_failed_total", "Tasks failed for good", ["task"])
TASKS_RETRIED = Counter("churn_worker_tasks_retried_total", "Task retries scheduled", ["task"])
TASK_RUNTIME = Histogram(
    "churn_worker_task_duration_seconds",
    "Task run time, per attempt",
    ["task"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

_started: dict[str, float] = {}


def declare_task(name: str) -> None:
    """Create the task's series at zero (Prometheus shows no series before that)."""
    for counter in (TASKS_SUCCEEDED, TASKS_FAILED, TASKS_RETRIED):
        counter.labels(name)


def _name(sender: Any) -> str:
    return getattr(sender, "name", None) or str(sender)


@signals.task_prerun.connect
def _on_prerun(task_id: str, **_: Any) -> None:
    _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _on_postrun(task_id: str, task: Any, **_: Any) -> None:
    started = _started.pop(task_id, None)
    if started is not None:
        TASK_RUNTIME.labels(_name(task)).observe(time.perf_counter() - started)


@signals.task_success.connect
def _on_success(sender: Any = None, **_: Any) -> None:
    TASKS_SUCCEEDED.labels(_name(sender)).inc()


@signals.task_failure.connect
def _on_failure(sender: Any = None, **_: Any) -> None:
    TASKS_FAILED.labels(_name(sender)).inc()


@signals.task_retry.connect
def _on_retry(sender: Any = None, **_: Any) -> None:
    TASKS_RETRIED.labels(_name(sender)).inc()


@signals.celeryd_init.connect
def _start_error_tracking(**_: Any) -> None:
    # Before the worker's pool starts: the SDK's Celery integration wraps the tasks.
    init_error_tracking("worker")


@signals.worker_ready.connect
def _report_error_tracking(**_: Any) -> None:
    # celeryd_init runs before Celery sets up logging: say it once logs are written.
    log.info("%s", error_tracking_status())


@signals.worker_init.connect
def _serve_metrics(**_: Any) -> None:
    # worker_init runs once in the worker's main process, before tasks are consumed.
    port = Config.from_env().metrics_port
    start_http_server(port)
    log.info("worker metrics on :%d/metrics", port)
