"""Error tracking: the app's services report unhandled errors to a Sentry-protocol
server (or to the error sink the stack then runs)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from .common import SecretName, StrictModel, located
from .reserved import STACK_SECRETS


class ErrorTracking(StrictModel):
    """Error reporting of the api, worker and ml services (sentry-sdk). Each event
    carries the release (the service's image tag) and the environment (its name).
    Off by default."""

    enabled: bool = False
    """Report unhandled errors of api, worker and ml to the DSN in dsn_secret."""
    dsn_secret: SecretName = "sentry_dsn"
    """Secret file holding the DSN (it contains the project's key): mounted into the
    services and read through SENTRY_DSN_FILE, never written into a generated file.
    Without sink you write it into the environment's secrets directory yourself;
    `infra-gen up` and `deploy` refuse to start without it rather than invent one."""
    sink: bool = False
    """Run an error sink in the stack (the error-sink service, from the app image) and
    report there: `up` writes the DSN pointing at it. For environments without a Sentry
    server; it keeps the newest 1,000 events in memory and lists them (GET /events)."""
    sample_rate: Annotated[float, Field(ge=0, le=1)] = 1.0
    """Share of error events sent (1: every one)."""
    test_error_route: bool = False
    """Serve GET /api/_test/error on the API, which fails on purpose (the stack test of
    error tracking raises its event through it). For dev and test environments only:
    never in production, where anyone could fill the error tracker."""

    @model_validator(mode="after")
    @located
    def _needs_enabled(self) -> ErrorTracking:
        if not self.enabled:
            for name in ("sink", "test_error_route"):
                if getattr(self, name):
                    raise ValueError(f"{name}: only with enabled: true")
        if self.dsn_secret in STACK_SECRETS:
            raise ValueError(f"dsn_secret: {self.dsn_secret!r} is a secret the stack makes "
                             "itself; name the DSN's file differently")
        return self
