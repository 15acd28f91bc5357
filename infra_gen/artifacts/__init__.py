"""Artifact kinds, one module each, collected in REGISTRY (render order)."""

from . import (
    alertmanager,
    backups,
    ci,
    compose,
    datastores,
    docs,
    failover,
    firewall,
    fluentd,
    grafana,
    logrotate,
    mtail,
    nginx,
    prometheus,
    ssh,
)
from .base import ArtifactKind, Output

REGISTRY: tuple[ArtifactKind, ...] = (
    compose.ARTIFACT,
    nginx.ARTIFACT,
    mtail.ARTIFACT,
    datastores.ARTIFACT,
    prometheus.ARTIFACT,
    alertmanager.ARTIFACT,
    grafana.ARTIFACT,
    fluentd.ARTIFACT,
    logrotate.ARTIFACT,
    firewall.ARTIFACT,
    backups.ARTIFACT,
    failover.ARTIFACT,
    ssh.ARTIFACT,
    docs.ARTIFACT,
    ci.ARTIFACT,
)

__all__ = ["REGISTRY", "ArtifactKind", "Output"]
