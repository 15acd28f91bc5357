"""The scoring task body with injected fakes, and the Celery task's delivery settings."""

from __future__ import annotations

import pytest
from churn.errors import CustomerNotFoundError
from churn.worker.ml_client import MLServiceError
from churn.worker.scoring import score_and_store
from churn_fakes import FakeMLClient, InMemoryStore
from conftest import VALID_CUSTOMER


@pytest.fixture
def customer_id(store: InMemoryStore) -> int:
    return store.create_customer(dict(VALID_CUSTOMER)).id


def test_scores_and_stores_in_history_and_customer(store: InMemoryStore, customer_id: int) -> None:
    ml = FakeMLClient(probability=0.81, version="m7")
    result = score_and_store(store, ml, customer_id, "task-1")
    assert result.newly_recorded
    assert store.customers[customer_id].risk_score == 0.81
    assert [(r.task_id, r.model_version) for r in store.history] == [("task-1", "m7")]
    assert set(ml.calls[0]) == {
        "tenure_months",
        "monthly_charges",
        "total_charges",
        "contract_type",
        "support_calls",
    }


def test_redelivered_task_writes_once(store: InMemoryStore, customer_id: int) -> None:
    ml = FakeMLClient()
    score_and_store(store, ml, customer_id, "task-1")
    again = score_and_store(store, ml, customer_id, "task-1")
    assert not again.newly_recorded
    assert len(store.history) == 1
    assert len(ml.calls) == 1


def test_unknown_customer_fails_without_calling_ml(store: InMemoryStore) -> None:
    ml = FakeMLClient()
    with pytest.raises(CustomerNotFoundError):
        score_and_store(store, ml, 404, "task-1")
    assert ml.calls == []


def test_ml_outage_propagates_for_retry_and_writes_nothing(store: InMemoryStore, customer_id: int) -> None:
    ml = FakeMLClient()
    ml.error = MLServiceError("connection refused")
    with pytest.raises(MLServiceError):
        score_and_store(store, ml, customer_id, "task-1")
    assert store.history == []
    assert store.customers[customer_id].risk_score is None


def test_task_delivery_settings() -> None:
    from churn.errors import StoreUnavailableError
    from churn.worker import app, score_customer

    assert score_customer.name == "churn.score_customer"
    assert score_customer.acks_late is True
    assert score_customer.reject_on_worker_lost is True
    assert MLServiceError in score_customer.autoretry_for
    assert StoreUnavailableError in score_customer.autoretry_for
    assert score_customer.max_retries and score_customer.retry_backoff
    assert app.conf.worker_pool == "threads"


def test_http_ml_client_classifies_errors() -> None:
    import requests
    from churn.worker.ml_client import HttpMLClient, MLRequestRejectedError

    class StubSession(requests.Session):
        def __init__(self, status: int) -> None:
            super().__init__()
            self.status = status

        def post(self, url: str, **_: object) -> requests.Response:  # type: ignore[override]
            response = requests.Response()
            response.status_code = self.status
            response._content = b'{"churn_probability": 0.5, "model_version": "v"}'
            return response

    assert HttpMLClient("http://ml:5000", StubSession(200)).score({}).churn_probability == 0.5
    with pytest.raises(MLServiceError):
        HttpMLClient("http://ml:5000", StubSession(503)).score({})
    with pytest.raises(MLRequestRejectedError):
        HttpMLClient("http://ml:5000", StubSession(422)).score({})
    with pytest.raises(MLServiceError):
        HttpMLClient("http://127.0.0.1:1").score({})
