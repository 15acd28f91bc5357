"""Hand-off of prediction jobs to the Celery worker.

Every id the API hands out is remembered in the broker's Redis database (a key per
task, kept as long as Celery keeps results), so `GET /api/predictions/<id>` can tell
an id it never issued (404) from a task still waiting (Celery reports both as
PENDING). Writing that key is also the broker check: it has sub-second timeouts and
no retries, so a dead broker answers 503 in well under a second instead of holding a
gunicorn thread through Celery's connection retries.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Literal, Protocol

import redis
from celery import Celery

log = logging.getLogger(__name__)

SCORE_TASK_NAME = "churn.score_customer"
# Seconds a client should wait before retrying when the broker is down.
RETRY_AFTER_SECONDS = 5


class QueueUnavailableError(Exception):
    """The broker could not take or report the job."""


@dataclass(frozen=True)
class TaskState:
    status: Literal["pending", "failed", "unknown"]
    error: str | None = None


class PredictionQueue(Protocol):
    def enqueue(self, customer_id: int) -> str:
        """Queue scoring of one customer; return the task id."""
        ...

    def state(self, task_id: str) -> TaskState:
        """State of a task whose result is not (yet) in the database ("unknown": never issued)."""
        ...


def issued_key(task_id: str) -> str:
    return f"churn:prediction:{task_id}"


class CeleryPredictionQueue:
    def __init__(self, celery_app: Celery, issued: redis.Redis, ttl_seconds: int) -> None:
        self._celery = celery_app
        self._issued = issued
        self._ttl = ttl_seconds

    def enqueue(self, customer_id: int) -> str:
        # The id is chosen here so the API can answer with it before the broker acks.
        task_id = str(uuid.uuid4())
        try:
            self._issued.set(issued_key(task_id), str(customer_id), ex=self._ttl)
            self._celery.send_task(SCORE_TASK_NAME, args=[customer_id], task_id=task_id)
        except Exception as exc:  # kombu/redis raise a variety of connection errors
            log.warning("could not enqueue prediction: %s", exc)
            raise QueueUnavailableError(str(exc)) from exc
        return task_id

    def state(self, task_id: str) -> TaskState:
        try:
            if not self._issued.exists(issued_key(task_id)):
                return TaskState("unknown")
            result = self._celery.AsyncResult(task_id)
            state = result.state
        except Exception as exc:
            raise QueueUnavailableError(str(exc)) from exc
        if state in ("FAILURE", "REVOKED", "REJECTED"):
            return TaskState("failed", error=str(result.info) if result.info else state.lower())
        # PENDING, RECEIVED, STARTED, RETRY and SUCCESS-not-yet-visible all mean "wait".
        return TaskState("pending")
