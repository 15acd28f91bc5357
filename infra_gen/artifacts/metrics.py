"""Metric names the alert rules and dashboards query.

The reference app's (services/app/churn/api/metrics.py, worker/metrics.py,
ml/metrics.py) and the Debian exporters' (postgres_exporter 0.11, redis_exporter
1.45, nginx-prometheus-exporter 0.11, node_exporter 1.5).
"""

from __future__ import annotations

API_REQUESTS = "churn_api_requests_total"
API_LATENCY = "churn_api_request_duration_seconds_bucket"
API_ACTIVE_CLIENTS = "churn_api_active_clients"
TASKS_SUCCEEDED = "churn_worker_tasks_succeeded_total"
TASKS_FAILED = "churn_worker_tasks_failed_total"
TASKS_RETRIED = "churn_worker_tasks_retried_total"
TASK_RUNTIME = "churn_worker_task_duration_seconds_bucket"
ML_LATENCY = "churn_ml_prediction_duration_seconds_bucket"
ML_ACCURACY = "churn_ml_model_accuracy"
ML_IMPORTANCE = "churn_ml_feature_importance"
ML_DRIFT = "churn_ml_feature_drift_psi"

# Filesystems that are not disks (node exporter reports them all).
NOT_DISKS = "tmpfs|devtmpfs|ramfs|squashfs|overlay|nsfs|fuse.lxcfs"

# A service of your own: the Prometheus client libraries' conventional HTTP metrics
# (a counter with a status label, a latency histogram in seconds).
HTTP_REQUESTS = "http_requests_total"
HTTP_LATENCY = "http_request_duration_seconds_bucket"
