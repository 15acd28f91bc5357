"""Pydantic models of the API's response bodies: the OpenAPI document's response
schemas (churn.api.openapi), and what tests/unit/app/test_app_openapi.py validates the
real responses against."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from churn.domain import ContractType

_EXACT = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    """Every failure: what went wrong and, where one is to blame, the field."""

    model_config = _EXACT
    error: str
    field: str | None


class Live(BaseModel):
    model_config = _EXACT
    status: Literal["ok"]


class Ready(BaseModel):
    """Each dependency's state: "ok" or its error."""

    model_config = _EXACT
    status: Literal["ok", "degraded", "unavailable"]
    failed: list[str]
    dependencies: dict[str, str]


class Customer(BaseModel):
    model_config = _EXACT
    id: int
    external_id: str
    name: str
    email: str
    tenure_months: int
    monthly_charges: float
    total_charges: float
    contract_type: ContractType
    support_calls: int
    risk_score: float | None = Field(description="The latest prediction, if any.")
    created_at: datetime
    updated_at: datetime


class CustomerPage(BaseModel):
    model_config = _EXACT
    items: list[Customer]
    page: int
    per_page: int
    total: int


class TopRisk(BaseModel):
    model_config = _EXACT
    items: list[Customer]
    limit: int


class RiskRecord(BaseModel):
    model_config = _EXACT
    customer_id: int
    risk_score: float
    model_version: str
    task_id: str
    prediction_time: datetime


class RiskHistory(BaseModel):
    model_config = _EXACT
    customer_id: int
    items: list[RiskRecord]


class Outcome(BaseModel):
    model_config = _EXACT
    customer_id: int
    churned: bool


class PredictionAccepted(BaseModel):
    model_config = _EXACT
    id: str
    status: Literal["pending"]


class PredictionState(BaseModel):
    """Pending or failed (with its error), or done with the score."""

    model_config = _EXACT
    id: str
    status: Literal["pending", "failed", "done"]
    error: str | None = None
    customer_id: int | None = None
    risk_score: float | None = None
    model_version: str | None = None
    prediction_time: datetime | None = None
