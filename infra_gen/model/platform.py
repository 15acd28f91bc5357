"""The platform around the app: TLS, the load balancer, databases, images."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from .. import __version__
from .common import (
    Cidr,
    Duration,
    Email,
    HttpsUrl,
    ImageRef,
    ImageRegistry,
    ImageTag,
    IpAddress,
    Justification,
    MemorySize,
    PgIdentifier,
    PgRole,
    Port,
    RedisPolicy,
    Resources,
    SafePath,
    StrictModel,
    duration_seconds,
    is_world,
    located,
)

LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
"""Let's Encrypt's production ACME directory (tls.acme_server's default)."""


class TlsMode(StrEnum):
    certbot = "certbot"
    self_signed = "self-signed"
    none = "none"


class Tls(StrictModel):
    mode: TlsMode = TlsMode.self_signed
    """certbot (a certbot service in the stack obtains and renews the certificate over
    HTTP-01 through the load balancer's webroot, from a temporary self-signed one),
    self-signed (a pair `infra-gen up` creates) or none (plain HTTP, for throw-away
    environments only)."""
    email: Email | None = None
    """Contact address for certbot registration; required with mode certbot."""
    acme_server: HttpsUrl = LETS_ENCRYPT
    """ACME directory URL certbot registers and orders at (mode certbot): Let's Encrypt
    production by default; its staging directory
    (https://acme-staging-v02.api.letsencrypt.org/directory) or a private or test
    ACME server (pebble) elsewhere."""
    acme_ca_bundle: SafePath | None = None
    """PEM file on the Docker host with the CA certificates certbot trusts for the ACME
    server's HTTPS, instead of the system's (mounted read-only into the certbot
    container): for an ACME server whose certificate no public CA issued (pebble).
    None: the system's CAs."""
    renew_every: Duration = "12h"
    """How often the certbot service runs `certbot renew` (which renews a certificate
    within 30 days of its expiry); an issuance that failed is retried sooner, backing
    off from a minute up to this."""
    hsts_max_age: int = Field(default=31536000, ge=0, le=315360000)
    """Strict-Transport-Security max-age in seconds."""

    @model_validator(mode="after")
    @located
    def _certbot_needs_email(self) -> Tls:
        if self.mode is TlsMode.certbot and self.email is None:
            raise ValueError("email: required with mode certbot (the certbot contact address)")
        if duration_seconds(self.renew_every) < 60:
            raise ValueError(f"renew_every: {self.renew_every} is shorter than a minute; "
                             "`certbot renew` only acts within 30 days of expiry")
        return self


class RateLimit(StrictModel):
    requests_per_second: int = Field(default=20, ge=1, le=1_000_000)
    """Sustained request rate allowed per client IP."""
    burst: int = Field(default=40, ge=0, le=1_000_000)
    """Requests above the rate that are queued before 429 is returned."""
    connections_per_ip: int = Field(default=50, ge=1, le=1_000_000)
    """Concurrent connections allowed per client IP."""


class Upstream(StrictModel):
    max_fails: int = Field(default=3, ge=1, le=1000)
    """Failed attempts before a member is taken out of rotation (passive health check)."""
    fail_timeout: Duration = "30s"
    """How long a failed member stays out, and the window max_fails is counted in."""
    keepalive: int = Field(default=32, ge=0, le=10_000)
    """Idle keepalive connections nginx keeps open to each upstream pool."""


class Timeouts(StrictModel):
    connect: Duration = "500ms"
    """Time to connect to an upstream member. Inside a Docker network a live member
    accepts in a millisecond; a killed one never answers, and every request sent to it
    waits this long before going to the next member."""
    read: Duration = "60s"
    """Time between two reads from an upstream member."""
    send: Duration = "60s"
    """Time between two writes to an upstream member."""
    client_body: Duration = "4s"
    """Longest pause between two reads of the client's request body (nginx has no
    total body timeout): a client trickling a byte every few seconds is cut off."""
    client_header: Duration = "15s"
    """Time to read the client's request headers (all of them)."""
    client_send: Duration = "10s"
    """Longest pause between two writes of a response to the client (send_timeout):
    a client that stops reading releases its connection."""


class LoadBalancer(StrictModel):
    http_port: Port = 80
    """Host port that serves HTTP (redirects to HTTPS unless tls.mode is none)."""
    https_port: Port = 443
    """Host port that serves HTTPS."""
    bind_address: IpAddress = "0.0.0.0"
    """Host address the ports are published on (127.0.0.1 keeps a dev stack local)."""
    rate_limit: RateLimit = RateLimit()
    """Per-client rate and connection limits (DDoS protection)."""
    upstream: Upstream = Upstream()
    """Passive health checks and keepalive for every upstream pool."""
    timeouts: Timeouts = Timeouts()
    """Client and upstream timeouts."""
    client_max_body_size: MemorySize = "10M"
    """Largest request body accepted."""
    replica_header: bool = False
    """Pass the app's X-Served-By response header (the replica that answered) on to
    clients. For dev and test environments, where balancing is observed from outside;
    off in production, where it would map the fleet for anyone."""
    admin_allow: list[Cidr] = Field(default=["127.0.0.1/32"], max_length=64)
    """Client networks allowed to reach /prometheus/, /alertmanager/ and /nginx_status.
    A network that is effectively everyone (prefix shorter than /8, or /7 for IPv6)
    needs allow_world_admin."""
    allow_world_admin: Justification | None = None
    """Explicit opt-in to an admin_allow network that is effectively the whole
    Internet; say why."""
    resources: Resources = Resources()
    """CPU, memory and PID limits of the load balancer."""

    @model_validator(mode="after")
    @located
    def _admins_are_not_everyone(self) -> LoadBalancer:
        world = [c for c in self.admin_allow if is_world(c)]
        if world and self.allow_world_admin is None:
            raise ValueError(
                f"admin_allow: {world[0]} is effectively everyone (prefix shorter than /8); "
                "list the operators' networks, or set allow_world_admin: {reason: ...}"
            )
        return self


class Autovacuum(StrictModel):
    vacuum_scale_factor: float = Field(default=0.1, gt=0, le=1)
    """Fraction of a table that must change before autovacuum vacuums it."""
    analyze_scale_factor: float = Field(default=0.05, gt=0, le=1)
    """Fraction of a table that must change before autovacuum analyzes it."""


class Index(StrictModel):
    name: PgIdentifier
    """Index name."""
    table: PgIdentifier
    """Table it belongs to."""
    columns: list[PgIdentifier] = Field(min_length=1, max_length=32)
    """Indexed columns, in order."""


class Postgres(StrictModel):
    replicas: int = Field(default=1, ge=0, le=1)
    """Streaming replicas (0 or 1); the API reads from it when present."""
    database: PgIdentifier = "churn"
    """Application database name."""
    user: PgRole = "churn"
    """Application database owner."""
    max_connections: int = Field(default=100, ge=10, le=10_000)
    """max_connections of the server."""
    shared_buffers: MemorySize = "128M"
    """shared_buffers of the server."""
    autovacuum: Autovacuum = Autovacuum()
    """Autovacuum thresholds."""
    indexes: list[Index] = Field(default=[], max_length=100)
    """Indexes created (if missing) after the app's migrations."""
    resources: Resources = Resources(pids=512)
    """CPU, memory and PID limits of each database container."""


class RedisSentinel(StrictModel):
    enabled: bool = False
    """Run Redis as a primary, a replica and three Sentinels that promote the replica
    when the primary is lost; the app finds the primary through the Sentinels. Off: one
    Redis, no failover (the cache fails open, predictions answer 503 while it is down)."""
    quorum: int = Field(default=2, ge=1, le=3)
    """Sentinels (of the three) that must agree the primary is down before a failover
    starts; a majority (2) must still elect the one that runs it, so 2 keeps one lost
    Sentinel harmless and stops a single partitioned Sentinel from acting alone."""
    down_after: Duration = "5s"
    """How long the primary must not answer before a Sentinel calls it down: the larger
    part of the time clients cannot enqueue after losing it."""
    failover_timeout: Duration = "60s"
    """Sentinel's failover-timeout: how long a started failover may take, and twice it
    the wait before the same primary is failed over again."""

    @model_validator(mode="after")
    @located
    def _failover_outlasts_detection(self) -> RedisSentinel:
        if duration_seconds(self.failover_timeout) <= duration_seconds(self.down_after):
            raise ValueError(
                f"failover_timeout: {self.failover_timeout} must be longer than down_after "
                f"({self.down_after}); a failover cannot finish before the primary is down")
        if duration_seconds(self.down_after) < 1:
            raise ValueError(f"down_after: {self.down_after} is shorter than 1s; Sentinel pings "
                             "once a second, so the primary would be called down on one lost ping")
        return self


class Redis(StrictModel):
    maxmemory: MemorySize = "256M"
    """Memory ceiling of the cache/broker."""
    maxmemory_policy: RedisPolicy = RedisPolicy.noeviction
    """What Redis does at the ceiling; noeviction keeps Celery messages safe."""
    resources: Resources = Resources()
    """CPU, memory and PID limits of each Redis server (primary and replica)."""
    sentinel: RedisSentinel = RedisSentinel()
    """Primary, replica and three Sentinels (automatic failover), or one Redis."""


class Images(StrictModel):
    registry: ImageRegistry = "infra-gen"
    """Prefix of the project's own images (infra-gen/app, infra-gen/lb, ...)."""
    tag: ImageTag = __version__
    """Tag of the project's own images: a release, never latest (default: the
    infra-gen version, which scripts/build-images.sh tags them with)."""
    grafana: ImageRef = "grafana/grafana:11.2.2"
    """Grafana image (pulled, not built here)."""
    fluentd: ImageRef = "fluent/fluentd-kubernetes-daemonset:v1.17.1-debian-elasticsearch8-1.0"
    """fluentd image with the Elasticsearch output plugin (pulled, not built here)."""

    @model_validator(mode="after")
    @located
    def _pinned(self) -> Images:
        if self.tag == "latest":
            raise ValueError("tag: must be a release, not latest")
        return self
