"""The scoring job itself, free of Celery so tests call it with fakes."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from churn.errors import CustomerNotFoundError
from churn.store.protocols import ScoringStore
from churn.worker.ml_client import MLClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoringResult:
    customer_id: int
    risk_score: float
    model_version: str
    # False when this task id had already been recorded (a re-delivery).
    newly_recorded: bool

    def to_json(self) -> dict[str, object]:
        return {
            "customer_id": self.customer_id,
            "risk_score": self.risk_score,
            "model_version": self.model_version,
            "newly_recorded": self.newly_recorded,
        }


def score_and_store(
    store: ScoringStore, ml_client: MLClient, customer_id: int, task_id: str
) -> ScoringResult:
    """Score one customer and record it under `task_id`, at most once.

    A re-delivered task (acks_late after a crash) finds its earlier record and
    returns it without calling the model again; a crash between scoring and
    storing is covered by the store's ON CONFLICT DO NOTHING on task_id.
    """
    earlier = store.risk_by_task(task_id)
    if earlier is not None:
        log.info("task %s already recorded, skipping", task_id)
        return ScoringResult(customer_id, earlier.risk_score, earlier.model_version, False)
    customer = store.get_customer(customer_id)
    if customer is None:
        raise CustomerNotFoundError(customer_id)
    score = ml_client.score(customer.features())
    recorded = store.record_score(
        customer_id, task_id, score.churn_probability, score.model_version
    )
    return ScoringResult(customer_id, score.churn_probability, score.model_version, recorded)
