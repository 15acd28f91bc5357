"""Error tracking (Sentry protocol): each service reports its unhandled errors when the
environment gives it a DSN, and does nothing otherwise.

    SENTRY_DSN_FILE      file holding the DSN (a Docker secret); unset: no reporting
    SENTRY_RELEASE       the release events are tagged with (the image tag)
    SENTRY_ENVIRONMENT   the environment name (dev, staging, prod)
    SENTRY_SAMPLE_RATE   share of error events sent, 0..1 (default 1)

The DSN is read from a file only, like every secret (config.py). Events carry no
request bodies, cookies or user addresses (the SDK's default).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import sentry_sdk
from sentry_sdk.utils import BadDsn

from churn.config import _read_secret
from churn.errors import ConfigError

log = logging.getLogger(__name__)


def _sample_rate(environ: Mapping[str, str]) -> float:
    raw = environ.get("SENTRY_SAMPLE_RATE") or "1"
    try:
        rate = float(raw)
    except ValueError as exc:
        raise ConfigError(f"SENTRY_SAMPLE_RATE must be a number, got {raw!r}") from exc
    if not 0.0 <= rate <= 1.0:
        raise ConfigError(f"SENTRY_SAMPLE_RATE must be between 0 and 1, got {raw!r}")
    return rate


def init_error_tracking(service: str, environ: Mapping[str, str] | None = None) -> bool:
    """Start reporting errors of `service` (api, worker, ml) when SENTRY_DSN_FILE names
    a DSN; True when started. Without one, nothing is initialised."""
    env = os.environ if environ is None else environ
    dsn = _read_secret(env, "SENTRY_DSN_FILE")
    if not dsn:
        return False
    try:
        sentry_sdk.init(
            dsn=dsn,
            release=env.get("SENTRY_RELEASE") or None,
            environment=env.get("SENTRY_ENVIRONMENT") or None,
            sample_rate=_sample_rate(env),
            # Errors only: no performance tracing.
            traces_sample_rate=None,
        )
    except BadDsn as exc:
        # Never the DSN itself in the message: it holds the project's key.
        raise ConfigError(f"SENTRY_DSN_FILE: not a valid DSN ({exc.__class__.__name__})") from exc
    sentry_sdk.set_tag("service", service)
    log.info("%s", status())
    return True


def status() -> str:
    """What this process's SDK client is set to: one line for the logs."""
    client = sentry_sdk.get_client()
    if not client.is_active():
        return "error tracking off"
    return (f"error tracking on (release {client.options.get('release') or '-'}, "
            f"environment {client.options.get('environment') or '-'})")


def report(exc: BaseException) -> None:
    """Send an error the app handled itself (its 500 handler); a no-op when not started."""
    sentry_sdk.capture_exception(exc)
