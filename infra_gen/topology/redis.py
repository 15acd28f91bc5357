"""Redis containers: one server, or a primary, a replica and three Sentinels."""

from __future__ import annotations

from dataclasses import replace

from ..model import Environment
from .facts import BACKEND_NET, PORTS, Container, Healthcheck, Link, Mount, RedisHa, redis_ha
from .observability import SMALL, ImageRef, secret_env

SENTINEL_RESOURCES = SMALL
"""A Sentinel holds a few connections and a page of state."""

_AUTH = secret_env("REDIS_PASSWORD_FILE", "redis_password")


def redis_client(
    ha: RedisHa | None,
) -> tuple[tuple[tuple[str, str], ...], list[Link], list[tuple[str, str]]]:
    """(environment, links, depends_on) of an app service that uses Redis. With
    Sentinels it asks them where the primary is, never a fixed host: after a failover
    the primary is the other server."""
    if ha is None:
        return ((("REDIS_HOST", "redis"), ("REDIS_PORT", str(PORTS["redis"])), _AUTH),
                [Link("redis", "cache + broker")], [("redis", "service_healthy")])
    return (
        (("REDIS_SENTINELS", ha.addresses(ha.sentinels, "redis-sentinel")),
         ("REDIS_MASTER_NAME", ha.master_name), _AUTH),
        [Link(ha.primary, "cache + broker"), Link(ha.sentinels[0], "finds the Redis primary")],
        [(name, "service_healthy") for name in (ha.primary, *ha.sentinels)],
    )


def _server(env: Environment, image: ImageRef, name: str, kind: str, volume: str,
            environment: tuple[tuple[str, str], ...]) -> Container:
    return Container(
        name=name, kind=kind, image=image("redis"),
        user="redis", port=PORTS["redis"], resources=env.redis.resources,
        networks=(BACKEND_NET,), environment=environment, secrets=("redis_password",),
        mounts=(Mount(f"./redis/{name}.conf", "/etc/infra-gen/redis.conf"),
                Mount(volume, "/var/lib/redis", False, True)),
        healthcheck=Healthcheck(("CMD", "redis-healthcheck")),
    )


def redis_servers(env: Environment, image: ImageRef) -> list[Container]:
    """The Redis containers of the environment."""
    ha = redis_ha(env)
    if ha is None:
        return [_server(env, image, "redis", "redis", "redisdata", (_AUTH,))]
    # Every server and Sentinel decides its role when it starts, from what the
    # Sentinels (else the other server) say: a restarted old primary rejoins as a
    # replica, and `compose up` never starts a second primary (the image's entry point).
    found = (("REDIS_MASTER_NAME", ha.master_name),
             ("REDIS_SENTINELS", ha.addresses(ha.sentinels, "redis-sentinel")),
             ("REDIS_NODES", ha.addresses(ha.nodes, "redis")), _AUTH)
    out = [
        _server(env, image, ha.primary, "redis", "redisdata",
                (("REDIS_ANNOUNCE_HOST", ha.primary), *found)),
        replace(_server(env, image, ha.replica, "redis-replica", "redisreplica",
                        (("REDIS_ANNOUNCE_HOST", ha.replica), *found)),
                depends_on=((ha.primary, "service_healthy"),),
                links=(Link(ha.primary, "replication"),)),
    ]
    port = PORTS["redis-sentinel"]
    out += [
        Container(
            name=name, kind="redis-sentinel", image=image("redis"), command=("sentinel",),
            user="redis", port=port, resources=SENTINEL_RESOURCES, networks=(BACKEND_NET,),
            environment=(("REDIS_ANNOUNCE_HOST", name), ("REDIS_PORT", str(port)), *found),
            secrets=("redis_password",),
            # Sentinel rewrites its configuration file: the entry point copies the
            # generated one to /tmp (tmpfs), so the root filesystem may be read-only.
            mounts=(Mount("./redis/sentinel.conf", "/etc/infra-gen/sentinel.conf"),),
            depends_on=((ha.primary, "service_healthy"),),
            links=tuple(Link(node, "watches") for node in ha.nodes),
            healthcheck=Healthcheck(("CMD", "redis-healthcheck")),
        )
        for name in ha.sentinels
    ]
    return out
