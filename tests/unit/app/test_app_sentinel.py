"""The app with Redis behind Sentinels (REDIS_SENTINELS) and with one Redis
(REDIS_HOST): Celery's broker and result backend, and the redis-py clients."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from churn.api import create_app
from churn.api.queue import CeleryPredictionQueue
from churn.api.services import ApiServices
from churn.config import Config
from churn.errors import ConfigError
from churn.redis_cache import cache_client
from churn.worker import celery_app
from conftest import AUTH, VALID_CUSTOMER
from redis.sentinel import SentinelConnectionPool

SENTINELS = "redis-sentinel-1:26379,redis-sentinel-2:26379,redis-sentinel-3:26379"


def sentinel_config(tmp_path: Path, sentinels: str = SENTINELS) -> Config:
    secret = tmp_path / "redis_password"
    secret.write_text("p@ss/w;rd\n")
    return Config.from_env({"REDIS_SENTINELS": sentinels, "REDIS_MASTER_NAME": "churn",
                            "REDIS_PASSWORD_FILE": str(secret)})


def test_sentinel_addresses_and_urls(tmp_path: Path) -> None:
    config = sentinel_config(tmp_path)
    assert config.redis_sentinels == (
        ("redis-sentinel-1", 26379), ("redis-sentinel-2", 26379), ("redis-sentinel-3", 26379))
    assert config.redis_configured and config.redis_host is None
    # One sentinel:// URL per Sentinel, `;`-joined; the password quoted (`;` included,
    # it would split the list).
    assert config.redis_url(0) == ";".join(
        f"sentinel://:p%40ss%2Fw%3Brd@redis-sentinel-{i}:26379/0" for i in (1, 2, 3))
    assert config.sentinel_options() == {
        "master_name": "churn",
        "sentinel_kwargs": {"password": "p@ss/w;rd", "socket_connect_timeout": 0.5,
                            "socket_timeout": 0.5}}


def test_single_redis_has_no_sentinel_options() -> None:
    config = Config.from_env({"REDIS_HOST": "redis"})
    assert config.sentinel_options() == {}
    assert config.redis_url(1) == "redis://redis:6379/1"


@pytest.mark.parametrize(("value", "message"), [
    ("redis-sentinel-1", "REDIS_SENTINELS must be host:port[,host:port...], got 'redis-sentinel-1'"),
    ("a:26379,b:x", "REDIS_SENTINELS must be host:port[,host:port...], got 'b:x'"),
    (":26379", "REDIS_SENTINELS must be host:port[,host:port...], got ':26379'"),
    ("a:70000", "REDIS_SENTINELS must be host:port[,host:port...], got 'a:70000'"),
])
def test_bad_sentinel_lists_are_config_errors(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config.from_env({"REDIS_SENTINELS": value, "REDIS_MASTER_NAME": "churn"})
    assert str(info.value) == message


def test_sentinels_without_a_master_name_name_the_variable() -> None:
    config = Config.from_env({"REDIS_SENTINELS": SENTINELS})
    with pytest.raises(ConfigError, match="REDIS_MASTER_NAME is not set"):
        config.redis_url(0)


def test_celery_finds_the_primary_through_the_sentinels(tmp_path: Path) -> None:
    config = sentinel_config(tmp_path)
    for client in (False, True):
        conf = celery_app.make_celery(config, client=client).conf
        assert conf.broker_url == config.redis_url(0)
        for options in (conf.broker_transport_options, conf.result_backend_transport_options):
            assert options["master_name"] == "churn"
            assert options["sentinel_kwargs"]["password"] == "p@ss/w;rd"
            # The API asks each Sentinel once; the worker may wait for one.
            retry = options["sentinel_kwargs"].get("retry")
            assert (retry is not None and retry.get_retries() == 0) if client else retry is None
        backend = ("churn.worker.celery_app:PollingSentinelBackend+" if client else "")
        assert conf.result_backend == backend + config.redis_url(0)
    client_conf = celery_app.make_celery(config, client=True).conf
    # The API still fails fast: no publish or backend retries behind the Sentinels.
    assert client_conf.broker_transport_options["max_retries"] == 0
    assert client_conf.result_backend_transport_options["retry_policy"]["max_retries"] == 0
    worker = celery_app.make_celery(config).conf
    assert worker.broker_transport_options["visibility_timeout"] == \
        celery_app.VISIBILITY_TIMEOUT_SECONDS


def test_the_sentinel_result_backend_is_the_polling_one(tmp_path: Path) -> None:
    app = celery_app.make_celery(sentinel_config(tmp_path), client=True)
    backend = app.backend
    assert isinstance(backend, celery_app.PollingSentinelBackend)
    assert backend.on_task_call(None, "id") is None


def test_cache_client_asks_the_sentinels_for_the_primary(tmp_path: Path) -> None:
    client = cache_client(sentinel_config(tmp_path), db=1)
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "churn" and pool.is_master
    assert pool.connection_kwargs["db"] == 1
    assert pool.connection_kwargs["password"] == "p@ss/w;rd"
    assert pool.connection_kwargs["socket_timeout"] == 0.5
    sentinels = pool.sentinel_manager.sentinels
    assert [s.connection_pool.connection_kwargs["host"] for s in sentinels] == [
        "redis-sentinel-1", "redis-sentinel-2", "redis-sentinel-3"]


def test_no_sentinel_answering_is_503_in_under_a_second(
        tmp_path: Path, config: Config, api_services: ApiServices) -> None:
    dead = sentinel_config(tmp_path, "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3")
    api_services.predictions = CeleryPredictionQueue(
        celery_app.make_celery(dead, client=True), cache_client(dead, db=0), 60)
    api = create_app(config, services=api_services).test_client()
    created = api.post("/api/customers", json=VALID_CUSTOMER, headers=AUTH)
    customer_id: Any = created.get_json()["id"]
    started = time.perf_counter()
    response = api.post("/api/predictions", json={"customer_id": customer_id}, headers=AUTH)
    took = time.perf_counter() - started
    assert response.status_code == 503, response.get_json()
    assert response.headers["Retry-After"].isdigit()
    assert took < 1.0, f"{took:.2f} s to say no Sentinel answers"
