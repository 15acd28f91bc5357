"""HTTP client of the ML service, as the worker uses it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import requests

# (connect, read) seconds: a scoring call is milliseconds; long waits mean trouble.
_TIMEOUT = (2.0, 10.0)


class MLServiceError(Exception):
    """The ML service is unreachable or failed (5xx): worth retrying."""


class MLRequestRejectedError(Exception):
    """The ML service refused the input (4xx): retrying will not help."""


@dataclass(frozen=True)
class Score:
    churn_probability: float
    model_version: str


class MLClient(Protocol):
    def score(self, features: dict[str, Any]) -> Score: ...


class HttpMLClient:
    def __init__(self, base_url: str, session: requests.Session | None = None) -> None:
        self._url = f"{base_url.rstrip('/')}/predict"
        self._session = session or requests.Session()

    def score(self, features: dict[str, Any]) -> Score:
        try:
            response = self._session.post(self._url, json={"customer": features}, timeout=_TIMEOUT)
        except requests.RequestException as exc:
            raise MLServiceError(f"ML service unreachable: {exc}") from exc
        if response.status_code >= 500:
            raise MLServiceError(f"ML service answered {response.status_code}")
        if response.status_code >= 400:
            raise MLRequestRejectedError(f"ML service refused input: {response.text[:500]}")
        try:
            body = response.json()
            return Score(float(body["churn_probability"]), str(body["model_version"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise MLServiceError(f"unexpected ML response: {response.text[:200]}") from exc
