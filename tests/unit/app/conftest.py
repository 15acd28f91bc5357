"""Fixtures for the churn app's unit tests (no Docker, database or Redis)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

APP_DIR = Path(__file__).resolve().parents[3] / "services" / "app"
sys.path.insert(0, str(APP_DIR))

from churn.api import create_app  # noqa: E402
from churn.api.services import ApiServices  # noqa: E402
from churn.config import Config  # noqa: E402
from churn.ml.model import ChurnModel  # noqa: E402
from churn.ml.train import TrainedModel, train  # noqa: E402
from churn_fakes import FakeQueue, InMemoryStore  # noqa: E402

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

VALID_CUSTOMER = {
    "external_id": "C-1",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "tenure_months": 3,
    "monthly_charges": 99.5,
    "total_charges": 298.5,
    "contract_type": "month-to-month",
    "support_calls": 4,
}


@pytest.fixture
def config() -> Config:
    return Config(secret_key="unit-test-secret")


@pytest.fixture
def store() -> InMemoryStore:
    from churn.api.auth import hash_token

    fake = InMemoryStore()
    fake.add_token("tests", hash_token(TOKEN))
    return fake


@pytest.fixture
def queue() -> FakeQueue:
    return FakeQueue()


@pytest.fixture
def api_services(store: InMemoryStore, queue: FakeQueue) -> ApiServices:
    return ApiServices(customers=store, tokens=store, predictions=queue)


@pytest.fixture
def api(config: Config, api_services: ApiServices):
    return create_app(config, services=api_services).test_client()


@pytest.fixture(scope="session")
def trained() -> TrainedModel:
    """The real model, trained once per session with the fixed seed."""
    return train()


@pytest.fixture(scope="session")
def model(trained: TrainedModel) -> ChurnModel:
    return ChurnModel.from_trained(trained)
