"""Metric facts of the alert rules and dashboards that are not the bundled app's
(the app's metric names are in infra_gen/contract.py)."""

from __future__ import annotations

# Filesystems that are not disks (node exporter reports them all).
NOT_DISKS = "tmpfs|devtmpfs|ramfs|squashfs|overlay|nsfs|fuse.lxcfs"

# A service of your own: the Prometheus client libraries' conventional HTTP metrics
# (a counter with a status label, a latency histogram in seconds).
HTTP_REQUESTS = "http_requests_total"
HTTP_LATENCY = "http_request_duration_seconds_bucket"
