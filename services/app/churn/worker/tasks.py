"""Celery tasks. Registered under explicit names the API sends to."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from celery import Task

from churn.config import Config
from churn.errors import StoreUnavailableError
from churn.redis_cache import cache_client, customer_key
from churn.worker import metrics as _metrics
from churn.worker.celery_app import RETRY_BACKOFF_MAX_SECONDS, make_celery
from churn.worker.ml_client import HttpMLClient, MLServiceError
from churn.worker.scoring import score_and_store

config = Config.from_env()
app = make_celery(config)

MAX_RETRIES = 6

T = TypeVar("T")
_build_lock = threading.Lock()


def _once(factory: Callable[[], T]) -> Callable[[], T]:
    """factory() built once, even when the first calls race.

    functools.cache alone is not enough under the threads pool: two tasks starting
    together each built a store, and the connection pool of the one thrown away was
    collected inside its own worker thread, which printed "cannot join current
    thread" (psycopg_pool's __del__ joins its workers) when the worker started.
    """
    cached = functools.cache(factory)

    @functools.wraps(factory)
    def get() -> T:
        with _build_lock:
            return cached()

    return get


@_once
def _store() -> Any:
    # Built on first use: importing the tasks (tests, the API) must not need a database.
    from churn.store.pools import Database
    from churn.store.postgres import PostgresStore

    return PostgresStore(Database(config, max_size=max(2, config.worker_concurrency)))


@_once
def _ml_client() -> HttpMLClient:
    return HttpMLClient(config.require("ml_url"))


@_once
def _cache() -> redis.Redis:
    return cache_client(config)


def _forget_cached_customer(customer_id: int) -> None:
    """The API caches customers; their risk_score just changed."""
    # On failure the cache entry still expires by its TTL.
    with contextlib.suppress(redis.RedisError):
        _cache().delete(customer_key(customer_id))


@app.task(
    name="churn.score_customer",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(MLServiceError, StoreUnavailableError, ConnectionError, TimeoutError),
    max_retries=MAX_RETRIES,
    retry_backoff=2,  # 2, 4, 8, ... seconds, at most RETRY_BACKOFF_MAX_SECONDS
    retry_backoff_max=RETRY_BACKOFF_MAX_SECONDS,
    retry_jitter=True,
)
def score_customer(self: Task, customer_id: int) -> dict[str, object]:
    result = score_and_store(_store(), _ml_client(), customer_id, self.request.id)
    if result.newly_recorded:
        _forget_cached_customer(customer_id)
    return result.to_json()


# A counter series exists only once labelled: declare the task's failures and
# retries at zero, so dashboards and alert ratios have data before the first one.
_metrics.declare_task(score_customer.name)
