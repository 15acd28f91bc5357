"""Prometheus metrics of the ML service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PREDICTION_LATENCY = Histogram(
    "churn_ml_prediction_duration_seconds",
    "Time to validate and score one /predict request",
    ["kind"],  # single | batch
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
PREDICTED_ROWS = Counter("churn_ml_predicted_rows_total", "Customers scored")
REJECTED_REQUESTS = Counter(
    "churn_ml_rejected_requests_total", "/predict requests refused as invalid"
)
# Constants per model, identical in every worker process: "max" merges them.
MODEL_ACCURACY = Gauge(
    "churn_ml_model_accuracy", "Held-out accuracy of the loaded model", multiprocess_mode="max"
)
MODEL_AUC = Gauge(
    "churn_ml_model_auc", "Held-out ROC AUC of the loaded model", multiprocess_mode="max"
)
MODEL_INFO = Gauge(
    "churn_ml_model_info", "Loaded model version (value 1)", ["version"], multiprocess_mode="max"
)
# Each worker process swaps on its own poll: the live processes' highest version.
REGISTRY_VERSION = Gauge(
    "churn_ml_model_registry_version",
    "Registered version of the served model (0: the model baked into the image)",
    multiprocess_mode="livemax",
)
MODEL_RELOADS = Counter(
    "churn_ml_model_reloads_total", "New registry versions loaded without a restart"
)
FEATURE_IMPORTANCE = Gauge(
    "churn_ml_feature_importance",
    "Permutation importance share of each feature (sums to 1)",
    ["feature"],
    multiprocess_mode="max",
)
# Each worker process sees its own slice of traffic; the latest computed value wins.
FEATURE_DRIFT = Gauge(
    "churn_ml_feature_drift_psi",
    "Population stability index of recent inputs against the training distribution",
    ["feature"],
    multiprocess_mode="mostrecent",
)
DRIFT_WINDOW_ROWS = Gauge(
    "churn_ml_drift_window_rows",
    "Recent inputs the drift figures are based on",
    multiprocess_mode="mostrecent",
)
