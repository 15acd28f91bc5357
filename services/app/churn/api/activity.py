"""Distinct clients seen recently, for the active-users gauge.

The set lives in Redis (a sorted set scored by last-seen time) so that all gunicorn
workers and all API replicas count the same clients once; in dashboards take max()
over instances, not sum(). Without Redis it degrades to a per-process count.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis

log = logging.getLogger(__name__)

ACTIVE_WINDOW_SECONDS = 300
_KEY = "churn:active_clients"
# Re-announce a client at most this often; keeps Redis writes off most requests.
_REFRESH_SECONDS = 30


class ActiveClients(Protocol):
    def seen(self, client_id: str) -> None: ...

    def count(self) -> int: ...


class LocalActiveClients:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._last_seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def seen(self, client_id: str) -> None:
        with self._lock:
            self._last_seen[client_id] = self._clock()

    def count(self) -> int:
        cutoff = self._clock() - ACTIVE_WINDOW_SECONDS
        with self._lock:
            self._last_seen = {c: t for c, t in self._last_seen.items() if t >= cutoff}
            return len(self._last_seen)


class RedisActiveClients:
    def __init__(self, client: redis.Redis, clock: Callable[[], float] = time.time) -> None:
        self._redis = client
        self._clock = clock
        self._local = LocalActiveClients(clock)
        self._announced: dict[str, float] = {}

    def seen(self, client_id: str) -> None:
        self._local.seen(client_id)
        now = self._clock()
        if now - self._announced.get(client_id, 0.0) < _REFRESH_SECONDS:
            return
        try:
            self._redis.zadd(_KEY, {client_id: now})
            self._announced[client_id] = now
        except redis.RedisError as exc:
            log.debug("active-client update failed: %s", exc)

    def count(self) -> int:
        cutoff = self._clock() - ACTIVE_WINDOW_SECONDS
        try:
            pipe = self._redis.pipeline()
            pipe.zremrangebyscore(_KEY, 0, cutoff)
            pipe.zcard(_KEY)
            return int(pipe.execute()[1])
        except redis.RedisError:
            return self._local.count()
