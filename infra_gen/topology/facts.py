"""Environment -> Topology: every derived fact, computed once (pure, no I/O).

Templates only format what is here: container names, ports, upstream members,
scrape targets, firewall rules and secrets all come from this module, so the
artifacts that mention them cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ..model import Environment, Resources, TlsMode, duration_seconds

# The roles table owns the app's networks and users; re-exported for the platform.
from ..model.roles import BACKEND_NET as BACKEND_NET
from ..model.roles import FRONTEND_NET as FRONTEND_NET
from ..model.roles import NGINX_UID as NGINX_UID

SECRETS_MOUNT = "/run/secrets"
WRITABLE_ROOT_LABEL = "infra-gen.writable-root-reason"
"""The container label naming why its root filesystem is not read-only (compose sets
it from Container.writable_root; checks read it from `docker inspect`)."""
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


NOBODY_UID = "65534:65534"
LB_LOG_VOLUME = "lblog"
"""The named volume the load balancer and its log exporter share (one per host)."""
LB_LOG_DIR = "/run/lb-log"
LB_LOG_SOCKET = f"{LB_LOG_DIR}/access.sock"
"""The unix datagram socket the log exporter (mtail) listens on and nginx sends one
access line per request to (syslog, fire-and-forget: see the nginx artifact)."""
LB_LOG_PROGRAM = "/etc/mtail/lb_access.mtail"
"""Where the log exporter reads its program (generated mtail/lb_access.mtail)."""
GRAFANA_DASHBOARDS_DIR = "/var/lib/grafana/dashboards"
"""Where the grafana container mounts generated/<env>/grafana/dashboards/*.json."""

PORTS = {
    "lb_http": 8080,
    "lb_https": 8443,
    "lb_status": 8081,
    "postgres": 5432,
    "redis": 6379,
    "redis-sentinel": 26379,
    "prometheus": 9090,
    "alertmanager": 9093,
    "grafana": 3000,
    "postgres-exporter": 9187,
    "redis-exporter": 9121,
    "nginx-exporter": 9113,
    "lb-log-exporter": 3903,
    "node-exporter": 9100,
    "mail-sink": 2525,
    "mail-sink-api": 8025,
    "error-sink": 8030,
    "mlflow": 5000,
}
SWARM_PORTS = ((2377, "tcp", "cluster management"), (7946, "tcp", "node gossip"),
               (7946, "udp", "node gossip"), (4789, "udp", "overlay VXLAN"))
"""(port, protocol, use) of what the nodes of a swarm must reach on each other."""


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
    swarm_source: str | None = None
    """The generated file used instead on swarm (Prometheus' swarm configuration)."""


@dataclass(frozen=True)
class Published:
    host_ip: str
    host_port: int
    container_port: int


@dataclass(frozen=True)
class Link:
    """One container using another (the architecture diagram's edges)."""

    target: str
    """The container used."""
    label: str
    """What for (SQL, cache + broker, predictions, replication, exports)."""
    dotted: bool = False
    """An exporter reading it, not a dependency of the app."""


@dataclass(frozen=True)
class Replication:
    """Streaming replication of PostgreSQL (None on the topology without a replica)."""

    user: str
    """The role the replica connects as."""
    slot: str
    """The primary's physical replication slot the replica streams from."""
    password_secret: str
    primary: str
    """The primary's container."""
    replica: str
    """The replica's container."""


@dataclass(frozen=True)
class RedisHa:
    """Redis with automatic failover (None on the topology of a single Redis)."""

    master_name: str
    """The name the Sentinels monitor the primary under (clients ask for it)."""
    primary: str
    """The container planned as the primary (a fresh stack starts it as one)."""
    replica: str
    """The container planned as its replica."""
    sentinels: tuple[str, ...]
    """The Sentinels' containers (three: a majority survives losing one)."""
    quorum: int
    down_after_ms: int
    failover_timeout_ms: int

    @property
    def nodes(self) -> tuple[str, str]:
        """The Redis servers, planned primary first."""
        return self.primary, self.replica

    def addresses(self, names: tuple[str, ...], port_key: str) -> str:
        """host:port,host:port (the images' list variables)."""
        return ",".join(f"{n}:{PORTS[port_key]}" for n in names)


def redis_ha(env: Environment) -> RedisHa | None:
    """The failover set of Redis the environment asks for, or None (one Redis)."""
    s = env.redis.sentinel
    if not s.enabled:
        return None
    return RedisHa(
        master_name="churn", primary="redis", replica="redis-replica",
        sentinels=tuple(f"redis-sentinel-{i}" for i in (1, 2, 3)), quorum=s.quorum,
        down_after_ms=round(duration_seconds(s.down_after) * 1000),
        failover_timeout_ms=round(duration_seconds(s.failover_timeout) * 1000),
    )


@dataclass(frozen=True)
class Container:
    """One compose (and swarm) service: `replicas` containers run it, all answering
    to its name through Docker's DNS."""

    name: str
    """Compose service name and DNS name (api); every replica answers to it."""
    kind: str
    """frontend, api, worker, ml, lb, postgres, postgres-replica, redis, redis-replica,
    redis-sentinel, prometheus,
    alertmanager, grafana, fluentd, or an exporter name."""
    image: str
    user: str
    resources: Resources
    networks: tuple[str, ...]
    healthcheck: Healthcheck
    replicas: int = 1
    """deploy.replicas; only app services (scalable: `scalable`) have more than one."""
    scalable: bool = False
    """An app service: found through DNS by the load balancer and Prometheus, so
    `--scale` works on the generated files."""
    command: tuple[str, ...] = ()
    port: int | None = None
    expose: tuple[int, ...] = ()
    """Every port the image serves inside the container (compose `expose`): the
    port and the metrics port. The cross-artifact checks compare scrape and
    upstream ports with it."""
    environment: tuple[tuple[str, str], ...] = ()
    secrets: tuple[str, ...] = ()
    mounts: tuple[Mount, ...] = ()
    published: tuple[Published, ...] = ()
    depends_on: tuple[tuple[str, str], ...] = ()
    cap_add: tuple[str, ...] = ()
    sysctls: tuple[tuple[str, str], ...] = ()
    """Kernel settings of its own network namespace (net.*), as compose and swarm set them."""
    stop_grace_period: str = "10s"
    tmpfs: tuple[str, ...] = ("/tmp",)
    """Where it writes besides its volumes: an in-memory tmpfs each, on a read-only root."""
    built_here: bool = True
    """The image is built from services/ (else pulled, e.g. grafana)."""
    root_reason: str | None = None
    """Why this container runs as root; None means it must not."""
    writable_root: str | None = None
    """Why its root filesystem stays writable; None (every container unless the model
    says why): read-only, with `tmpfs` and the volumes writable."""
    alerts: tuple[str, ...] = ()
    """Alert families of its role spec (app services)."""
    dashboard: tuple[str, ...] = ()
    """Dashboard rows of its role spec (app services)."""
    route_prefix: str = ""
    """The path it serves under ("" at /): --web.route-prefix of Prometheus and
    Alertmanager, Grafana's sub path; the load balancer proxies it there."""
    links: tuple[Link, ...] = ()
    """The other containers it talks to, in the order its environment names them."""
    one_shot: bool = False
    """Runs to completion once per deploy (the migrations) and is never restarted:
    services that need its work wait for its successful exit; "healthy" for it is
    "exited 0"."""


@dataclass(frozen=True)
class UpstreamPool:
    name: str
    """nginx upstream name."""
    service: str
    """The compose service behind it: nginx resolves its name to every replica."""
    route: str
    port: int
    replicas: int
    """Planned replicas; 0 means no server (the route answers 503)."""
    health_path: str | None


@dataclass(frozen=True)
class ScrapeJob:
    job: str
    service: str
    """The compose service scraped."""
    port: int
    metrics_path: str = "/metrics"
    kind: str = ""
    """The kind of the container scraped (api, node-exporter, prometheus, ...)."""
    watches: str | None = None
    """The container an exporter reads (postgres-exporter -> postgres); None otherwise."""
    alerts: tuple[str, ...] = ()
    """Alert families of the scraped service's role spec (app services)."""
    dashboard: tuple[str, ...] = ()
    """Dashboard rows of the scraped service's role spec (app services)."""
    discovered: bool = False
    """Every replica found through Docker's DNS (dns_sd_configs on the service name,
    tasks.<service> on swarm); else the one static target."""
    host: str | None = None
    """Static target host when it is not the service name (Prometheus scrapes itself
    on localhost)."""

    @property
    def target(self) -> str:
        """host:port of the static target, or the DNS name:port of a discovered job."""
        return f"{self.host or self.service}:{self.port}"


@dataclass(frozen=True)
class FirewallRule:
    port: int
    source: str | None
    """None: anyone; else the CIDR allowed."""
    comment: str
    proto: str = "tcp"
    """tcp or udp."""


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
    external_networks: tuple[str, ...] = ()
    """Existing Docker networks outside the stack that a container joins (the log
    sink's): declared `external: true`, never created or removed with the stack."""
    tls_certificate: str = ""
    tls_key: str = ""
    urls: dict[str, str] = field(default_factory=dict)
    replication: Replication | None = None
    """PostgreSQL streaming replication; None when postgres.replicas is 0."""
    redis_ha: RedisHa | None = None
    """Redis primary, replica and Sentinels; None with a single Redis."""
    model_dir: str = ""
    """Where the ml service keeps its model (the backups archive it): the app's default
    unless the ml service's environment sets MODEL_DIR."""
    derived_secrets: tuple[tuple[str, str], ...] = ()
    """Secrets whose content the stack writes itself rather than a random value (the
    error sink's DSN): (name, content); `up` rewrites a file that differs."""
    provided_secrets: tuple[str, ...] = ()
    """Secrets only the user can give (a real Sentry DSN): `up` and `deploy` refuse to
    start while one is missing, and never make one up."""
    grafana_dashboards_dir: str = GRAFANA_DASHBOARDS_DIR
    """Where Grafana reads the dashboards mounted into it (its provider's path)."""

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

    def container(self, name: str) -> Container:
        return self._by_name[name]

    def of_kind(self, *kinds: str) -> tuple[Container, ...]:
        return tuple(c for c in self.containers if c.kind in kinds)

    def jobs_of_kind(self, *kinds: str) -> list[ScrapeJob]:
        """Scrape jobs whose targets are containers of these kinds, in topology order."""
        return [j for j in self.scrape_jobs if j.kind in kinds]

    def jobs_with(self, family: str, table: str = "alerts") -> list[ScrapeJob]:
        """Scrape jobs of app services whose role spec lists this alert family (or, with
        table="dashboard", this dashboard row), in topology order."""
        return [j for j in self.scrape_jobs if family in getattr(j, table)]

    def postgres_jobs(self) -> tuple[list[ScrapeJob], ScrapeJob | None]:
        """(every postgres exporter job, the job of the exporter watching the primary)."""
        jobs = self.jobs_of_kind("postgres-exporter")
        primary = [j for j in jobs if j.watches and self.container(j.watches).kind == "postgres"]
        return jobs, primary[-1] if primary else None

    def redis_jobs(self) -> tuple[list[ScrapeJob], list[ScrapeJob]]:
        """(the exporter jobs of the Redis servers, those of the Sentinels)."""
        jobs = [j for j in self.jobs_of_kind("redis-exporter") if j.watches]
        sentinel = [j for j in jobs if self.container(j.watches or "").kind == "redis-sentinel"]
        return [j for j in jobs if j not in sentinel], sentinel

    def route_prefix(self, kind: str) -> str:
        """The path the (one) container of this kind serves under ("" at /)."""
        return self.of_kind(kind)[0].route_prefix

    @property
    def secrets_dir(self) -> str:
        return self.env.deploy.secrets_dir.replace("{env}", self.env.name)
