"""Pydantic models of an environment: pure data and its validators."""

from .common import Duration, Resources, duration_seconds
from .environment import Deploy, Environment
from .error_tracking import ErrorTracking
from .operations import Alerting, Backups, Firewall, Logging, Monitoring, Ssh
from .platform import Images, LoadBalancer, Postgres, Redis, Tls, TlsMode
from .registry import ModelRegistry
from .services import AppService, Metrics, Role

__all__ = [
    "Alerting",
    "AppService",
    "Backups",
    "Deploy",
    "Duration",
    "Environment",
    "ErrorTracking",
    "Firewall",
    "Images",
    "LoadBalancer",
    "Logging",
    "Metrics",
    "ModelRegistry",
    "Monitoring",
    "Postgres",
    "Redis",
    "Resources",
    "Role",
    "Ssh",
    "Tls",
    "TlsMode",
    "duration_seconds",
]
