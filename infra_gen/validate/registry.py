"""Every check, in report order."""

from __future__ import annotations

from . import compose, firewall, grafana, hardening, nginx, prometheus, semantic, tools
from .base import Check

CHECKS: tuple[Check, ...] = (
    *compose.CHECKS,
    *hardening.CHECKS,
    *nginx.CHECKS,
    *prometheus.CHECKS,
    *tools.CHECKS,
    *firewall.CHECKS,
    *grafana.CHECKS,
    *semantic.CHECKS,
)


def by_name(*names: str) -> tuple[Check, ...]:
    """The checks with these names (KeyError for an unknown one)."""
    index = {c.name: c for c in CHECKS}
    return tuple(index[n] for n in names)
