"""nginx artifact: nginx.conf of the load balancer (infra-gen/lb, non-root uid 10002).

Every decision is made here, from the topology: the listen ports inside the
container, the upstream pools and their members, the admin routes (Prometheus,
Alertmanager, Grafana) and who may reach them, the limits and timeouts, the TLS
files. templates/nginx/nginx.conf.j2 only formats the context built here.

/nginx_status for the nginx exporter lives on a dedicated listener
(PORTS["lb_status"], 8081) that compose never publishes: whoever reaches it came
through a Docker network. Allowing the Docker private ranges on the public :8080
instead would open the page to everyone behind a swarm ingress mesh or a
docker-proxy, where every client arrives from a private address.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..contract import LB_ACCESS_TAG
from ..errors import InfraGenError
from ..model import Role, TlsMode
from ..topology import DOCKER_NETWORK_RANGES, LB_LOG_SOCKET, PORTS, Topology, UpstreamPool
from .base import ArtifactKind, Output

WORKER_CONNECTIONS = 4096
"""Connections per worker (client side and upstream side together)."""
KEEPALIVE_TIMEOUT = "65s"
"""Idle time of a client keepalive connection."""
KEEPALIVE_REQUESTS = 1000
"""Requests served on one client keepalive connection."""
MAX_TRIES = 3
"""At most this many members are tried for one request (proxy_next_upstream_tries)."""
ADMIN_KEEPALIVE = 4
"""Idle keepalive connections kept to each admin UI."""
LIMIT_ZONE_SIZE = "10m"
"""Shared memory of each per-IP zone (about 160 000 addresses for 10m)."""
LOOPBACK = "127.0.0.1/32"

ADMIN_KINDS = ("prometheus", "alertmanager", "grafana")
"""Containers proxied under their route prefix, restricted to load_balancer.admin_allow."""

# The static UI loads only its own script, style sheet and API (services/frontend).
CSP_APP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Prometheus, Alertmanager and Grafana use inline styles and scripts (Grafana eval too).
CSP_ADMIN = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'"
)
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
)
# Mozilla's "intermediate" profile (TLS 1.2 and 1.3; checked on the running stack by
# sslyze --mozilla_config=intermediate, tests/stack/test_stack_tls.py).
# TLS 1.2 suites: forward-secret AEAD only (the TLS 1.3 suites are OpenSSL's three,
# all in the profile). No DHE, so no ssl_dhparam: the guidelines dropped the DHE
# suites from intermediate in 5.8, and with the ECDSA certificate `up` makes a
# DHE-RSA suite could never be negotiated anyway.
TLS_CIPHERS = ":".join((
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
))
# Key exchange groups of the profile; OpenSSL's default list also offers X448 and
# secp521r1, which the profile rejects.
TLS_CURVES = ":".join(("X25519", "prime256v1", "secp384r1"))
# Session resumption by the server-side cache only: tickets are off because nginx
# keeps one random ticket key until it restarts, which would weaken forward secrecy.
TLS_SESSION_CACHE = "shared:SSL:10m"
TLS_SESSION_TIMEOUT = "1d"
# Headers the load balancer sets itself: the upstream's copies are dropped, so a
# response never carries two different values.
HIDDEN_UPSTREAM_HEADERS = (
    "Content-Security-Policy", "Permissions-Policy", "Referrer-Policy",
    "Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options",
    "X-Powered-By",
)

# The route label of a request (contract.LB_REQUESTS): each location sets $lb_route to
# its group; a request no location took (a malformed request line) keeps the map's
# default. Set in the rewrite phase, so a 429 of the rate limit carries it too.
ROUTE_DEFAULT = "other"
ROUTE_HEALTH = "health"
ROUTE_REDIRECT = "redirect"
ROUTE_ACME = "acme"


REPLICA_HEADER = "X-Served-By"
"""The app's header naming the replica that answered: passed on only where
load_balancer.replica_header is set (dev, tests), hidden in production."""


@dataclass(frozen=True)
class Pool:
    name: str
    """nginx upstream name."""
    route: str
    server: str | None
    """service:port; nginx resolves the service name to every replica (None: no
    replica planned, the route answers 503)."""


@dataclass(frozen=True)
class AdminRoute:
    route: str
    """Path prefix, the same the service runs under (--web.route-prefix, sub path)."""
    upstream: str
    server: str
    """host:port."""


@dataclass(frozen=True)
class HealthRoute:
    path: str
    """Public path, the API's own health path."""
    pool: str
    upstream_path: str


