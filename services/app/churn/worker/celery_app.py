"""The Celery application, configured from the environment (contract: Redis db 0)."""

from __future__ import annotations

from celery import Celery

from churn.config import REDIS_BROKER_DB, Config


def make_celery(config: Config) -> Celery:
    app = Celery("churn")
    if config.redis_host:
        url = config.redis_url(REDIS_BROKER_DB)
        app.conf.broker_url = url
        app.conf.result_backend = url
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
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
        # Do not let an API request hang for long when the broker is down.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2},
        # visibility_timeout must exceed the longest retry countdown, or Redis
        # re-delivers an unacked task while it is still waiting to be retried.
        broker_transport_options={
            "socket_connect_timeout": 2,
            "socket_timeout": 5,
            "visibility_timeout": 3600,
        },
        redis_socket_connect_timeout=2,
        redis_socket_timeout=5,
    )
    return app
