"""Every check, in report order."""

from __future__ import annotations

from . import (
    compose,
    firewall,
    grafana,
    hardening,
    mtail,
    nginx,
    prometheus,
    semantic,
    swarm,
    tools,
)
from .base import Check

CHECKS: tuple[Check, ...] = (
    *compose.CHECKS,
    *hardening.CHECKS,
    *nginx.CHECKS,
    *mtail.CHECKS,
    *prometheus.CHECKS,
    *tools.CHECKS,
    *firewall.CHECKS,
    *grafana.CHECKS,
    *semantic.CHECKS,
    *swarm.CHECKS,
)
