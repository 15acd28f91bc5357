"""Redis cache database (db 1) access shared by the API, which caches customers,
and the worker, which invalidates them after scoring."""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from churn.config import REDIS_CACHE_DB, Config


def customer_key(customer_id: int) -> str:
    return f"churn:customer:{customer_id}"


def cache_client(config: Config, db: int = REDIS_CACHE_DB) -> redis.Redis:
    """Client for the cache database (or `db`): short timeouts and no retries.

    The cache fails open, so a slow or retried call to a dead Redis would only add
    latency to every request (redis-py retries with backoff by default).
    """
    options: dict[str, Any] = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5,
                               "retry": Retry(NoBackoff(), 0)}
    if config.redis_sentinels:
        # The primary the Sentinels name now: each new connection asks them again, so
        # after a failover the next call reaches the promoted server.
        # No retries towards a Sentinel either (redis-py's default backs off for
        # seconds per Sentinel): a dead one costs a refused connect, then the next.
        sentinel_kwargs = {**config.sentinel_kwargs(), "retry": options["retry"]}
        # redis-py leaves Sentinel and master_for unannotated.
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            list(config.redis_sentinels), sentinel_kwargs=sentinel_kwargs,
            password=config.redis_password, db=db, **options)
        client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
            config.require("redis_master_name"))
        return client
    return redis.Redis.from_url(config.redis_url(db), **options)
