"""Request-body validation (pydantic v2, strict: no silent type coercion).

Strict mode means `"12"` is not accepted for an integer and `true` is not accepted
for a number; `extra="forbid"` turns unknown fields into errors that name them.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from churn.domain import ContractType

_STRICT = ConfigDict(strict=True, extra="forbid")

NonNegativeMoney = Annotated[float, Field(ge=0, le=1_000_000)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class CustomerFeatures(BaseModel):
    """What the churn model needs to score one customer."""

    model_config = _STRICT

    tenure_months: Annotated[int, Field(ge=0, le=1200)]
    monthly_charges: NonNegativeMoney
    total_charges: NonNegativeMoney
    contract_type: ContractType
    support_calls: Annotated[int, Field(ge=0, le=10_000)]


class CustomerCreate(CustomerFeatures):
    external_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
    ]
    name: Text
    email: Email


class CustomerPatch(BaseModel):
    """Partial update: every field optional, but each present one must be valid."""

    model_config = _STRICT

    external_id: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None
    ) = None
    name: Text | None = None
    email: Email | None = None
    tenure_months: Annotated[int, Field(ge=0, le=1200)] | None = None
    monthly_charges: NonNegativeMoney | None = None
    total_charges: NonNegativeMoney | None = None
    contract_type: ContractType | None = None
    support_calls: Annotated[int, Field(ge=0, le=10_000)] | None = None


class PredictionRequest(BaseModel):
    model_config = _STRICT

    customer_id: Annotated[int, Field(ge=1)]


ModelT = TypeVar("ModelT", bound=BaseModel)


class OutcomeRecord(BaseModel):
    """The real churn outcome of a customer: did they leave?"""

    model_config = _STRICT

    churned: bool


class BodyError(Exception):
    """A request body failed validation; `field` is a dotted path into the body."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def validate_body(model: type[ModelT], body: Any, prefix: str = "") -> ModelT:
    """Validate a decoded JSON body, turning the first pydantic error into a BodyError."""
    if not isinstance(body, dict):
        raise BodyError("request body must be a JSON object", prefix.rstrip(".") or "body")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        # Drop pydantic's union/constraint tags (e.g. "function-after") from the path.
        path = ".".join(str(part) for part in first["loc"] if not str(part).startswith("function"))
        raise BodyError(first["msg"], f"{prefix}{path}" or "body") from exc
