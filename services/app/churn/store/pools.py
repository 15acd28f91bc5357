"""Lazily opened connection pools: the primary for writes, an optional replica for reads.

Reads degrade, they do not fail: when the replica cannot be reached they run on the
primary, and the replica is left alone for REPLICA_RETRY_SECONDS (so a dead replica
costs one short checkout per period, not one per request); then it is tried again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from churn.config import Config
from churn.errors import StoreUnavailableError

log = logging.getLogger(__name__)

T = TypeVar("T")

# How long a request waits for a free connection before answering 503.
_CHECKOUT_TIMEOUT_SECONDS = 5.0
REPLICA_CHECKOUT_TIMEOUT_SECONDS = 1.0
"""A read waits this long for a replica connection before using the primary."""
REPLICA_RETRY_SECONDS = 5.0
"""After a replica failure, reads go to the primary for this long."""


class Database:
    """Owns the pools; nothing connects until the first query.

    Lazy opening keeps `import churn.api.wsgi` working without a database, and lets
    gunicorn fork workers before any socket exists (sockets must not cross a fork).
    """

    def __init__(
        self, config: Config, *, max_size: int = 10, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._config = config
        self._clock = clock
        self._replica_down_until = 0.0
        self._max_size = max_size
        self._lock = threading.Lock()
        self._primary: ConnectionPool | None = None
        self._replica: ConnectionPool | None = None

    @property
    def has_replica(self) -> bool:
        return self._config.database_replica_host is not None

    def _open(self, *, replica: bool) -> ConnectionPool:
        pool = ConnectionPool(
            self._config.database_conninfo(replica=replica),
            min_size=1,
            max_size=self._max_size,
            open=False,
            # Validate connections on checkout so a restarted database does not
            # hand out dead sockets.
            check=ConnectionPool.check_connection,
            name="replica" if replica else "primary",
        )
        pool.open(wait=False)
        return pool

    def _pool(self, *, replica: bool) -> ConnectionPool:
        with self._lock:
            if replica and self.has_replica:
                if self._replica is None:
                    self._replica = self._open(replica=True)
                return self._replica
            if self._primary is None:
                self._primary = self._open(replica=False)
            return self._primary

    @contextmanager
    def connection(
        self, *, read_only: bool = False, timeout: float = _CHECKOUT_TIMEOUT_SECONDS
    ) -> Iterator[psycopg.Connection]:
        """A connection in a transaction: committed on success, rolled back on error.

        Read-only work goes to the replica when one is configured.
        """
        pool = self._pool(replica=read_only)
        try:
            with pool.connection(timeout=timeout) as conn:
                yield conn
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise StoreUnavailableError(f"database unavailable: {exc}") from exc

    def replica_in_use(self) -> bool:
        """A replica is configured and not in its back-off period after a failure."""
        return self.has_replica and self._clock() >= self._replica_down_until

    def read(self, work: Callable[[psycopg.Connection], T]) -> T:
        """Run read-only `work` on the replica, or on the primary when it is down.

        `work` may run twice (once on each) and must not write.
        """
        if self.replica_in_use():
            try:
                with self.connection(
                    read_only=True, timeout=REPLICA_CHECKOUT_TIMEOUT_SECONDS
                ) as conn:
                    return work(conn)
            except (StoreUnavailableError, psycopg.OperationalError) as exc:
                self._replica_down_until = self._clock() + REPLICA_RETRY_SECONDS
                log.warning("replica unavailable, reading from the primary: %s", exc)
        with self.connection() as conn:
            return work(conn)

    def close(self) -> None:
        with self._lock:
            for pool in (self._primary, self._replica):
                if pool is not None:
                    pool.close()
            self._primary = self._replica = None
