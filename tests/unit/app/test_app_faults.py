"""The API under faults: dead broker, dead replica, unknown ids, hostile bodies."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from churn.api import create_app
from churn.api.queue import CeleryPredictionQueue, TaskState
from churn.api.services import ApiServices
from churn.config import Config
from churn.errors import StoreUnavailableError
from churn.gunicorn_conf import common
from churn.json_errors import MAX_JSON_DEPTH
from churn.redis_cache import cache_client
from churn.store import pools
from churn.store.pools import Database
from churn.worker import celery_app
from churn_fakes import FakeQueue, InMemoryStore
from conftest import AUTH, VALID_CUSTOMER

DEAD_REDIS = Config(redis_host="127.0.0.1", redis_port=1)


def _customer(api: Any) -> int:
    response = api.post("/api/customers", json=VALID_CUSTOMER, headers=AUTH)
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


# -- predictions ------------------------------------------------------------------------
def test_unknown_prediction_is_404_a_waiting_one_pending_a_failed_one_says_why(
        api: Any, queue: FakeQueue) -> None:
    unknown = api.get("/api/predictions/00000000-0000-4000-8000-00000000ffff")
    assert (unknown.status_code, unknown.get_json()["field"]) == (404, "id")
    task = api.post("/api/predictions", json={"customer_id": _customer(api)}, headers=AUTH)
    task_id = task.get_json()["id"]
    assert api.get(f"/api/predictions/{task_id}").get_json()["status"] == "pending"
    queue.states[task_id] = TaskState("failed", error="ML service answered 500")
    assert api.get(f"/api/predictions/{task_id}").get_json() == {
        "id": task_id, "status": "failed", "error": "ML service answered 500"}


def test_dead_broker_answers_503_with_retry_after_in_under_a_second(
        config: Config, api_services: ApiServices) -> None:
    api_services.predictions = CeleryPredictionQueue(
        celery_app.make_celery(DEAD_REDIS, client=True), cache_client(DEAD_REDIS, db=0), 60)
    api = create_app(config, services=api_services).test_client()
    customer_id = _customer(api)
    for request in (
        lambda: api.post("/api/predictions", json={"customer_id": customer_id}, headers=AUTH),
        lambda: api.get("/api/predictions/00000000-0000-4000-8000-000000000001"),
    ):
        started = time.perf_counter()
        response = request()
        took = time.perf_counter() - started
        assert response.status_code == 503, response.get_json()
        assert response.headers["Retry-After"].isdigit()
        assert took < 1.0, f"{took:.2f} s to say the broker is down"


def test_the_apis_celery_client_never_retries_and_the_worker_redelivers_in_bounded_time() -> None:
    client = celery_app.make_celery(DEAD_REDIS, client=True).conf
    assert client.task_publish_retry is False
    assert client.broker_connection_retry is False
    assert client.broker_transport_options["max_retries"] == 0
    assert client.result_backend_transport_options["retry_policy"]["max_retries"] == 0
    assert client.result_backend.startswith("churn.worker.celery_app:PollingRedisBackend+redis://")
    worker = celery_app.make_celery(DEAD_REDIS).conf
    assert worker.task_acks_late and worker.task_reject_on_worker_lost
    # Redis re-delivers a killed worker's task after the visibility timeout: it must
    # outlast a run and a retry countdown (no re-delivery of a live task), and be short.
    timeout = worker.broker_transport_options["visibility_timeout"]
    assert celery_app.TASK_MAX_SECONDS < timeout <= 60
    options = worker.broker_transport_options
    sweep = options["unacked_restore_interval"] * options["unacked_restore_throttle"]
    assert sweep <= 10, "a task unacked past the timeout waits for the next sweep"
    assert timeout > celery_app.RETRY_BACKOFF_MAX_SECONDS
    from churn.worker.tasks import score_customer

    assert score_customer.retry_backoff_max == celery_app.RETRY_BACKOFF_MAX_SECONDS


# -- hostile bodies ---------------------------------------------------------------------
def _nested(depth: int) -> str:
    return '{"name": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize(("body", "needle"), [
    (json.dumps({**VALID_CUSTOMER, "name": "a\u0000b"}), "NUL"),
    (json.dumps({**VALID_CUSTOMER, "a\u0000": 1}), "NUL"),
    (_nested(100_000), "malformed JSON"),
    (_nested(MAX_JSON_DEPTH + 1), f"deeper than {MAX_JSON_DEPTH}"),
])
def test_nul_bytes_and_deep_nesting_are_400(api: Any, store: InMemoryStore, body: str,
                                            needle: str) -> None:
    for method, url in (("POST", "/api/customers"), ("PATCH", "/api/customers/1")):
        response = api.open(url, method=method, data=body,
                            headers={**AUTH, "Content-Type": "application/json"})
        assert response.status_code == 400, response.get_data(as_text=True)[:300]
        assert needle in response.get_json()["error"]
        assert response.get_json()["field"] == "body"
    assert store.writes == 0


def test_a_value_the_database_refuses_is_400_not_500(api: Any, store: InMemoryStore,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(fields: dict[str, Any]) -> None:
        raise psycopg.DataError("invalid byte sequence for encoding")

    monkeypatch.setattr(store, "create_customer", refuse)
    response = api.post("/api/customers", json=VALID_CUSTOMER, headers=AUTH)
    assert (response.status_code, response.get_json()["error"]) == (400, "invalid value")


def test_database_outage_says_when_to_retry(api: Any, store: InMemoryStore) -> None:
    store.down = True
    response = api.get("/api/customers")
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0


# -- reads fall back to the primary -----------------------------------------------------
class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _FakePools(Database):
    """Database whose connections are labels; the replica can be switched off."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(Config(database_replica_host="replica"), clock=clock)
        self.replica_up = True
        self.replica_attempts = 0

    @contextmanager
    def connection(self, *, read_only: bool = False,
                   timeout: float = 5.0) -> Iterator[Any]:
        if read_only:
            self.replica_attempts += 1
            assert timeout <= pools.REPLICA_CHECKOUT_TIMEOUT_SECONDS
            if not self.replica_up:
                raise StoreUnavailableError("database unavailable: replica gone")
            yield "replica"
        else:
            yield "primary"


