"""Data set, training quality, drift (PSI) and the ML service's HTTP API."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from churn.config import Config
from churn.ml import dataset
from churn.ml.app import create_app
from churn.ml.drift import (
    MIN_DRIFT_ROWS,
    DriftMonitor,
    bin_proportions,
    population_stability_index,
    training_distributions,
)
from churn.ml.model import ChurnModel
from churn.ml.train import TrainedModel, save

CUSTOMER = {
    "tenure_months": 2,
    "monthly_charges": 110.0,
    "total_charges": 220.0,
    "contract_type": "month-to-month",
    "support_calls": 5,
}
LOYAL = {
    **CUSTOMER,
    "tenure_months": 70,
    "monthly_charges": 25.0,
    "total_charges": 1750.0,
    "contract_type": "two-year",
    "support_calls": 0,
}


def test_dataset_is_deterministic() -> None:
    a, b = dataset.generate(500, seed=7), dataset.generate(500, seed=7)
    assert np.array_equal(a.features, b.features)
    assert np.array_equal(a.churned, b.churned)
    assert not np.array_equal(a.features, dataset.generate(500, seed=8).features)


def test_dataset_follows_documented_direction() -> None:
    data = dataset.generate(5000)
    short = data.features[:, 0] < 6
    assert data.churned[short].mean() > data.churned[~short].mean() + 0.15


def test_held_out_auc_above_0_8(trained: TrainedModel) -> None:
    assert trained.metadata["metrics"]["auc"] > 0.8
    assert 0.7 < trained.metadata["metrics"]["accuracy"] <= 1.0


def test_metadata_is_complete_and_deterministic(trained: TrainedModel) -> None:
    meta = trained.metadata
    assert meta["version"].startswith("0.1.0+")
    assert meta["trained_at"] == "2024-01-01T00:00:00+00:00"
    assert abs(sum(meta["feature_importances"].values()) - 1.0) < 1e-3
    # tenure dominates the ground truth; total_charges has no effect of its own
    assert meta["feature_importances"]["tenure_months"] > meta["feature_importances"]["total_charges"]
    for distribution in meta["feature_distributions"].values():
        assert abs(sum(distribution["proportions"]) - 1.0) < 1e-3


def test_saved_model_loads_and_predicts_the_same(trained: TrainedModel, tmp_path: Any) -> None:
    save(trained, tmp_path)
    loaded = ChurnModel.load(tmp_path)
    rows = dataset.generate(50, seed=1).features
    assert np.allclose(loaded.churn_probability(rows), trained.pipeline.predict_proba(rows)[:, 1])


def test_psi_of_identical_distributions_is_zero() -> None:
    assert population_stability_index([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == pytest.approx(0.0)


def test_psi_known_value() -> None:
    # (0.5-0.25)*ln(0.5/0.25) + (0.5-0.75)*ln(0.5/0.75)
    expected = 0.25 * np.log(2) + (-0.25) * np.log(0.5 / 0.75)
    assert population_stability_index([0.25, 0.75], [0.5, 0.5]) == pytest.approx(expected)


def test_psi_survives_empty_bins() -> None:
    assert np.isfinite(population_stability_index([0.5, 0.5, 0.0], [0.0, 0.5, 0.5]))


def test_bin_proportions_use_inner_edges() -> None:
    distribution = {"kind": "numeric", "edges": [10.0, 20.0]}
    assert bin_proportions(np.array([5, 10, 15, 25]), distribution).tolist() == [0.5, 0.25, 0.25]


def test_drift_monitor_flags_shifted_inputs() -> None:
    train_rows = dataset.generate(4000, seed=1).features
    monitor = DriftMonitor(training_distributions(train_rows), window=1000)
    assert monitor.psi() == {}  # too few rows to judge
    monitor.observe(dataset.generate(1000, seed=2).features)
    assert max(monitor.psi().values()) < 0.1
    shifted = dataset.generate(1000, seed=3).features
    shifted[:, 0] += 40  # everyone suddenly long-tenured
    monitor.observe(shifted)  # the bounded window now holds only shifted rows
    psi = monitor.psi()
    assert psi["tenure_months"] > 0.25
    assert psi["contract_type"] < 0.1


@pytest.mark.parametrize("seed", range(5))
def test_no_drift_figure_before_the_minimum_sample_and_no_noise_drift_at_it(seed: int) -> None:
    """A few predictions never yield a PSI; MIN_DRIFT_ROWS undrifted ones stay far below 0.2."""
    train_rows = dataset.generate(4000, seed=1).features
    monitor = DriftMonitor(training_distributions(train_rows))
    sample = dataset.generate(MIN_DRIFT_ROWS, seed=100 + seed).features
    monitor.observe(sample[: MIN_DRIFT_ROWS - 1])
    assert monitor.psi() == {}
    monitor.observe(sample[-1:])
    assert 0 < max(monitor.psi().values()) < 0.1
    # The same handful of customers repeated (a fresh stack's seeded data) is no sample.
    repeated = DriftMonitor(training_distributions(train_rows))
    repeated.observe(np.repeat(sample[:5], 20, axis=0))
    assert repeated.psi() == {}


@pytest.fixture
def ml_api(model: ChurnModel) -> Any:
    return create_app(Config(secret_key="unit-test-secret"), model=model).test_client()


def test_predict_single_and_batch(ml_api: Any) -> None:
    single = ml_api.post("/predict", json={"customer": CUSTOMER}).get_json()
    assert 0.5 < single["churn_probability"] <= 1.0
    batch = ml_api.post("/predict", json={"customers": [CUSTOMER, LOYAL]}).get_json()
    risky, loyal = batch["churn_probabilities"]
    assert risky == pytest.approx(single["churn_probability"])
    assert loyal < 0.1
    assert batch["model_version"] == single["model_version"]


PREDICT_ERRORS = [
    ("not json", b"nope", 400, "body"),
    ("both keys", {"customer": CUSTOMER, "customers": [CUSTOMER]}, 422, "body"),
    ("unknown key", {"client": CUSTOMER}, 422, "client"),
    ("customer not object", {"customer": [1, 2]}, 422, "customer"),
    ("empty batch", {"customers": []}, 422, "customers"),
    (
        "missing feature",
        {"customer": {k: v for k, v in CUSTOMER.items() if k != "support_calls"}},
        422,
        "customer.support_calls",
    ),
    (
        "bad type in batch",
        {"customers": [CUSTOMER, {**CUSTOMER, "tenure_months": "2"}]},
        422,
        "customers.1.tenure_months",
    ),
    (
        "bad contract",
        {"customer": {**CUSTOMER, "contract_type": "lifetime"}},
        422,
        "customer.contract_type",
    ),
    ("extra field", {"customer": {**CUSTOMER, "name": "x"}}, 422, "customer.name"),
]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [case[1:] for case in PREDICT_ERRORS],
    ids=[case[0] for case in PREDICT_ERRORS],
)
def test_predict_rejects(ml_api: Any, body: Any, status: int, field: str) -> None:
    if isinstance(body, bytes):
        response = ml_api.post("/predict", data=body, content_type="application/json")
    else:
        response = ml_api.post("/predict", json=body)
    assert response.status_code == status
    assert response.get_json()["field"] == field


def test_model_health_and_metrics(ml_api: Any, model: ChurnModel) -> None:
    assert ml_api.get("/health").get_json()["status"] == "ok"
    assert ml_api.get("/model").get_json()["metrics"] == model.metadata["metrics"]
    ml_api.post("/predict", json={"customers": [CUSTOMER] * MIN_DRIFT_ROWS})
    text = ml_api.get("/metrics").get_data(as_text=True)
    assert 'churn_ml_feature_importance{feature="tenure_months"}' in text
    assert "churn_ml_model_accuracy" in text
    assert 'churn_ml_feature_drift_psi{feature="support_calls"}' in text
    assert 'churn_ml_prediction_duration_seconds_count{kind="batch"}' in text
