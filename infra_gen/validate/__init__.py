"""Validate rendered artifacts: semantic cross-checks and one adapter per real tool."""

from .base import Check, Context, Finding, Result, Status
from .runner import Report, run_check, run_checks, strict_from_env, validate

__all__ = [
    "Check",
    "Context",
    "Finding",
    "Report",
    "Result",
    "Status",
    "run_check",
    "run_checks",
    "strict_from_env",
    "validate",
]
