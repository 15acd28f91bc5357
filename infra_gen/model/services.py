"""Application services: the bundled app and any the user adds."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from .common import (
    Duration,
    EnvVarName,
    EnvVarValue,
    Identifier,
    ImageTag,
    Justification,
    Port,
    Resources,
    Route,
    SecretName,
    StrictModel,
    UrlPath,
    located,
)


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


ImageRef = Annotated[
    str,
    StringConstraints(
        pattern=r"^[a-z0-9][a-z0-9._/-]{0,200}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$"
    ),
    Field(description="An image pinned by tag (never latest) or digest, e.g. acme/billing:1.4.2."),
]
Capability = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z_]{1,30}$")]
UserSpec = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{1,10}(:[0-9]{1,10})?$"),
    Field(description="Numeric uid or uid:gid the container runs as."),
]
AbsPath = Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9._/-]{0,250}$")]
CommandArg = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class Healthcheck(StrictModel):
    path: UrlPath | None = None
    """HTTP path on the service's port that answers 2xx when healthy (the image needs
    curl); or give `command`."""
    command: list[CommandArg] | None = None
    """Command run inside the container; exit 0 means healthy."""

    @model_validator(mode="after")
    @located
    def _one_of(self) -> Healthcheck:
        if (self.path is None) == (self.command is None):
            raise ValueError("give exactly one of path or command")
        return self


class Volume(StrictModel):
    name: Identifier
    """Named volume (the compose project prefixes it)."""
    target: AbsPath
    """Where it is mounted in the container."""
    backup: bool = False
    """Archived by the backup scripts with the database dump."""


class Grant(StrictModel):
    name: Capability
    """Linux capability added back after cap_drop ALL (e.g. NET_BIND_SERVICE)."""
    reason: str = Field(min_length=3, max_length=200, pattern=r"^[^\n`$]*$")
    """Why the service needs it (shown in the runbook)."""


class AppService(StrictModel):
    role: Role | None = None
    """What the service is. Defaults to the service's own name when that is a role
    (frontend, api, worker, ml); required for any other name, unless the service
    brings its own `image` (then it has no role)."""
    image: ImageRef | None = None
    """A service of your own: its image, pinned. Every artifact follows from this
    entry (nginx pool, scrape job, generic alert rules, dashboard row, compose)."""
    tag: ImageTag | None = None
    """Tag of this service's bundled image when not images.tag: a rolling update of
    one service to another release (swarm updates it task by task)."""
    command: list[CommandArg] | None = None
    """Command of a service of your own (the image's default if unset)."""
    healthcheck: Healthcheck | None = None
    """Health check of a service of your own (required with image)."""
    secrets: list[SecretName] = []
    """Secrets a service of your own reads from /run/secrets/<name>."""
    volumes: list[Volume] = []
    """Named volumes of a service of your own."""
    depends_on: list[Identifier] = []
    """Services that must be healthy before a service of your own starts."""
    user: UserSpec | None = None
    """uid[:gid] of a service of your own (required with image; never 0)."""
    capabilities: list[Grant] = []
    """Capabilities a service of your own adds back, each with its reason."""
    tmpfs: list[AbsPath] = Field(default=[], max_length=16)
    """Directories a service of your own writes besides /tmp and its volumes: each is
    an in-memory tmpfs on the read-only root filesystem."""
    writable_root: Justification | None = None
    """Opt out of the read-only root filesystem every container runs with (tmpfs and
    volumes where it writes); say why: `{reason: ...}`."""
    replicas: int = Field(default=1, ge=0, le=50)
    """How many containers run it: deploy.replicas of its one compose/swarm service.
    `docker compose up --scale` and `docker service scale` change it at run time;
    the load balancer and Prometheus find every replica through Docker's DNS."""
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

    @model_validator(mode="after")
    @located
    def _own_image_fields(self) -> AppService:
        own = ("command", "healthcheck", "secrets", "volumes", "depends_on", "user",
               "capabilities", "tmpfs")
        if self.tag == "latest":
            raise ValueError("tag: must be a release, not latest")
        if self.image is None:
            given = [f for f in own if getattr(self, f) not in (None, [], False)]
            if given:
                raise ValueError(f"{given[0]}: only a service with its own image sets it")
            return self
        if self.role is not None:
            raise ValueError("role: a service with its own image has no role")
        if self.tag is not None:
            raise ValueError("tag: a service with its own image pins it in image")
        if self.image.rsplit("/", 1)[-1].split("@")[0].endswith(":latest"):
            raise ValueError(f"image: {self.image!r} must be pinned, not latest")
        for field in ("healthcheck", "user"):
            if getattr(self, field) is None:
                raise ValueError(f"{field}: required with image")
        if self.user is not None and self.user.split(":")[0] == "0":
            raise ValueError("user: a service of your own never runs as root (uid 0)")
        if self.route is not None and self.port is None:
            raise ValueError("port: required with route (where the load balancer sends it)")
        if self.healthcheck is not None and self.healthcheck.path and self.port is None:
            raise ValueError("healthcheck.path: needs port (or give healthcheck.command)")
        return self
