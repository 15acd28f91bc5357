"""Read-through cache of single customers in Redis db 1.

It fails open: any Redis error is logged and the caller falls back to the database,
so a Redis outage costs latency, never availability.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

import redis

from churn.redis_cache import customer_key

log = logging.getLogger(__name__)

# Short TTL bounds staleness if an invalidation is lost while Redis is unreachable.
CUSTOMER_TTL_SECONDS = 60


class CustomerCache(Protocol):
    def get(self, customer_id: int) -> dict[str, Any] | None: ...

    def put(self, customer_id: int, customer: dict[str, Any]) -> None: ...

    def invalidate(self, customer_id: int) -> None: ...


class RedisCustomerCache:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def get(self, customer_id: int) -> dict[str, Any] | None:
        try:
            raw = self._redis.get(customer_key(customer_id))
        except redis.RedisError as exc:
            log.warning("cache read failed, using database: %s", exc)
            return None
        return json.loads(raw) if raw else None

    def put(self, customer_id: int, customer: dict[str, Any]) -> None:
        try:
            self._redis.set(
                customer_key(customer_id), json.dumps(customer), ex=CUSTOMER_TTL_SECONDS
            )
        except redis.RedisError as exc:
            log.warning("cache write failed: %s", exc)

    def invalidate(self, customer_id: int) -> None:
        try:
            self._redis.delete(customer_key(customer_id))
        except redis.RedisError as exc:
            log.warning("cache invalidation failed (entry expires by TTL): %s", exc)


class NoCache:
    """Used when Redis is not configured."""

    def get(self, customer_id: int) -> dict[str, Any] | None:
        return None

    def put(self, customer_id: int, customer: dict[str, Any]) -> None:
        return None

    def invalidate(self, customer_id: int) -> None:
        return None
