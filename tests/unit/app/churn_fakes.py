"""In-memory stand-ins for PostgreSQL, Celery and the ML service."""

from __future__ import annotations

import copy
import itertools
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from churn.api.queue import TaskState
from churn.domain import CHURN_THRESHOLD, Customer, Page, RiskRecord
from churn.errors import CustomerNotFoundError, DuplicateExternalIdError, StoreUnavailableError
from churn.worker.ml_client import Score


class InMemoryStore:
    """CustomerStore + TokenStore + ScoringStore with the same contracts as PostgresStore."""

    def __init__(self) -> None:
        self.customers: dict[int, Customer] = {}
        self.history: list[RiskRecord] = []
        self.tokens: dict[str, str] = {}
        self.outcomes: dict[int, tuple[bool, datetime]] = {}
        self._ids = itertools.count(1)
        self.down = False
        self.writes = 0

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailableError("database unavailable: fake outage")

    def _unique(self, external_id: str, except_id: int | None = None) -> None:
        for customer in self.customers.values():
            if customer.external_id == external_id and customer.id != except_id:
                raise DuplicateExternalIdError(external_id)

    def list_customers(self, *, limit: int, offset: int) -> Page:
        self._check()
        ordered = sorted(self.customers.values(), key=lambda c: c.id)
        return Page(items=ordered[offset : offset + limit], total=len(ordered))

    def get_customer(self, customer_id: int) -> Customer | None:
        self._check()
        return self.customers.get(customer_id)

    def create_customer(self, fields: dict[str, Any]) -> Customer:
        self._check()
        self._unique(fields["external_id"])
        now = datetime.now(UTC)
        customer = Customer(id=next(self._ids), risk_score=None, created_at=now, updated_at=now, **fields)
        self.customers[customer.id] = customer
        self.writes += 1
        return customer

    def update_customer(self, customer_id: int, changes: dict[str, Any]) -> Customer | None:
        self._check()
        if customer_id not in self.customers:
            return None
        if "external_id" in changes:
            self._unique(changes["external_id"], except_id=customer_id)
        updated = replace(self.customers[customer_id], **changes, updated_at=datetime.now(UTC))
        self.customers[customer_id] = updated
        self.writes += 1
        return updated

    def delete_customer(self, customer_id: int) -> bool:
        self._check()
        self.history = [r for r in self.history if r.customer_id != customer_id]
        self.writes += 1
        return self.customers.pop(customer_id, None) is not None

    def top_risk(self, limit: int) -> list[Customer]:
        self._check()
        scored = [c for c in self.customers.values() if c.risk_score is not None]
        return sorted(scored, key=lambda c: (-(c.risk_score or 0.0), c.id))[:limit]

    def risk_history(self, customer_id: int, limit: int) -> list[RiskRecord] | None:
        self._check()
        if customer_id not in self.customers:
            return None
        mine = [r for r in self.history if r.customer_id == customer_id]
        return list(reversed(mine))[:limit]

    def risk_by_task(self, task_id: str) -> RiskRecord | None:
        self._check()
        return next((r for r in self.history if r.task_id == task_id), None)

    def record_score(self, customer_id: int, task_id: str, risk_score: float, model_version: str) -> bool:
        self._check()
        if self.risk_by_task(task_id) is not None:
            return False
        if customer_id not in self.customers:
            raise CustomerNotFoundError(customer_id)
        self.history.append(RiskRecord(customer_id, risk_score, model_version, task_id, datetime.now(UTC)))
        self.customers[customer_id] = replace(self.customers[customer_id], risk_score=risk_score)
        self.writes += 1
        return True

    def ping(self) -> None:
        self._check()

    def record_outcome(self, customer_id: int, churned: bool) -> bool:
        self._check()
        if customer_id not in self.customers:
            return False
        self.outcomes[customer_id] = (churned, datetime.now(UTC))
        return True

    def live_accuracy(self, days: int) -> tuple[int, float | None]:
        self._check()
        right = []
        for customer_id, (churned, at) in self.outcomes.items():
            if (datetime.now(UTC) - at).days >= days:
                continue
            before = [r for r in self.history
                      if r.customer_id == customer_id and r.prediction_time <= at]
            if before:
                right.append((before[-1].risk_score >= CHURN_THRESHOLD) == churned)
        return len(right), (sum(right) / len(right) if right else None)

    def token_name(self, token_hash: str) -> str | None:
        self._check()
        return self.tokens.get(token_hash)

    def add_token(self, name: str, token_hash: str) -> None:
        self.tokens[token_hash] = name

    def snapshot(self) -> tuple[dict[int, Customer], list[RiskRecord]]:
        return copy.deepcopy(self.customers), copy.deepcopy(self.history)


class FakeQueue:
    def __init__(self) -> None:
        self.enqueued: list[tuple[str, int]] = []
        self.states: dict[str, TaskState] = {}

    def enqueue(self, customer_id: int) -> str:
        task_id = f"00000000-0000-4000-8000-{len(self.enqueued) + 1:012d}"
        self.enqueued.append((task_id, customer_id))
        return task_id

    def state(self, task_id: str) -> TaskState:
        if task_id not in self.states and task_id not in {t for t, _ in self.enqueued}:
            return TaskState("unknown")
        return self.states.get(task_id, TaskState("pending"))


class FakeMLClient:
    def __init__(self, probability: float = 0.73, version: str = "test-model") -> None:
        self.probability = probability
        self.version = version
        self.calls: list[dict[str, Any]] = []
        self.error: Exception | None = None

    def score(self, features: dict[str, Any]) -> Score:
        self.calls.append(features)
        if self.error is not None:
            raise self.error
        return Score(self.probability, self.version)
