"""Helpers of the model's custom validators."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def located(fn: F) -> F:
    """Turn any exception of a custom validator into a ValueError, which pydantic
    reports at the field being validated; a TypeError or OverflowError would
    otherwise escape as a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ValueError:
            raise
        except (ArithmeticError, TypeError, LookupError, AttributeError) as exc:
            raise ValueError(f"invalid value ({type(exc).__name__}: {exc})") from None

    return wrapper  # type: ignore[return-value]


def shown(value: object, limit: int = 60) -> str:
    """A user value for an error message: repr (control characters escaped) and cut."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Doc:
    """What a constrained type accepts, in words. The JSON Schema appends it to the
    field's own description, and the loader says it when a value does not match."""

    text: str
