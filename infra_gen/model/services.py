"""Application services: the bundled app and any the user adds."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from .common import Duration, EnvVarName, EnvVarValue, Port, Resources, Route, StrictModel, UrlPath


class Role(StrEnum):
    """What a service is; it decides the image, command and defaults."""

    frontend = "frontend"
    api = "api"
    worker = "worker"
    ml = "ml"


class Metrics(StrictModel):
    port: Port
    """Port where the service exposes Prometheus metrics."""
    path: UrlPath = "/metrics"
    """HTTP path of the metrics endpoint."""


class AppService(StrictModel):
    role: Role | None = None
    """What the service is. Defaults to the service's own name when that is a role
    (frontend, api, worker, ml); required for any other name."""
    replicas: int = Field(default=1, ge=0, le=50)
    """How many containers run it; each is its own upstream member and scrape target."""
    route: Route | None = None
    """Path prefix the load balancer sends to this service (e.g. /api/v2/).
    Defaults: / for frontend, /api/ for api; worker and ml are never routed."""
    port: Port | None = None
    """Port the service listens on inside its container (role default if unset)."""
    metrics: Metrics | None = None
    """Where Prometheus scrapes it (role default if unset)."""
    concurrency: int = Field(default=2, ge=1, le=64)
    """Worker processes: gunicorn workers for api/ml/frontend-less roles, Celery
    concurrency for workers."""
    graceful_timeout: Duration = "20s"
    """How long a stopping server may finish in-flight requests (gunicorn
    graceful timeout); stop_grace_period is derived from it."""
    resources: Resources = Resources()
    """CPU, memory and PID limits."""
    environment: dict[EnvVarName, EnvVarValue] = Field(default={}, max_length=100)
    """Extra, non-secret environment variables (no '$': compose would interpolate it)."""

