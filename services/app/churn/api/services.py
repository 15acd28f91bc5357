"""What the API depends on, bundled so tests can swap in fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from churn.api.activity import ActiveClients, LocalActiveClients, RedisActiveClients
from churn.api.cache import CustomerCache, NoCache, RedisCustomerCache
from churn.api.queue import CeleryPredictionQueue, PredictionQueue
from churn.config import Config
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
    # name -> callable raising on failure; /health/ reports the names that failed.
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)


def build_services(config: Config) -> ApiServices:
    """Production wiring: PostgreSQL, Redis and Celery, all connected lazily."""
    from churn.store.pools import Database
    from churn.store.postgres import PostgresStore
    from churn.worker.celery_app import make_celery

    store = PostgresStore(Database(config))
    redis_client = cache_client(config)
    return ApiServices(
        customers=store,
        tokens=store,
        predictions=CeleryPredictionQueue(make_celery(config)),
        cache=RedisCustomerCache(redis_client),
        active_clients=RedisActiveClients(redis_client),
        health_checks={"database": store.ping, "redis": lambda: _ping_redis(redis_client)},
    )


def _ping_redis(client: redis.Redis) -> None:
    if not client.ping():
        raise RuntimeError("redis did not answer PING")
