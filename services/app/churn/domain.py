"""Domain records shared by the API, the worker and the store."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

ContractType = Literal["month-to-month", "one-year", "two-year"]
CONTRACT_TYPES: tuple[ContractType, ...] = ("month-to-month", "one-year", "two-year")

CHURN_THRESHOLD = 0.5
"""A risk score at or above this predicts churn (training's accuracy uses the same cut)."""

# The model's inputs, in the order the ML service expects them.
FEATURE_NAMES: tuple[str, ...] = (
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "contract_type",
    "support_calls",
)


@dataclass(frozen=True)
class Customer:
    id: int
    external_id: str
    name: str
    email: str
    tenure_months: int
    monthly_charges: float
    total_charges: float
    contract_type: ContractType
    support_calls: int
    risk_score: float | None
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["updated_at"] = self.updated_at.isoformat()
        return data

    def features(self) -> dict[str, Any]:
        """The subset of fields the churn model scores."""
        return {name: getattr(self, name) for name in FEATURE_NAMES}


@dataclass(frozen=True)
class RiskRecord:
    customer_id: int
    risk_score: float
    model_version: str
    task_id: str
    prediction_time: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "risk_score": self.risk_score,
            "model_version": self.model_version,
            "task_id": self.task_id,
            "prediction_time": self.prediction_time.isoformat(),
        }


@dataclass(frozen=True)
class Page:
    items: list[Customer]
    total: int
