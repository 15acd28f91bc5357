"""Asynchronous churn predictions: enqueue, then poll."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, jsonify, url_for

from churn.api.auth import require_token
from churn.api.queue import RETRY_AFTER_SECONDS, QueueUnavailableError
from churn.api.request_helpers import MAX_ID, services
from churn.json_errors import ApiError, json_body
from churn.schemas import PredictionRequest, validate_body

bp = Blueprint("predictions", __name__, url_prefix="/api/predictions")


def _queue_down() -> ApiError:
    return ApiError(503, "prediction queue unavailable", retry_after=RETRY_AFTER_SECONDS)


@bp.post("")
@require_token
def create_prediction() -> tuple[Response, int, dict[str, str]]:
    request_body = validate_body(PredictionRequest, json_body())
    customer_id = request_body.customer_id
    svc = services()
    # Checked here so a typo is a 404 now, not a failed task later.
    if customer_id > MAX_ID or svc.customers.get_customer(customer_id) is None:
        raise ApiError(404, "customer not found", "customer_id")
    try:
        task_id = svc.predictions.enqueue(customer_id)
    except QueueUnavailableError as exc:
        raise _queue_down() from exc
    location = url_for("predictions.get_prediction", task_id=task_id)
    return jsonify({"id": task_id, "status": "pending"}), 202, {"Location": location}


@bp.get("/<task_id>")
def get_prediction(task_id: str) -> Response:
    try:
        uuid.UUID(task_id)
    except ValueError as exc:
        raise ApiError(404, "prediction not found", "id") from exc
    svc = services()
    # The database is the source of truth for finished predictions; the result
    # backend only tells "still waiting" from "gave up".
    record = svc.customers.risk_by_task(task_id)
    if record is not None:
        return jsonify(
            {
                "id": task_id,
                "status": "done",
                "customer_id": record.customer_id,
                "risk_score": record.risk_score,
                "model_version": record.model_version,
                "prediction_time": record.prediction_time.isoformat(),
            }
        )
    try:
        state = svc.predictions.state(task_id)
    except QueueUnavailableError as exc:
        raise _queue_down() from exc
    if state.status == "unknown":
        raise ApiError(404, "prediction not found", "id")
    body: dict[str, object] = {"id": task_id, "status": state.status}
    if state.error:
        body["error"] = state.error
    return jsonify(body)
