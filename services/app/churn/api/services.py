"""What the API depends on, bundled so tests can swap in fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from churn.api.activity import ActiveClients, LocalActiveClients, RedisActiveClients
from churn.api.cache import CustomerCache, NoCache, RedisCustomerCache
from churn.api.queue import CeleryPredictionQueue, PredictionQueue
from churn.config import REDIS_BROKER_DB, Config
from churn.redis_cache import cache_client
from churn.store.protocols import CustomerStore, TokenStore

HealthCheck = Callable[[], None]


@dataclass
class ApiServices:
    customers: CustomerStore
    tokens: TokenStore
    predictions: PredictionQueue
    cache: CustomerCache = field(default_factory=NoCache)
    active_clients: ActiveClients = field(default_factory=LocalActiveClients)
    # name -> callable raising on failure; /health/ready reports each one.
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
    # The checks without which the API cannot serve (not ready); the others only
    # degrade it: reads fall back to the primary, the cache fails open.
    required_checks: frozenset[str] = frozenset({"database"})


def build_services(config: Config) -> ApiServices:
    """Production wiring: PostgreSQL, Redis and Celery, all connected lazily."""
    from churn.store.pools import Database
    from churn.store.postgres import PostgresStore
    from churn.worker.celery_app import RESULT_EXPIRES_SECONDS, make_celery

    database = Database(config)
    store = PostgresStore(database)
    redis_client = cache_client(config)
    checks: dict[str, HealthCheck] = {"database": store.ping}
    if database.has_replica:
        checks["replica"] = store.ping_replica
    checks["redis"] = lambda: _ping_redis(redis_client)
    return ApiServices(
        customers=store,
        tokens=store,
        predictions=CeleryPredictionQueue(
            make_celery(config, client=True),
            cache_client(config, db=REDIS_BROKER_DB),
            RESULT_EXPIRES_SECONDS,
        ),
        cache=RedisCustomerCache(redis_client),
        active_clients=RedisActiveClients(redis_client),
        health_checks=checks,
    )


def _ping_redis(client: redis.Redis) -> None:
    if not client.ping():
        raise RuntimeError("redis did not answer PING")
