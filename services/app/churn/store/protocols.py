"""Interfaces between the services and persistence.

The API and the worker only see these protocols, so unit tests inject in-memory
fakes while production uses `churn.store.postgres.PostgresStore`.
"""

from __future__ import annotations

from typing import Any, Protocol

from churn.domain import Customer, Page, RiskRecord


class CustomerStore(Protocol):
    def list_customers(self, *, limit: int, offset: int) -> Page: ...

    def get_customer(self, customer_id: int) -> Customer | None: ...

    def create_customer(self, fields: dict[str, Any]) -> Customer:
        """Insert; raises DuplicateExternalIdError when external_id is taken."""
        ...

    def update_customer(self, customer_id: int, changes: dict[str, Any]) -> Customer | None:
        """Apply changes in one transaction; None when the customer does not exist."""
        ...

    def delete_customer(self, customer_id: int) -> bool: ...

    def top_risk(self, limit: int) -> list[Customer]: ...

    def risk_history(self, customer_id: int, limit: int) -> list[RiskRecord] | None:
        """Newest first; None when the customer does not exist."""
        ...

    def risk_by_task(self, task_id: str) -> RiskRecord | None: ...

    def ping(self) -> None:
        """Raise StoreUnavailableError unless the database answers."""
        ...

    def record_outcome(self, customer_id: int, churned: bool) -> bool:
        """Store (or replace) the customer's real churn outcome, observed now; False
        when the customer does not exist."""
        ...

    def live_accuracy(self, days: int) -> tuple[int, float | None]:
        """(labelled predictions, share right) over the outcomes observed in the last
        `days` days: each outcome against the newest prediction made before it."""
        ...


class TokenStore(Protocol):
    def token_name(self, token_hash: str) -> str | None: ...

    def add_token(self, name: str, token_hash: str) -> None: ...


class ScoringStore(Protocol):
    def get_customer(self, customer_id: int) -> Customer | None: ...

    def risk_by_task(self, task_id: str) -> RiskRecord | None: ...

    def record_score(
        self, customer_id: int, task_id: str, risk_score: float, model_version: str
    ) -> bool:
        """Store one prediction and the customer's current score atomically.

        Returns False (and changes nothing) when this task_id was already recorded,
        which makes re-delivered tasks harmless. Raises CustomerNotFoundError when the
        customer was deleted meanwhile.
        """
        ...