def nginx_size(size: str) -> str:
    """A model MemorySize (10M, 1.5G) as an nginx size (10m, 1536m)."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([KMG])", size)
    if match is None:
        raise InfraGenError(f"not a memory size: {size!r}")
    kib = float(match.group(1)) * {"K": 1, "M": 1024, "G": 1024 * 1024}[match.group(2)]
    for unit, factor in (("g", 1024 * 1024), ("m", 1024)):
        if kib % factor == 0:
            return f"{int(kib // factor)}{unit}"
    return f"{math.ceil(kib)}k"


def _pools(topo: Topology) -> list[Pool]:
    return [
        Pool(name=p.name, route=p.route,
             server=f"{p.service}:{p.port}" if p.replicas else None)
        for p in topo.upstreams
    ]


def _admin_routes(topo: Topology) -> list[AdminRoute]:
    routes = []
    for kind in ADMIN_KINDS:
        for c in topo.of_kind(kind):
            if c.port is None or kind not in topo.urls:
                continue
            routes.append(AdminRoute(
                route=urlsplit(topo.urls[kind]).path,
                upstream=f"admin_{c.name.replace('-', '_')}",
                server=f"{c.name}:{c.port}",
            ))
    return routes


def _health_route(topo: Topology) -> HealthRoute | None:
    """/health/ of the first API pool (services order) that has replicas."""
    api_pools: list[UpstreamPool] = [
        p for p in topo.upstreams
        if topo.env.role_of(p.service) is Role.api and p.replicas and p.health_path
    ]
    if not api_pools:
        return None
    first = min(api_pools, key=lambda p: list(topo.env.services).index(p.service))
    assert first.health_path is not None
    return HealthRoute(path=first.health_path, pool=first.name, upstream_path=first.health_path)


def _check_conflicts(pools: list[Pool], admin: list[AdminRoute],
                     health: HealthRoute | None) -> None:
    seen: dict[str, str] = {}
    taken = [(p.route, f"upstream {p.name}") for p in pools]
    taken += [(a.route, f"admin route {a.upstream}") for a in admin]
    if health is not None:
        taken.append((health.path, "the API health check"))
    for path, what in taken:
        if path in seen:
            raise InfraGenError(f"nginx: {path} is both {seen[path]} and {what}")
        seen[path] = what
    names = [p.name for p in pools] + [a.upstream for a in admin]
    if len(set(names)) != len(names):
        raise InfraGenError(f"nginx: upstream names collide: {sorted(names)}")


def context(topo: Topology) -> dict[str, object]:
    env = topo.env
    lb = env.load_balancer
    pools = _pools(topo)
    admin = _admin_routes(topo)
    health = _health_route(topo)
    _check_conflicts(pools, admin, health)
    tls = env.tls.mode is not TlsMode.none
    https_suffix = "" if lb.https_port == 443 else f":{lb.https_port}"
    # Loopback first (the container's own healthcheck), then the configured admins.
    admin_allow = sorted(set(lb.admin_allow) | {LOOPBACK},
                         key=lambda c: (c != LOOPBACK, c))
    status_allow = sorted(set(DOCKER_NETWORK_RANGES) | {LOOPBACK},
                          key=lambda c: (c != LOOPBACK, c))
    return {
        "worker_processes": max(1, math.ceil(lb.resources.limits.cpus)),
        "worker_connections": WORKER_CONNECTIONS,
        "worker_rlimit_nofile": WORKER_CONNECTIONS * 2,
        "keepalive_timeout": KEEPALIVE_TIMEOUT,
        "keepalive_requests": KEEPALIVE_REQUESTS,
        "http_port": PORTS["lb_http"],
        "https_port": PORTS["lb_https"],
        "status_port": PORTS["lb_status"],
        "tls": tls,
        "certbot": env.tls.mode is TlsMode.certbot,
        "https_redirect_suffix": https_suffix,
        "server_name": env.domain,
        "pools": pools,
        "upstream": lb.upstream,
        "admin_routes": admin,
        "admin_keepalive": ADMIN_KEEPALIVE,
        "health": health,
        "admin_allow": admin_allow,
        "status_allow": status_allow,
        "rate": f"{lb.rate_limit.requests_per_second}r/s",
        "burst": lb.rate_limit.burst,
        "connections_per_ip": lb.rate_limit.connections_per_ip,
        "limit_zone_size": LIMIT_ZONE_SIZE,
        "client_max_body_size": nginx_size(lb.client_max_body_size),
        "timeouts": lb.timeouts,
        "hsts_max_age": env.tls.hsts_max_age,
        "csp_app": CSP_APP,
        "csp_admin": CSP_ADMIN,
        "permissions_policy": PERMISSIONS_POLICY,
        "tls_ciphers": TLS_CIPHERS,
        "tls_curves": TLS_CURVES,
        "tls_session_cache": TLS_SESSION_CACHE,
        "tls_session_timeout": TLS_SESSION_TIMEOUT,
        "hidden_upstream_headers": HIDDEN_UPSTREAM_HEADERS
        + (() if lb.replica_header else (REPLICA_HEADER,)),
        "max_tries": MAX_TRIES,
        # The log exporter's socket: a unix datagram socket on a volume, so nginx never
        # waits for it (a send that fails drops the line) and never fails to start
        # without it (no name to resolve, as a syslog server host would need).
        "access_log_syslog": (f"syslog:server=unix:{LB_LOG_SOCKET},nohostname,tag={LB_ACCESS_TAG}"
                              if topo.of_kind("lb-log-exporter") else None),
        "route_default": ROUTE_DEFAULT,
        "route_health": ROUTE_HEALTH,
        "route_redirect": ROUTE_REDIRECT,
        "route_acme": ROUTE_ACME,
    }


def outputs(topo: Topology) -> list[Output]:
    return [Output("nginx/nginx.conf", "nginx/nginx.conf.j2", context(topo))]


ARTIFACT = ArtifactKind(
    "nginx",
    "nginx.conf of the load balancer: TLS, upstream pools, rate limits, admin routes",
    outputs,
)
