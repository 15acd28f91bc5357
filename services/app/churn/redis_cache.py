"""Redis cache database (db 1) access shared by the API, which caches customers,
and the worker, which invalidates them after scoring."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from churn.config import REDIS_CACHE_DB, Config


def customer_key(customer_id: int) -> str:
    return f"churn:customer:{customer_id}"


def cache_client(config: Config, db: int = REDIS_CACHE_DB) -> redis.Redis:
    """Client for the cache database (or `db`): short timeouts and no retries.

    The cache fails open, so a slow or retried call to a dead Redis would only add
    latency to every request (redis-py retries with backoff by default).
    """
    return redis.Redis.from_url(
        config.redis_url(db),
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )
