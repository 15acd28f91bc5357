"""Operations: monitoring, alerting, logging, firewall, backups, access."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from .common import (
    Cidr,
    CronSchedule,
    Doc,
    Duration,
    Email,
    Hostname,
    HostPort,
    Identifier,
    IdentityFile,
    Justification,
    Port,
    PosixUser,
    Resources,
    SafePath,
    SecretName,
    SshAlias,
    StrictModel,
    is_world,
    located,
)

ReceiverName = Annotated[
    str,
    StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9_-]{1,64}$"),
    Doc("An Alertmanager receiver name: letters, digits, _ and -."),
]
LabelName = Annotated[
    str,
    StringConstraints(max_length=64, pattern=r"^([a-zA-Z_][a-zA-Z0-9_]{0,63}|\.\.\.)$"),
    Doc("A Prometheus label name (or ... for every label)."),
]
SmtpUser = Annotated[
    str,
    StringConstraints(max_length=254, pattern=r"^[A-Za-z0-9._%+@-]{1,254}$"),
    Doc("An SMTP login: letters, digits and ._%+@-."),
]


class Grafana(StrictModel):
    enabled: bool = False
    """Run Grafana (its image cannot be built on a machine without a registry)."""
    admin_password_secret: SecretName = "grafana_admin_password"
    """Secret holding the Grafana admin password."""


class AlertThresholds(StrictModel):
    error_rate: float = Field(default=0.05, gt=0, lt=1)
    """Share of 5xx API responses that raises HighErrorRate."""
    latency_p95_seconds: float = Field(default=1.0, gt=0, le=3600)
    """95th percentile API latency that raises HighLatency."""
    prediction_latency_p95_seconds: float = Field(default=0.5, gt=0, le=3600)
    """95th percentile ML prediction latency that raises SlowPredictions."""
    drift_psi: float = Field(default=0.2, gt=0, le=100)
    """Population stability index above which a feature is said to drift."""
    drift_min_predictions: int = Field(default=500, ge=1, le=10**9)
    """DataDrift fires only with at least this many predictions in drift_window: a
    PSI from a handful of inputs is sampling noise (about 0.18 from 50 rows)."""
    drift_window: Duration = "1h"
    """The window drift_min_predictions is counted over."""
    min_model_accuracy: float = Field(default=0.7, gt=0, le=1)
    """Model accuracy below which ModelAccuracyLow fires."""
    task_failure_rate: float = Field(default=0.1, gt=0, lt=1)
    """Share of failed Celery tasks that raises TaskFailures."""
    disk_free_ratio: float = Field(default=0.1, gt=0, lt=1)
    """Free disk share below which DiskSpaceLow fires."""
    replication_lag_bytes: int = Field(default=64 * 1024 * 1024, gt=0, le=2**50)
    """WAL bytes the replica's slot may trail the primary before ReplicationLag fires."""
    redis_memory_ratio: float = Field(default=0.9, gt=0, lt=1)
    """Share of Redis maxmemory in use that raises RedisMemoryHigh."""


class AlertDelays(StrictModel):
    """How long a condition must hold before its alert fires (each rule's `for:`):
    seconds where people watch the stack being broken on purpose (dev), minutes where
    a page wakes someone (prod)."""

    down: Duration = "1m"
    """A datastore or the load balancer unreachable: RedisDown, PostgresDown, NginxDown."""
    target_down: Duration = "2m"
    """A scrape target not answering: TargetDown."""
    replica_not_streaming: Duration = "2m"
    """The PostgreSQL replica not streaming from the primary."""
    sustained: Duration = "5m"
    """Rates and levels: error share, latency, task failures, model accuracy, memory,
    disk, replication lag."""
    drift: Duration = "15m"
    """Input drift (DataDrift): slow by nature, so a burst does not page."""


