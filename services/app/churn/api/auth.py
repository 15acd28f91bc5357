"""Bearer-token authentication for writes.

Only the SHA-256 of a token is stored; a high-entropy random token needs no slow
password hash, and looking it up by hash reveals nothing about other tokens.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import current_app, g, request

from churn.json_errors import ApiError

P = ParamSpec("P")
R = TypeVar("R")

_SCHEME = "bearer "


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith(_SCHEME):
        return None
    return header[len(_SCHEME) :].strip() or None


def require_token(view: Callable[P, R]) -> Callable[P, R]:
    """Reject the request with 401 unless it carries a known API token."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        token = bearer_token()
        if token is None:
            raise ApiError(401, "missing bearer token", "Authorization")
        name = current_app.extensions["churn"].tokens.token_name(hash_token(token))
        if name is None:
            raise ApiError(401, "invalid token", "Authorization")
        g.token_name = name
        return view(*args, **kwargs)

    # The OpenAPI document reads it: these operations need the bearer token.
    wrapper.requires_token = True  # type: ignore[attr-defined]
    return wrapper
