"""The Celery application, configured from the environment (contract: Redis db 0).

Delivery guarantees (Redis broker). A task is acked only after it ran
(task_acks_late), so a worker killed mid-task leaves it in Redis' "unacked" set;
Redis has no notion of a consumer dying, it re-delivers a message once it has been
unacked for VISIBILITY_TIMEOUT_SECONDS. That timeout is therefore sized to the task,
not to "long enough": it must exceed the longest single run (TASK_MAX_SECONDS) and
the longest retry countdown (RETRY_BACKOFF_MAX_SECONDS: a retried task waits,
unacked, in the worker until its ETA), and it is the bound on how long a task that
was running on a killed worker waits before it runs again. A re-delivery of a task
that did finish is harmless: the store records a task id once.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.backends.redis import RedisBackend, SentinelBackend
from redis.backoff import NoBackoff
from redis.retry import Retry

from churn.config import REDIS_BROKER_DB, Config

TASK_MAX_SECONDS = 25
"""Longest run of one attempt: database checkout (5 s) + ML call (2 s connect,
10 s read) + the write (5 s), with margin."""
RETRY_BACKOFF_MAX_SECONDS = 20
"""Largest countdown between two attempts (2, 4, 8, 16, 20, 20 s)."""
VISIBILITY_TIMEOUT_SECONDS = 30
"""Unacked for this long, a message is delivered again (see the module doc)."""
RESTORE_SWEEP_SECONDS = 5
"""How often a worker looks for messages unacked longer than the visibility timeout:
a killed worker's task runs again within VISIBILITY_TIMEOUT + RESTORE_SWEEP seconds
(once a worker is running)."""
RESULT_EXPIRES_SECONDS = 24 * 3600
"""How long task states (and the API's record of issued ids) are kept."""

assert max(TASK_MAX_SECONDS, RETRY_BACKOFF_MAX_SECONDS) < VISIBILITY_TIMEOUT_SECONDS

# The API publishes and reads states from request threads: every broker or backend
# operation must fail within a second, not retry (kombu retries 100 times and the
# Redis result backend 20 times by default, which held API workers 19 s).
_CLIENT_REDIS_TIMEOUTS: dict[str, Any] = {
    "socket_connect_timeout": 0.5,
    "socket_timeout": 1.0,
}
_CLIENT_SETTINGS: dict[str, Any] = {
    "task_publish_retry": False,
    "broker_connection_timeout": 0.5,
    "broker_connection_retry": False,
    "broker_connection_max_retries": 0,
    "broker_transport_options": {
        **_CLIENT_REDIS_TIMEOUTS,
        "visibility_timeout": VISIBILITY_TIMEOUT_SECONDS,
        "max_retries": 0,
    },
    "result_backend_transport_options": {
        "retry_policy": {"max_retries": 0, "interval_start": 0, "interval_step": 0.1,
                         "interval_max": 0.1},
    },
    "redis_socket_connect_timeout": 0.5,
    "redis_socket_timeout": 1.0,
    "redis_retry_on_timeout": False,
}


class PollingRedisBackend(RedisBackend):  # type: ignore[misc]
    """The API's result backend: it reads task states and never waits on a result, so
    publishing does not subscribe to the task's result channel (the default does, and
    a subscription nobody drains only fills Redis' pub/sub buffer)."""

    def on_task_call(self, producer: Any, task_id: str) -> None:
        return None


class PollingSentinelBackend(SentinelBackend):  # type: ignore[misc]
    """PollingRedisBackend's behaviour on the primary the Sentinels name."""

    on_task_call = PollingRedisBackend.on_task_call


def _with_sentinels(config: Config, options: dict[str, Any], *,
                    fail_fast: bool = False) -> dict[str, Any]:
    """Transport options plus, with Sentinels, the master name and their password;
    with `fail_fast` (the API) a Sentinel that does not answer is not retried."""
    sentinel = config.sentinel_options()
    if sentinel and fail_fast:
        sentinel["sentinel_kwargs"] = {**sentinel["sentinel_kwargs"],
                                       "retry": Retry(NoBackoff(), 0)}
    return {**options, **sentinel}


def make_celery(config: Config, *, client: bool = False) -> Celery:
    """The worker's app, or with `client` the API's (publishes and polls, fails fast)."""
    app = Celery("churn")
    if config.redis_configured:
        url = config.redis_url(REDIS_BROKER_DB)
        app.conf.broker_url = url
        app.conf.result_backend = url
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=RESULT_EXPIRES_SECONDS,
        # Late acks: a task is removed from the queue only after it ran, so a worker
        # killed mid-task does not lose it (the store makes re-runs idempotent).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Threads, not prefork: the work is I/O (HTTP to the ML service, SQL) and one
        # process means the Prometheus counters served on METRICS_PORT are exact.
        worker_pool="threads",
        worker_concurrency=config.worker_concurrency,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        # A task running when the broker connection drops cannot be acked any more:
        # cancel it, Redis delivers it again (the default until Celery 6 lets it run
        # on, and its ack fails).
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2},
        broker_transport_options=_with_sentinels(config, {
            "socket_connect_timeout": 2,
            "socket_timeout": 5,
            "visibility_timeout": VISIBILITY_TIMEOUT_SECONDS,
            # kombu sweeps for expired unacked messages every interval x throttle
            # seconds (10 x 10 by default: a killed worker's task waited 100 s more).
            "unacked_restore_interval": RESTORE_SWEEP_SECONDS,
            "unacked_restore_throttle": 1,
        }),
        result_backend_transport_options=config.sentinel_options(),
        redis_socket_connect_timeout=2,
        redis_socket_timeout=5,
    )
    if client:
        app.conf.update(_CLIENT_SETTINGS)
        app.conf.broker_transport_options = _with_sentinels(
            config, _CLIENT_SETTINGS["broker_transport_options"], fail_fast=True)
        app.conf.result_backend_transport_options = _with_sentinels(
            config, _CLIENT_SETTINGS["result_backend_transport_options"], fail_fast=True)
        if config.redis_configured:
            # "module:Class+url": Celery's form for a backend class of one's own.
            cls = PollingSentinelBackend if config.redis_sentinels else PollingRedisBackend
            backend = f"{cls.__module__}:{cls.__name__}"
            app.conf.result_backend = f"{backend}+{config.redis_url(REDIS_BROKER_DB)}"
    return app
