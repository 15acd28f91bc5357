"""Flask app of the ML service: POST /predict, GET /model, GET /health, GET /metrics."""

from __future__ import annotations

import socket
import time
from typing import Any

from flask import Flask, Response, jsonify

from churn.config import Config
from churn.json_errors import ApiError, json_body, register_error_handlers
from churn.ml import metrics
from churn.ml.drift import DriftMonitor
from churn.ml.features import to_matrix
from churn.ml.model import ChurnModel
from churn.ml.registry import ModelHolder, Served, watched_holder
from churn.schemas import BodyError, CustomerFeatures, validate_body

MAX_BATCH = 10_000
# Recomputing PSI costs a pass over the window; once a second is plenty for scrapes.
_DRIFT_REFRESH_SECONDS = 1.0


def parse_predict_body(body: Any) -> tuple[list[dict[str, Any]], bool]:
    """Validated feature records and whether the request was a batch."""
    if not isinstance(body, dict):
        raise BodyError("request body must be a JSON object", "body")
    keys = set(body)
    if keys == {"customer"}:
        customer = validate_body(CustomerFeatures, body["customer"], prefix="customer.")
        return [customer.model_dump()], False
    if keys == {"customers"}:
        customers = body["customers"]
        if not isinstance(customers, list) or not customers:
            raise BodyError("must be a non-empty list", "customers")
        if len(customers) > MAX_BATCH:
            raise BodyError(f"at most {MAX_BATCH} customers per request", "customers")
        return [
            validate_body(CustomerFeatures, item, prefix=f"customers.{index}.").model_dump()
            for index, item in enumerate(customers)
        ], True
    unknown = sorted(keys - {"customer", "customers"})
    raise BodyError(
        "body must have exactly one of 'customer' or 'customers'", unknown[0] if unknown else "body"
    )


def _publish_model_metrics(served: Served, previous: Served | None = None) -> None:
    model = served.model
    meta = model.metadata
    if previous is not None and previous.model.version != model.version:
        metrics.MODEL_INFO.labels(previous.model.version).set(0)
    metrics.MODEL_ACCURACY.set(meta["metrics"]["accuracy"])
    metrics.MODEL_AUC.set(meta["metrics"]["auc"])
    metrics.MODEL_INFO.labels(model.version).set(1)
    metrics.REGISTRY_VERSION.set(int(served.registry_version or 0))
    for feature, share in meta["feature_importances"].items():
        metrics.FEATURE_IMPORTANCE.labels(feature).set(share)


def create_app(
    config: Config | None = None,
    model: ChurnModel | None = None,
    holder: ModelHolder | None = None,
) -> Flask:
    """The ML service. `holder` serves the registry's version (a test passes one with
    a fake client); by default the environment's registry is watched, if it names one."""
    config = config or Config.from_env()
    app = Flask(__name__)
    app.config["SECRET_KEY"] = config.require("secret_key")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    baked = model or ChurnModel.load(config.model_dir)
    drift = DriftMonitor(baked.metadata["feature_distributions"])
    drift_updated_at = 0.0
    served_by = socket.gethostname()

    def swapped(old: Served, new: Served) -> None:
        nonlocal drift
        # A new model has its own training distribution: drift starts over against it.
        drift = DriftMonitor(new.model.metadata["feature_distributions"])
        metrics.MODEL_RELOADS.inc()
        _publish_model_metrics(new, old)

    if holder is None:
        holder = watched_holder(baked, swapped)
    else:
        holder.on_swap = swapped
    _publish_model_metrics(holder.current)
    register_error_handlers(app)

    def refresh_drift(*, force: bool = False) -> None:
        nonlocal drift_updated_at
        now = time.monotonic()
        if not force and now - drift_updated_at < _DRIFT_REFRESH_SECONDS:
            return
        drift_updated_at = now
        if not len(drift):
            # Another gunicorn worker may hold the recent inputs; with "mostrecent"
            # an empty window here would overwrite its figures.
            return
        for feature, psi in drift.psi().items():
            metrics.FEATURE_DRIFT.labels(feature).set(psi)
        metrics.DRIFT_WINDOW_ROWS.set(len(drift))

    @app.after_request
    def _served_by(response: Response) -> Response:
        response.headers["X-Served-By"] = served_by
        return response

    @app.post("/predict")
    def predict() -> Response:
        started = time.perf_counter()
        try:
            records, is_batch = parse_predict_body(json_body())
        except (ApiError, BodyError):
            metrics.REJECTED_REQUESTS.inc()
            raise
        raw = to_matrix(records)
        model = holder.current.model
        probabilities = model.churn_probability(raw)
        drift.observe(raw)
        refresh_drift()
        metrics.PREDICTED_ROWS.inc(len(records))
        metrics.PREDICTION_LATENCY.labels("batch" if is_batch else "single").observe(
            time.perf_counter() - started
        )
        if is_batch:
            return jsonify(
                {"churn_probabilities": probabilities.tolist(), "model_version": model.version}
            )
        return jsonify(
            {"churn_probability": float(probabilities[0]), "model_version": model.version}
        )

    @app.get("/model")
    def model_metadata() -> Response:
        served = holder.current
        return jsonify({**served.model.metadata, "registry": served.describe(holder.settings)})

    @app.get("/health")
    def health() -> Response:
        served = holder.current
        return jsonify({"status": "ok", "model_version": served.model.version,
                        "registry_version": served.registry_version})

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        from churn.metrics_export import render_metrics

        refresh_drift(force=True)
        payload, content_type = render_metrics()
        return Response(payload, content_type=content_type)

    return app