class Monitoring(StrictModel):
    scrape_interval: Duration = "15s"
    """How often Prometheus scrapes every target."""
    evaluation_interval: Duration = "15s"
    """How often Prometheus evaluates alert rules."""
    retention: Duration = "15d"
    """How long Prometheus keeps samples."""
    grafana: Grafana = Grafana()
    """Grafana dashboards."""
    thresholds: AlertThresholds = AlertThresholds()
    """Alert thresholds."""
    alert_for: AlertDelays = AlertDelays()
    """How long each kind of condition must hold before its alert fires."""
    resources: Resources = Resources(limits={"cpus": 1, "memory": "1G"})  # type: ignore[arg-type]
    """CPU, memory and PID limits of Prometheus."""


class Smtp(StrictModel):
    """How Alertmanager sends mail: a real server (smarthost), or the SMTP sink that
    then runs in the stack (sink: true; no mail leaves the machine)."""

    from_: Email = Field(alias="from")
    """Sender address of every alert mail."""
    sink: bool = False
    """Run an SMTP sink in the stack (the mail-sink service, from the app image) and
    deliver there, without TLS or authentication: for environments with no mail server."""
    smarthost: HostPort | None = None
    """SMTP server as host:port (required unless sink)."""
    auth_username: SmtpUser | None = None
    """SMTP user (with auth_password_secret)."""
    auth_password_secret: SecretName | None = None
    """Secret holding the SMTP password (mounted as a file, never inlined)."""
    require_tls: bool = True
    """Require STARTTLS from the smarthost."""

    @model_validator(mode="after")
    @located
    def _server_or_sink(self) -> Smtp:
        if self.sink and self.smarthost is not None:
            raise ValueError("smarthost: not with sink: true (mail goes to the sink)")
        if not self.sink and self.smarthost is None:
            raise ValueError("smarthost: required unless sink: true")
        if (self.auth_username is None) != (self.auth_password_secret is None):
            raise ValueError("auth_username and auth_password_secret: give both or neither")
        if self.sink and self.auth_username is not None:
            raise ValueError("auth_username: the sink takes no authentication")
        return self


class EmailReceiver(StrictModel):
    to: Email
    """Recipient."""


class Receiver(StrictModel):
    name: ReceiverName
    """Receiver name that routes refer to."""
    email: EmailReceiver | None = None
    """Send alerts by mail (through alerting.smtp)."""


class Route(StrictModel):
    receiver: ReceiverName
    """Receiver that gets alerts by default."""
    group_by: list[LabelName] = Field(default=["alertname"], max_length=32)
    """Labels that group alerts into one notification."""
    group_wait: Duration = "30s"
    """Wait before the first notification of a group."""
    group_interval: Duration = "5m"
    """Wait before notifying about new alerts in a group."""
    repeat_interval: Duration = "1h"
    """Wait before re-sending a notification."""


class Alerting(StrictModel):
    smtp: Smtp | None = None
    """The mail server (or sink) every email receiver sends through."""
    route: Route
    """Top-level Alertmanager route."""
    receivers: list[Receiver] = Field(min_length=1, max_length=32)
    """Where notifications go."""

    @model_validator(mode="after")
    @located
    def _route_targets_known_receiver(self) -> Alerting:
        names = [r.name for r in self.receivers]
        if len(set(names)) != len(names):
            raise ValueError(f"receivers: names must be unique, got {names}")
        if self.smtp is None and any(r.email for r in self.receivers):
            raise ValueError("smtp: required by the email receivers (a smarthost, or sink: true)")
        if self.route.receiver not in names:
            raise ValueError(
                f"route.receiver: {self.route.receiver!r} is not a receiver "
                f"(expected one of: {', '.join(names)})"
            )
        return self


class Elasticsearch(StrictModel):
    host: Hostname = "elasticsearch"
    """Elasticsearch host fluentd ships to: a service of this stack, or a host that
    answers on `network`."""
    port: Port = 9200
    """Elasticsearch port."""
    network: Identifier | None = None
    """An existing Docker network outside this stack (made by whoever runs
    Elasticsearch: `docker network create NAME`, attachable overlay on swarm) on which
    `host` answers; fluentd joins it. Needed unless `host` is a service of the stack:
    fluentd's own network (backend-net) has no route out."""


