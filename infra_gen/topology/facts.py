"""Environment -> Topology: every derived fact, computed once (pure, no I/O).

Templates only format what is here: container names, ports, upstream members,
scrape targets, firewall rules and secrets all come from this module, so the
artifacts that mention them cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ..model import Environment, Resources, Role, TlsMode

FRONTEND_NET = "frontend-net"
BACKEND_NET = "backend-net"
SECRETS_MOUNT = "/run/secrets"
DOCKER_NETWORK_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
"""Where Docker takes the subnets of bridge (172.16/12, 192.168/16) and swarm overlay
(10/8) networks by default: the source addresses of container-to-container traffic."""

def public_base_url(env: Environment) -> str:
    """scheme://domain[:port] where people reach the site: https unless `tls.mode: none`,
    the load balancer's port only when it is not the scheme's default (dev: :8443)."""
    lb = env.load_balancer
    if env.tls.mode is TlsMode.none:
        scheme, port, default = "http", lb.http_port, 80
    else:
        scheme, port, default = "https", lb.https_port, 443
    return f"{scheme}://{env.domain}" + ("" if port == default else f":{port}")


APP_UID = "10001:10001"
NGINX_UID = "10002:10002"
NOBODY_UID = "65534:65534"


@dataclass(frozen=True)
class RoleDefaults:
    image: str
    command: tuple[str, ...]
    port: int | None
    metrics_port: int | None
    health_path: str | None
    user: str


ROLE_DEFAULTS: dict[Role, RoleDefaults] = {
    Role.frontend: RoleDefaults("frontend", (), 8080, None, "/healthz", NGINX_UID),
    Role.api: RoleDefaults("app", ("api",), 8000, 8000, "/health/", APP_UID),
    Role.worker: RoleDefaults("app", ("worker",), None, 8888, None, APP_UID),
    Role.ml: RoleDefaults("app", ("ml",), 5000, 5000, "/health", APP_UID),
}

PORTS = {
    "lb_http": 8080,
    "lb_https": 8443,
    "lb_status": 8081,
    "postgres": 5432,
    "redis": 6379,
    "prometheus": 9090,
    "alertmanager": 9093,
    "grafana": 3000,
    "postgres-exporter": 9187,
    "redis-exporter": 9121,
    "nginx-exporter": 9113,
    "node-exporter": 9100,
}


@dataclass(frozen=True)
class Healthcheck:
    test: tuple[str, ...]
    interval: str = "10s"
    timeout: str = "5s"
    retries: int = 5
    start_period: str = "20s"


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool = True
    named: bool = False
    """A named volume (else a bind mount of a generated file or host path)."""


@dataclass(frozen=True)
class Published:
    host_ip: str
    host_port: int
    container_port: int


@dataclass(frozen=True)
class Container:
    name: str
    """Compose service name and DNS name (api-1)."""
    group: str
    """Logical service it is a replica of (api); a DNS alias shared by its replicas."""
    kind: str
    """frontend, api, worker, ml, lb, postgres, postgres-replica, redis, prometheus,
    alertmanager, grafana, fluentd, or an exporter name."""
    image: str
    user: str
    resources: Resources
    networks: tuple[str, ...]
    healthcheck: Healthcheck
    command: tuple[str, ...] = ()
    port: int | None = None
    environment: tuple[tuple[str, str], ...] = ()
    secrets: tuple[str, ...] = ()
    mounts: tuple[Mount, ...] = ()
    published: tuple[Published, ...] = ()
    depends_on: tuple[tuple[str, str], ...] = ()
    cap_add: tuple[str, ...] = ()
    stop_grace_period: str = "10s"
    tmpfs: tuple[str, ...] = ("/tmp",)
    built_here: bool = True
    """The image is built from services/ (else pulled, e.g. grafana)."""
    root_reason: str | None = None
    """Why this container runs as root; None means it must not."""


@dataclass(frozen=True)
class UpstreamPool:
    name: str
    group: str
    route: str
    port: int
    members: tuple[str, ...]
    health_path: str | None


@dataclass(frozen=True)
class ScrapeJob:
    job: str
    targets: tuple[str, ...]
    metrics_path: str = "/metrics"


@dataclass(frozen=True)
class FirewallRule:
    port: int
    source: str | None
    """None: anyone; else the CIDR allowed."""
    comment: str


@dataclass(frozen=True)
class Topology:
    env: Environment
    compose_project: str
    containers: tuple[Container, ...]
    upstreams: tuple[UpstreamPool, ...]
    scrape_jobs: tuple[ScrapeJob, ...]
    firewall_rules: tuple[FirewallRule, ...]
    secrets: tuple[str, ...]
    volumes: tuple[str, ...]
    networks: tuple[str, ...] = (FRONTEND_NET, BACKEND_NET)
    tls_certificate: str = ""
    tls_key: str = ""
    urls: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.env.name

    @property
    def base_url(self) -> str:
        """The public base URL (no trailing slash): every absolute link starts with it."""
        return public_base_url(self.env)

    @cached_property
    def _by_name(self) -> dict[str, Container]:
        return {c.name: c for c in self.containers}

    @cached_property
    def _by_group(self) -> dict[str, tuple[Container, ...]]:
        groups: dict[str, list[Container]] = {}
        for c in self.containers:
            groups.setdefault(c.group, []).append(c)
        return {g: tuple(cs) for g, cs in groups.items()}

    def container(self, name: str) -> Container:
        return self._by_name[name]

    def of_group(self, group: str) -> tuple[Container, ...]:
        return self._by_group.get(group, ())

    def of_kind(self, *kinds: str) -> tuple[Container, ...]:
        return tuple(c for c in self.containers if c.kind in kinds)

    @property
    def secrets_dir(self) -> str:
        return self.env.deploy.secrets_dir.replace("{env}", self.env.name)
