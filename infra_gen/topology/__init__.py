"""Environment -> Topology: every derived fact, computed once (pure, no I/O)."""

from .facts import (
    BACKEND_NET,
    DOCKER_NETWORK_RANGES,
    FRONTEND_NET,
    PORTS,
    SECRETS_MOUNT,
    WRITABLE_ROOT_LABEL,
    Container,
    FirewallRule,
    Healthcheck,
    Link,
    Mount,
    Published,
    RedisHa,
    Replication,
    ScrapeJob,
    Topology,
    UpstreamPool,
)
from .plan import plan

__all__ = [
    "BACKEND_NET",
    "DOCKER_NETWORK_RANGES",
    "FRONTEND_NET",
    "PORTS",
    "SECRETS_MOUNT",
    "WRITABLE_ROOT_LABEL",
    "Container",
    "FirewallRule",
    "Healthcheck",
    "Link",
    "Mount",
    "Published",
    "RedisHa",
    "Replication",
    "ScrapeJob",
    "Topology",
    "UpstreamPool",
    "plan",
]
