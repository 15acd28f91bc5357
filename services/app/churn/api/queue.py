"""Hand-off of prediction jobs to the Celery worker."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Literal, Protocol

from celery import Celery

log = logging.getLogger(__name__)

SCORE_TASK_NAME = "churn.score_customer"


class QueueUnavailableError(Exception):
    """The broker could not take or report the job."""


@dataclass(frozen=True)
class TaskState:
    status: Literal["pending", "failed"]
    error: str | None = None


class PredictionQueue(Protocol):
    def enqueue(self, customer_id: int) -> str:
        """Queue scoring of one customer; return the task id."""
        ...

    def state(self, task_id: str) -> TaskState:
        """State of a task whose result is not (yet) in the database."""
        ...


class CeleryPredictionQueue:
    def __init__(self, celery_app: Celery) -> None:
        self._celery = celery_app

    def enqueue(self, customer_id: int) -> str:
        # The id is chosen here so the API can answer with it before the broker acks.
        task_id = str(uuid.uuid4())
        try:
            self._celery.send_task(SCORE_TASK_NAME, args=[customer_id], task_id=task_id)
        except Exception as exc:  # kombu/redis raise a variety of connection errors
            log.warning("could not enqueue prediction: %s", exc)
            raise QueueUnavailableError(str(exc)) from exc
        return task_id

    def state(self, task_id: str) -> TaskState:
        try:
            result = self._celery.AsyncResult(task_id)
            state = result.state
        except Exception as exc:
            raise QueueUnavailableError(str(exc)) from exc
        if state in ("FAILURE", "REVOKED", "REJECTED"):
            return TaskState("failed", error=str(result.info) if result.info else state.lower())
        # PENDING, RECEIVED, STARTED, RETRY and SUCCESS-not-yet-visible all mean "wait".
        return TaskState("pending")
