"""Shared test set-up: under CI=true a skipped test is a failure, never a silent pass."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def disruptive_rank(item: pytest.Item) -> int:
    """0 for an ordinary test; the rank of its `disruptive` marker (>= 1) otherwise."""
    marker = item.get_closest_marker("disruptive")
    if marker is None:
        return 0
    return max(1, int(marker.args[0]) if marker.args else 1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests that stop containers or empty the rate limiter's bucket run last, so
    # the others see a healthy stack; the sort is stable within each rank.
    items.sort(key=disruptive_rank)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    report = yield
    if os.environ.get("CI", "").lower() in ("1", "true", "yes") and report.skipped:
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped under CI=true (a skip is a failure in CI): {reason}"
    return report
