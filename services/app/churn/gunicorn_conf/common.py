"""Settings shared by the API and ML gunicorn configurations (contract variables)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default


def port(default: int) -> int:
    return _env_int("PORT", default)


def bind(default_port: int) -> list[str]:
    return [f"0.0.0.0:{port(default_port)}"]


def workers() -> int:
    return _env_int("GUNICORN_WORKERS", 2)


def threads() -> int:
    """Threads per worker (gthread). A request waiting on a slow dependency holds one
    thread, not a whole worker: reads keep flowing while writes wait out a broker or
    database timeout. The work is I/O-bound (SQL, Redis), so the GIL costs little."""
    return _env_int("GUNICORN_THREADS", 4)


def timeout() -> int:
    return _env_int("GUNICORN_TIMEOUT", 30)


def graceful_timeout() -> int:
    return _env_int("GUNICORN_GRACEFUL_TIMEOUT", 20)


def log_level() -> str:
    return os.environ.get("LOG_LEVEL", "info").lower()


def ensure_multiprocess_dir(service: str, default_port: int) -> str:
    """Point prometheus_client at a per-server directory unless one is given.

    Several gunicorn workers answer /metrics in turn; without multiprocess mode each
    scrape would see only one worker's counters.
    """
    directory = os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", f"/tmp/churn-prometheus-{service}-{port(default_port)}"
    )
    Path(directory).mkdir(parents=True, exist_ok=True)
    return directory


def on_starting(server: Any) -> None:
    # Samples of a previous run (same container restarted) must not be summed in.
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def settings(service: str, default_port: int, wsgi_app: str) -> dict[str, Any]:
    """Every gunicorn setting of one service; a config module publishes them as globals."""
    ensure_multiprocess_dir(service, default_port)
    return {
        "wsgi_app": wsgi_app,
        "bind": bind(default_port),
        "workers": workers(),
        "worker_class": "gthread",
        "threads": threads(),
        "timeout": timeout(),
        "graceful_timeout": graceful_timeout(),
        "loglevel": log_level(),
        "accesslog": "-",
        "errorlog": "-",
        # Heartbeat files on tmpfs: a container's overlay filesystem can stall them.
        "worker_tmp_dir": "/dev/shm",
        "on_starting": on_starting,
        "child_exit": child_exit,
    }
