"""Names, paths and ports the stack itself takes: a user's service may not reuse them.

The topology names its own containers, the nginx artifact serves its admin routes
and the firewall opens the datastore ports from these constants (one source), and
the Environment refuses a service or a route that would collide with them.
tests/unit/test_reserved.py checks that a rendered topology uses nothing else.
"""

from __future__ import annotations

ADMIN_ROUTES: dict[str, str] = {
    "prometheus": "/prometheus/",
    "alertmanager": "/alertmanager/",
    "grafana": "/grafana/",
}
"""Admin UIs the load balancer proxies under their own prefix (restricted to
load_balancer.admin_allow), by container kind."""

LB_EXACT_PATHS: tuple[str, ...] = ("/nginx_status", "/nginx_health", "/health/")
"""Exact locations of the load balancer: the stub status page, its container
healthcheck and the public health check of the first API pool (role api's
health path)."""

LB_PREFIX_PATHS: tuple[str, ...] = ("/.well-known/acme-challenge/",)
"""Prefix locations the load balancer serves itself (certbot's HTTP-01 challenge)."""

INFRA_CONTAINERS: frozenset[str] = frozenset({
    "lb", "certbot", "postgres", "postgres-replica", "redis", "prometheus", "alertmanager", "grafana",
    "fluentd", "postgres-exporter", "postgres-replica-exporter", "redis-exporter",
    "nginx-exporter", "lb-log-exporter", "node-exporter", "migrate", "redis-replica", "redis-sentinel-1",
    "redis-sentinel-2", "redis-sentinel-3", "redis-replica-exporter", "redis-sentinel-exporter",
    "mlflow",
})
"""Compose service (and DNS) names of the stack's own containers."""

RESERVED_SERVICE_NAMES: frozenset[str] = INFRA_CONTAINERS | {
    # Prometheus job names of the exporters (the container name without -exporter)
    # and of the monitoring containers: a service's scrape job is its own name.
    "nginx", "lb-log", "node", "redis-sentinel",
    # The sinks some environments run instead of a mail server or a Sentry server.
    "mail-sink", "error-sink",
}
"""Names an application service may not take: a container, DNS alias or scrape job
of the stack's own already has it."""

STACK_SECRETS: frozenset[str] = frozenset({
    "postgres_password", "replication_password", "redis_password", "secret_key", "api_token",
})
"""Secret files the stack creates with random values (and `up`'s API token): a secret
the user provides may not take their names."""

DATASTORE_PORTS: dict[str, int] = {"postgres": 5432, "redis": 6379, "redis-sentinel": 26379}
"""Host ports the firewall opens to the private network for the datastores."""


def route_collision(route: str) -> str | None:
    """What of the load balancer's own a service route would shadow, or None."""
    for kind, admin in ADMIN_ROUTES.items():
        if route.startswith(admin) or (admin.startswith(route) and route != "/"):
            return f"the {kind} admin route {admin}"
    for exact in LB_EXACT_PATHS:
        if exact.startswith(route) and route != "/":
            return f"the load balancer's own location {exact}"
    for prefix in LB_PREFIX_PATHS:
        if route.startswith(prefix) or (prefix.startswith(route) and route != "/"):
            return f"the load balancer's own location {prefix}"
    return None
