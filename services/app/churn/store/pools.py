"""Lazily opened connection pools: the primary for writes, an optional replica for reads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from churn.config import Config
from churn.errors import StoreUnavailableError

# How long a request waits for a free connection before answering 503.
_CHECKOUT_TIMEOUT_SECONDS = 5.0


class Database:
    """Owns the pools; nothing connects until the first query.

    Lazy opening keeps `import churn.api.wsgi` working without a database, and lets
    gunicorn fork workers before any socket exists (sockets must not cross a fork).
    """

    def __init__(self, config: Config, *, max_size: int = 10) -> None:
        self._config = config
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

    def close(self) -> None:
        with self._lock:
            for pool in (self._primary, self._replica):
                if pool is not None:
                    pool.close()
            self._primary = self._replica = None
