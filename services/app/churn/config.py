"""Runtime configuration from environment variables and secret files.

Names follow docs/contract.md. Secrets are only ever read from the files named by
`*_FILE` variables (Docker/Compose secrets), never from plain variables or code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from churn.errors import ConfigError

DEFAULT_MODEL_DIR = "/opt/churn/model"


def _read_secret(environ: Mapping[str, str], variable: str) -> str | None:
    path = environ.get(variable)
    if not path:
        return None
    try:
        # Secret files often end with a newline written by `echo`; it is not part of it.
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{variable}: cannot read {path}: {exc.strerror}") from exc


def _int(environ: Mapping[str, str], variable: str, default: int) -> int:
    raw = environ.get(variable)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{variable} must be an integer, got {raw!r}") from exc


def _addresses(environ: Mapping[str, str], variable: str) -> tuple[tuple[str, int], ...]:
    """host:port,host:port -> ((host, port), ...); empty when unset."""
    out = []
    for item in (environ.get(variable) or "").split(","):
        host, sep, port = item.strip().rpartition(":")
        if not item.strip():
            continue
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{variable} must be host:port[,host:port...], got {item!r}")
        out.append((host, int(port)))
    return tuple(out)


@dataclass(frozen=True)
class Config:
    """Everything the three services read from their environment.

    Values a service does not need may be None; `require()` raises a ConfigError
    naming the variable when a service asks for one that is missing.
    """

    database_host: str | None = None
    database_port: int = 5432
    database_name: str | None = None
    database_user: str | None = None
    database_password: str | None = None
    database_replica_host: str | None = None
    redis_host: str | None = None
    redis_port: int = 6379
    redis_password: str | None = None
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    """Sentinels that name the Redis primary (REDIS_SENTINELS: host:port,...); when
    set, REDIS_HOST is not used: the primary is whichever server they name now."""
    redis_master_name: str | None = None
    ml_url: str | None = None
    secret_key: str | None = None
    model_dir: str = DEFAULT_MODEL_DIR
    worker_concurrency: int = 2
    metrics_port: int = 8888
    log_level: str = "info"
    test_error_route: bool = False
    """TEST_ERROR_ROUTE=1: the API serves GET /api/_test/error, which fails on purpose
    (the error-tracking stack test). Never set in production."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        return cls(
            database_host=env.get("DATABASE_HOST") or None,
            database_port=_int(env, "DATABASE_PORT", 5432),
            database_name=env.get("DATABASE_NAME") or None,
            database_user=env.get("DATABASE_USER") or None,
            database_password=_read_secret(env, "DATABASE_PASSWORD_FILE"),
            database_replica_host=env.get("DATABASE_REPLICA_HOST") or None,
            redis_host=env.get("REDIS_HOST") or None,
            redis_port=_int(env, "REDIS_PORT", 6379),
            redis_password=_read_secret(env, "REDIS_PASSWORD_FILE"),
            redis_sentinels=_addresses(env, "REDIS_SENTINELS"),
            redis_master_name=env.get("REDIS_MASTER_NAME") or None,
            ml_url=(env.get("ML_URL") or "").rstrip("/") or None,
            secret_key=_read_secret(env, "SECRET_KEY_FILE"),
            model_dir=env.get("MODEL_DIR") or DEFAULT_MODEL_DIR,
            worker_concurrency=_int(env, "WORKER_CONCURRENCY", 2),
            metrics_port=_int(env, "METRICS_PORT", 8888),
            log_level=(env.get("LOG_LEVEL") or "info").lower(),
            test_error_route=env.get("TEST_ERROR_ROUTE") == "1",
        )

    def require(self, field: str) -> str:
        """Return a required string setting or fail naming its variable."""
        value = getattr(self, field)
        if value is None or value == "":
            variable = _VARIABLE_OF_FIELD.get(field, field.upper())
            raise ConfigError(f"{variable} is not set")
        return str(value)

    def database_conninfo(self, *, replica: bool = False) -> str:
        """libpq keyword/value connection string for the primary (or the replica)."""
        from psycopg.conninfo import make_conninfo

        host = self.require("database_replica_host" if replica else "database_host")
        # DATABASE_HOST may list several nodes (after a failover the primary is another
        # one): libpq tries each and, for writes, keeps only one that is read-write, so
        # a standby or a fenced old primary never takes a write.
        attrs = {} if replica else {"target_session_attrs": "read-write"}
        return make_conninfo(
            host=host,
            port=self.database_port,
            dbname=self.require("database_name"),
            user=self.require("database_user"),
            password=self.database_password,
            application_name="churn",
            connect_timeout=5,
            **attrs,
        )

    @property
    def redis_configured(self) -> bool:
        """Redis is reachable: through Sentinels, or at one fixed host."""
        return bool(self.redis_sentinels or self.redis_host)

    def redis_url(self, db: int) -> str:
        """The broker/backend URL: redis://, or with Sentinels one sentinel:// URL per
        Sentinel joined by `;` (kombu's and Celery's form; the password in it is the
        servers', the Sentinels' own goes in sentinel_kwargs)."""
        auth = f":{quote(self.redis_password, safe='')}@" if self.redis_password else ""
        if self.redis_sentinels:
            self.require("redis_master_name")
            return ";".join(f"sentinel://{auth}{host}:{port}/{db}"
                            for host, port in self.redis_sentinels)
        host = self.require("redis_host")
        return f"redis://{auth}{host}:{self.redis_port}/{db}"

    def sentinel_options(self) -> dict[str, Any]:
        """Transport options that pick the primary through the Sentinels (Celery's
        broker and result backend); empty without Sentinels."""
        if not self.redis_sentinels:
            return {}
        return {"master_name": self.require("redis_master_name"),
                "sentinel_kwargs": self.sentinel_kwargs()}

    def sentinel_kwargs(self) -> dict[str, Any]:
        """How to talk to a Sentinel: its password (the servers' one) and timeouts
        short enough that a dead Sentinel costs half a second, then the next is asked."""
        kwargs: dict[str, Any] = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
        if self.redis_password:
            kwargs["password"] = self.redis_password
        return kwargs


_VARIABLE_OF_FIELD = {
    "database_password": "DATABASE_PASSWORD_FILE",
    "redis_password": "REDIS_PASSWORD_FILE",
    "redis_master_name": "REDIS_MASTER_NAME",
    "secret_key": "SECRET_KEY_FILE",
    "ml_url": "ML_URL",
}

# Redis logical databases (contract: broker db 0, cache db 1).
REDIS_BROKER_DB = 0
REDIS_CACHE_DB = 1
