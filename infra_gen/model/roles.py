"""The bundled roles as one table of specifications: the planner reads every fact of
an app service from here (image, command, ports, metrics, health check, user,
networks, the secrets and dependencies it needs, its alert rules and dashboard
rows), not from branches on the role."""

from __future__ import annotations

from dataclasses import dataclass

from .services import AppService, Role

FRONTEND_NET = "frontend-net"
BACKEND_NET = "backend-net"
APP_UID = "10001:10001"
NGINX_UID = "10002:10002"


@dataclass(frozen=True)
class RoleSpec:
    image: str
    """Short name of the project image (infra-gen/<image>:<tag>)."""
    command: tuple[str, ...]
    port: int | None
    """Where it listens; None: serves no traffic (a Celery worker)."""
    metrics_port: int | None
    """Where the image serves metrics by default; None: no metrics."""
    metrics_on_port: bool
    """Metrics follow the service's port when the environment moves it (gunicorn apps)."""
    health_path: str | None
    """HTTP health path on the port; None: the health check fetches the metrics page."""
    user: str
    networks: tuple[str, ...]
    route: str | None
    """Default route prefix at the load balancer; None: never routed."""
    gunicorn: bool = False
    """A gunicorn server: PORT, workers, graceful timeout and the session key."""
    datastores: bool = False
    """Reads PostgreSQL and Redis: their settings, secrets and healthy start."""
    reads_replica: bool = False
    """Sends reads to the PostgreSQL replica when there is one."""
    celery: bool = False
    """A Celery worker: concurrency, the ML service's URL, its metrics port."""
    alerts: tuple[str, ...] = ()
    """Alert families alerts.py builds for it (http, tasks, ml; generic for a service
    of your own: 5xx share and latency from the conventional HTTP metrics)."""
    dashboard: tuple[str, ...] = ()
    """Dashboard rows grafana.py builds for it."""
    image_ref: str | None = None
    """A full, pinned image reference (a service of your own); else `image` is one of
    the project's images."""
    health_command: tuple[str, ...] = ()
    """Health check command, when there is no health_path."""
    own_secrets: tuple[str, ...] = ()
    """Secrets a service of your own names."""
    reports_errors: bool = False
    """Reports unhandled errors where error_tracking is on (the app's sentry-sdk)."""
    test_error_route: bool = False
    """Serves the test-only error route where error_tracking.test_error_route is on."""
    model_registry: bool = False
    """Serves the model version the registry's alias marks (with ml_registry enabled):
    the registry's address, model name, alias and poll interval."""
    tmpfs: tuple[str, ...] = ("/tmp",)
    """Where the image writes (an in-memory tmpfs each): the root filesystem is read-only."""

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(sorted({*(("secret_key",) if self.gunicorn else ()),
                             *(("postgres_password", "redis_password") if self.datastores
                               else ()), *self.own_secrets}))


def own_spec(svc: AppService, route: str | None) -> RoleSpec:
    """The entry of a service that brings its own image: one more row of the table."""
    assert svc.image is not None and svc.healthcheck is not None and svc.user is not None
    has_metrics = svc.metrics is not None
    return RoleSpec(
        image="", image_ref=svc.image, command=tuple(svc.command or ()), port=svc.port,
        metrics_port=svc.metrics.port if svc.metrics else None, metrics_on_port=False,
        health_path=svc.healthcheck.path, health_command=tuple(svc.healthcheck.command or ()),
        user=svc.user, own_secrets=tuple(svc.secrets),
        tmpfs=tuple(dict.fromkeys(("/tmp", *svc.tmpfs))),
        networks=((FRONTEND_NET,) if route else ()) + (BACKEND_NET,), route=route,
        alerts=("generic",) if has_metrics else (), dashboard=("generic",) if has_metrics else (),
    )


ROLE_SPECS: dict[Role, RoleSpec] = {
    Role.frontend: RoleSpec("frontend", (), 8080, None, False, "/healthz", NGINX_UID,
                            (FRONTEND_NET,), "/"),
    Role.api: RoleSpec("app", ("api",), 8000, 8000, True, "/health/", APP_UID,
                       (FRONTEND_NET, BACKEND_NET), "/api/", gunicorn=True, datastores=True,
                       reads_replica=True, alerts=("http",), dashboard=("http",),
                       reports_errors=True, test_error_route=True),
    Role.worker: RoleSpec("app", ("worker",), None, 8888, False, None, APP_UID,
                          (BACKEND_NET,), None, datastores=True, celery=True,
                          alerts=("tasks",), dashboard=("tasks",), reports_errors=True),
    Role.ml: RoleSpec("app", ("ml",), 5000, 5000, True, "/health", APP_UID,
                      (BACKEND_NET,), None, gunicorn=True, alerts=("ml",), dashboard=("ml",),
                      reports_errors=True, model_registry=True),
}