def test_reads_use_the_primary_while_the_replica_is_down_and_return_after() -> None:
    clock = _Clock()
    db = _FakePools(clock)
    read = lambda: db.read(lambda conn: conn)  # noqa: E731
    assert read() == "replica"
    db.replica_up = False
    assert [read() for _ in range(20)] == ["primary"] * 20
    # One failed attempt, then the replica is left alone for the back-off period.
    assert db.replica_attempts == 2
    db.replica_up = True
    assert read() == "primary"
    clock.now += pools.REPLICA_RETRY_SECONDS
    assert read() == "replica"


def test_a_query_failing_on_the_replica_runs_again_on_the_primary() -> None:
    db = _FakePools(_Clock())
    ran: list[str] = []

    def work(conn: str) -> str:
        ran.append(conn)
        if conn == "replica":
            raise psycopg.OperationalError("terminating connection due to administrator command")
        return conn

    assert db.read(work) == "primary"
    assert ran == ["replica", "primary"]


# -- workers ----------------------------------------------------------------------------
def test_api_workers_are_threaded_so_one_slow_dependency_does_not_block_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUNICORN_THREADS", raising=False)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/tmp/churn-unit-prom")
    settings = common.settings("api", 8000, "churn.api.wsgi:app")
    assert settings["worker_class"] == "gthread"
    assert settings["threads"] >= 4
    monkeypatch.setenv("GUNICORN_THREADS", "8")
    assert common.settings("api", 8000, "churn.api.wsgi:app")["threads"] == 8


def test_racing_first_tasks_build_one_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads starting tasks together built two connection pools (one leaked and
    was collected in its own thread: "cannot join current thread" at worker start)."""
    import threading

    from churn.worker import tasks

    built: list[int] = []
    start = threading.Barrier(8)

    def slow_factory() -> int:
        time.sleep(0.05)  # the window in which a second caller used to build again
        built.append(1)
        return len(built)

    get = tasks._once(slow_factory)

    def call() -> None:
        start.wait()
        results.append(get())

    results: list[int] = []
    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (built, results) == ([1], [1] * 8)