class Fluentd(StrictModel):
    enabled: bool = False
    """Ship container logs to Elasticsearch through fluentd."""
    elasticsearch: Elasticsearch = Elasticsearch()
    """Where logs go."""
    forward: bool = False
    """Also accept logs over fluentd's forward protocol on port 24224 (other hosts'
    fluentd or fluent-bit ship here; reachable on backend-net and the sink's network)."""


class Frequency(StrEnum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"


class Logrotate(StrictModel):
    frequency: Frequency = Frequency.daily
    """Rotation period."""
    rotate: int = Field(default=7, ge=1, le=1000)
    """Rotated files kept."""
    compress: bool = True
    """gzip rotated files."""
    delaycompress: bool = True
    """Keep the newest rotated file uncompressed."""
    copytruncate: bool = True
    """Truncate in place, so writers keep their file handle."""
    log_dir: SafePath = "/var/log/churn_prediction"
    """Host directory where the services' log files are collected (default /var/log/<project>)."""


class Logging(StrictModel):
    fluentd: Fluentd = Fluentd()
    """Central log shipping."""
    logrotate: Logrotate = Logrotate()
    """Rotation of the host's log files."""


class Firewall(StrictModel):
    public_ports: list[Port] = Field(default=[80, 443], max_length=8)
    """Ports open to everyone: must be exactly the load balancer's published ports."""
    private_cidr: Cidr = "10.0.0.0/8"
    """Network allowed to reach the private ports (database, cache, SSH). A network
    that is effectively everyone (prefix shorter than /8, or /7 for IPv6) needs
    allow_world_private."""
    allow_world_private: Justification | None = None
    """Explicit opt-in to a private_cidr that is effectively the whole Internet
    (the database, cache and SSH ports then face everyone); say why."""
    ssh_port: Port = 22
    """SSH port, reachable from the private network only."""

    @model_validator(mode="after")
    @located
    def _private_is_not_everyone(self) -> Firewall:
        if is_world(self.private_cidr) and self.allow_world_private is None:
            raise ValueError(
                f"private_cidr: {self.private_cidr} is effectively everyone (prefix shorter "
                "than /8); name the private network, or set allow_world_private: {reason: ...}"
            )
        return self


class DatabaseBackups(StrictModel):
    retention_days: int = Field(default=7, ge=1, le=36500)
    """Dumps older than this are deleted."""
    schedule: CronSchedule = "0 2 * * *"
    """cron schedule of the nightly dump."""


class ModelBackups(StrictModel):
    keep: int = Field(default=5, ge=1, le=1000)
    """How many model archives to keep."""


class Backups(StrictModel):
    directory: SafePath = "/var/backups/churn_prediction"
    """Host directory that holds the dumps and model archives (default /var/backups/<project>)."""
    database: DatabaseBackups = DatabaseBackups()
    """PostgreSQL dumps."""
    models: ModelBackups = ModelBackups()
    """ML model archives."""


class Bastion(StrictModel):
    hostname: Hostname
    """Public host name of the bastion."""
    user: PosixUser = "ubuntu"
    """Login user on the bastion and the hosts behind it."""
    port: Port = 22
    """SSH port of the bastion."""
    identity_file: IdentityFile = "~/.ssh/id_ed25519"
    """Private key used for the bastion and the hosts behind it."""


class Ssh(StrictModel):
    bastion: Bastion | None = None
    """Jump host in front of the private network."""
    hosts: dict[SshAlias, Hostname] = Field(default={}, max_length=256)
    """Private hosts reached through the bastion: alias -> address."""


__all__ = [
    "Alerting",
    "Backups",
    "Cidr",
    "Firewall",
    "Logging",
    "Monitoring",
    "Ssh",
]
