"""grafana artifact: datasource and dashboard provisioning, and three dashboards.

Dashboards are Python dicts built from the topology (one row per service group of
a role) and rendered with `to_json`. Rendered for every environment; Grafana itself
only runs where monitoring.grafana.enabled. `panel_queries` lists every PromQL
expression of a dashboard, for the validator.
"""

from __future__ import annotations

from typing import Any

from ..contract import (
    API_ACTIVE_CLIENTS,
    API_LATENCY,
    API_REQUESTS,
    ENV_LABEL,
    HTTP_LATENCY,
    HTTP_REQUESTS,
    LABELLED_PREDICTIONS,
    LB_REQUESTS,
    LIVE_ACCURACY,
    LIVE_ACCURACY_DAYS,
    LIVE_ACCURACY_MIN_LABELLED,
    ML_ACCURACY,
    ML_DRIFT,
    ML_IMPORTANCE,
    ML_LATENCY,
    NOT_DISKS,
    TASK_RUNTIME,
    TASKS_FAILED,
    TASKS_RETRIED,
    TASKS_SUCCEEDED,
)
from ..overrides import apply
from ..topology import ScrapeJob, Topology
from .base import ArtifactKind, Output

DATASOURCE_UID = "prometheus"
DATASOURCE = {"type": "prometheus", "uid": DATASOURCE_UID}
SCHEMA_VERSION = 39  # Grafana 11.x
WIDTH = 24


def panel_queries(dashboard: dict[str, Any]) -> list[str]:
    """Every target expression of a dashboard, rows' nested panels included, in order."""
    out: list[str] = []
    for panel in dashboard.get("panels", []):
        out += panel_queries({"panels": panel.get("panels", [])})
        out += [t["expr"] for t in panel.get("targets", []) if "expr" in t]
    return out


class _Layout:
    """Places panels left to right on Grafana's 24-column grid, rows full width."""

    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []
        self.x = self.y = self.row_h = 0

    def _next_id(self) -> int:
        return len(self.panels) + 1

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append({"id": self._next_id(), "type": "row", "title": title,
                            "collapsed": False, "panels": [],
                            "gridPos": {"h": 1, "w": WIDTH, "x": 0, "y": self.y}})
        self.y += 1

    def _newline(self) -> None:
        if self.x:
            self.y, self.x, self.row_h = self.y + self.row_h, 0, 0

    def panel(self, title: str, queries: list[tuple[str, str]], *, kind: str = "timeseries",
              unit: str = "short", w: int = 12, h: int = 8,
              thresholds: list[tuple[float, str]] | None = None, base: str = "green",
              description: str = "", mappings: list[dict[str, Any]] | None = None) -> None:
        """thresholds: (value, colour) steps above `base`, the colour below the first."""
        if self.x + w > WIDTH:
            self._newline()
        steps: list[dict[str, Any]] = [{"color": base, "value": None}]
        steps += [{"color": color, "value": value} for value, color in thresholds or []]
        defaults: dict[str, Any] = {"unit": unit,
                                    "thresholds": {"mode": "absolute", "steps": steps}}
        if mappings:
            defaults["mappings"] = mappings
        if kind == "timeseries" and thresholds:
            # Draw the thresholds as coloured lines, so a crossing is visible.
            defaults["custom"] = {"thresholdsStyle": {"mode": "line"}}
        self.panels.append({
            "id": self._next_id(), "type": kind, "title": title, "datasource": DATASOURCE,
            **({"description": description} if description else {}),
            "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {},
            "targets": [{"refId": chr(ord("A") + i), "datasource": DATASOURCE,
                         "expr": expr, "legendFormat": legend}
                        for i, (expr, legend) in enumerate(queries)],
        })
        self.x += w
        self.row_h = max(self.row_h, h)


def _dashboard(topo: Topology, name: str, title: str, layout: _Layout) -> dict[str, Any]:
    project = topo.env.project.replace("_", "-")
    return {
        "uid": f"{project}-{name}",
        "title": f"{title} ({topo.env.name})",
        "tags": [project, topo.env.name, name],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": False,
        "timezone": "utc",
        "time": {"from": "now-6h", "to": "now"},
        "refresh": topo.env.monitoring.scrape_interval,
        "templating": {"list": template_variables(topo)},
        "annotations": {"list": []},
        "panels": layout.panels,
    }


RATE = "$__rate_interval"
"""Grafana's rate window: at least four scrapes, and never shorter than a step."""


def template_variables(topo: Topology) -> list[dict[str, Any]]:
    """$environment (one Prometheus may hold several) and $instance (All by default)."""
    env = topo.env.name
    instance_query = f'label_values(up{{{ENV_LABEL}="$environment"}}, instance)'
    return [
        {"name": "environment", "label": "Environment", "type": "query",
         "datasource": DATASOURCE, "definition": f"label_values(up, {ENV_LABEL})",
         "query": {"query": f"label_values(up, {ENV_LABEL})", "refId": "environment"},
         "current": {"text": env, "value": env}, "refresh": 1, "sort": 1,
         "includeAll": False, "multi": False, "options": [], "hide": 0},
        {"name": "instance", "label": "Instance", "type": "query", "datasource": DATASOURCE,
         "definition": instance_query,
         "query": {"query": instance_query, "refId": "instance"},
         "current": {"text": "All", "value": "$__all"}, "refresh": 2, "sort": 1,
         "includeAll": True, "allValue": ".+", "multi": True, "options": [], "hide": 0},
    ]


def scoped(selector: str) -> str:
    """A job selector narrowed to the dashboard's environment and instances."""
    return f'{selector},{ENV_LABEL}="$environment",instance=~"$instance"'


def _jobs(jobs: list[ScrapeJob]) -> str:
    return scoped(f'job=~"{"|".join(j.job for j in jobs)}"')


UP_MAPPINGS = [{"type": "value", "options": {
    "0": {"text": "down", "color": "red", "index": 0},
    "1": {"text": "up", "color": "green", "index": 1}}}]


def system(topo: Topology) -> dict[str, Any]:
    lay = _Layout()
    lay.row("Host (node exporter)")
    sel = _jobs(topo.jobs_of_kind("node-exporter"))
    lay.panel("CPU busy", [(f'1 - avg by (instance) (rate(node_cpu_seconds_total{{{sel},'
                            f'mode="idle"}}[{RATE}]))', "{{instance}}")], unit="percentunit")
    lay.panel("Memory used", [(f"1 - node_memory_MemAvailable_bytes{{{sel}}}"
                               f" / node_memory_MemTotal_bytes{{{sel}}}", "{{instance}}")],
              unit="percentunit")
    free = topo.env.monitoring.thresholds.disk_free_ratio
    disk = f'{sel},fstype!~"{NOT_DISKS}"'
    # Less free space is worse: red below the alert's ratio, green above it.
    lay.panel("Disk free", [(f"node_filesystem_avail_bytes{{{disk}}}"
                             f" / node_filesystem_size_bytes{{{disk}}}", "{{mountpoint}}")],
              unit="percentunit", base="red", thresholds=[(free, "green")])
    lay.panel("Network", [
        (f'sum by (instance) (rate(node_network_receive_bytes_total{{{sel},device!="lo"}}'
         f'[{RATE}]))', "{{instance}} in"),
        (f'sum by (instance) (rate(node_network_transmit_bytes_total{{{sel},device!="lo"}}'
         f'[{RATE}]))', "{{instance}} out")], unit="Bps")
    lay.panel("Disk I/O", [
        (f"sum by (instance, device) (rate(node_disk_read_bytes_total{{{sel}}}[{RATE}]))",
         "{{device}} read"),
        (f"sum by (instance, device) (rate(node_disk_written_bytes_total{{{sel}}}[{RATE}]))",
         "{{device}} write")], unit="Bps")
    lay.panel("Disk busy", [(f"max by (instance, device) (rate("
                             f"node_disk_io_time_seconds_total{{{sel}}}[{RATE}]))",
                             "{{device}}")], unit="percentunit", thresholds=[(0.9, "red")])
    lay.row("Containers")
    every = scoped('job!=""')
    lay.panel("Targets up", [(f"up{{{every}}}", "{{job}} {{instance}}")],
              kind="state-timeline", w=24, h=10, base="red", thresholds=[(1, "green")],
              mappings=UP_MAPPINGS)
    proc = every
    note = ("No cAdvisor runs on this stack: these are the processes that export their own "
            "process metrics (exporters, Prometheus, Alertmanager, the app's workers), "
            "one line per scrape target.")
    lay.panel("CPU per target", [(f"sum by (job, instance) (rate("
                                  f"process_cpu_seconds_total{{{proc}}}[{RATE}]))",
                                  "{{instance}}")], unit="percentunit", description=note)
    lay.panel("Memory per target (resident)", [(
        f"sum by (job, instance) (process_resident_memory_bytes{{{proc}}})", "{{instance}}")],
        unit="bytes", description=note)
    datastores(topo, lay)
    return _dashboard(topo, "system", "System", lay)


def datastores(topo: Topology, lay: _Layout) -> None:
    """PostgreSQL, Redis and nginx rows, from their exporters' metrics."""
    pg_jobs, primary = topo.postgres_jobs()
    if pg_jobs:
        sel = _jobs(pg_jobs)
        db = f'datname="{topo.env.postgres.database}"'
        lay.row("PostgreSQL")
        lay.panel("Connections", [(f"sum by (instance, state) (pg_stat_activity_count{{{sel}}})",
                                   "{{instance}} {{state}}")], w=6)
        lay.panel("Transactions", [
            (f"sum by (instance) (rate(pg_stat_database_xact_commit{{{sel},{db}}}[{RATE}]))",
             "{{instance}} commit"),
            (f"sum by (instance) (rate(pg_stat_database_xact_rollback{{{sel},{db}}}[{RATE}]))",
             "{{instance}} rollback")], unit="ops", w=6)
        hit = f"sum by (instance) (rate(pg_stat_database_blks_hit{{{sel},{db}}}[{RATE}]))"
        read = f"sum by (instance) (rate(pg_stat_database_blks_read{{{sel},{db}}}[{RATE}]))"
        # No reads at all (an idle database) is a full hit ratio, not a division by zero.
        lay.panel("Cache hit ratio", [(f"{hit} / clamp_min({hit} + {read}, 1e-9)",
                                       "{{instance}}")], unit="percentunit", w=6,
                  base="red", thresholds=[(0.9, "orange"), (0.99, "green")])
        if primary is not None:
            lag = topo.env.monitoring.thresholds.replication_lag_bytes
            on_primary = scoped(f'job="{primary.job}"')
            lay.panel("Replication lag (bytes behind)", [(
                f"max by (slot_name) (pg_replication_slots_pg_wal_lsn_diff{{{on_primary}}})",
                "{{slot_name}}")],
                unit="bytes", w=6, thresholds=[(lag, "red")])
    redis_jobs = topo.jobs_of_kind("redis-exporter")
    if redis_jobs:
        sel = _jobs(redis_jobs)
        lay.row("Redis")
        lay.panel("Memory used", [(f"sum by (instance) (redis_memory_used_bytes{{{sel}}})",
                                   "{{instance}} used"),
                                  (f"sum by (instance) (redis_memory_max_bytes{{{sel}}})",
                                   "{{instance}} max")], unit="bytes", w=8)
        lay.panel("Clients", [(f"sum by (instance) (redis_connected_clients{{{sel}}})",
                               "{{instance}}")], w=8)
        lay.panel("Evictions", [(f"sum by (instance) (rate(redis_evicted_keys_total{{{sel}}}"
                                 f"[{RATE}]))", "{{instance}}")], unit="ops", w=8,
                  thresholds=[(0.001, "red")])
    nginx_jobs, log_jobs = topo.jobs_of_kind("nginx-exporter"), topo.jobs_of_kind("lb-log-exporter")
    if nginx_jobs or log_jobs:
        lay.row("nginx (load balancer)")
    if nginx_jobs:
        sel = _jobs(nginx_jobs)
        lay.panel("Requests", [(f"sum by (instance) (rate(nginx_http_requests_total{{{sel}}}"
                                f"[{RATE}]))", "{{instance}}")], unit="reqps")
        lay.panel("Connections", [(f"sum by (instance) (nginx_connections_{state}{{{sel}}})",
                                   f"{{{{instance}}}} {state}")
                                  for state in ("active", "reading", "writing", "waiting")])
    if log_jobs:
        _lb_responses(topo, lay, _jobs(log_jobs))


def _lb_responses(topo: Topology, lay: _Layout, sel: str) -> None:
    """Responses by status from the load balancer's access lines (the log exporter):
    stub_status has no status codes."""
    def by_route(extra: str) -> str:
        # A route with traffic but no such response is a true 0, not "no data": the
        # series of a status only exists from its first response on.
        return (f"sum by (route) (rate({LB_REQUESTS}{{{sel},{extra}}}[{RATE}]))"
                f" or 0 * sum by (route) (rate({LB_REQUESTS}{{{sel}}}[{RATE}]))")
    lay.panel("Responses by status class", [(
        f"sum by (class) (rate({LB_REQUESTS}{{{sel}}}[{RATE}]))", "{{class}}")],
        unit="reqps", w=8)
    lay.panel("429 rate-limited", [(by_route('status="429"'), "{{route}}")], unit="reqps",
              w=8, thresholds=[(0.001, "orange")],
              description="Requests the load balancer refused with 429 (limit_req or "
                          "limit_conn per client address), by route.")
    lay.panel("5xx", [(by_route('class="5xx"'), "{{route}}")], unit="reqps", w=8,
              thresholds=[(0.001, "red")],
              description="Server errors by route: from a member (source upstream) or "
                          "from nginx itself (502/504: no member answered).")


def application(topo: Topology) -> dict[str, Any]:
    lay, t = _Layout(), topo.env.monitoring.thresholds
    for job in topo.jobs_with("http", "dashboard"):
        sel, g = scoped(f'job="{job.job}"'), job.job
        lay.row(f"API: {g}")
        lay.panel("Request rate", [(f"sum by (route) (rate({API_REQUESTS}{{{sel}}}[{RATE}]))",
                                    "{{route}}")], unit="reqps")
        lat = f"sum by (le) (rate({API_LATENCY}{{{sel}}}[{RATE}]))"
        lay.panel("Response time", [(f"histogram_quantile({q}, {lat})", f"p{int(q * 100)}")
                                    for q in (0.5, 0.95, 0.99)], unit="s",
                  thresholds=[(t.latency_p95_seconds, "red")])
        lay.panel("Error rate (5xx share)", [(
            # No 5xx series exists until the first 5xx: count that as zero.
            f'(sum(rate({API_REQUESTS}{{{sel},status=~"5.."}}[{RATE}])) or vector(0))'
            f" / sum(rate({API_REQUESTS}{{{sel}}}[{RATE}]))", "5xx")], unit="percentunit",
            thresholds=[(t.error_rate, "red")])
        # Every replica reports the same Redis-wide count: one value, not their sum.
        lay.panel("Active users (5 min)", [(f"max({API_ACTIVE_CLIENTS}{{{sel}}})", "clients")],
                  kind="stat")
    for job in topo.jobs_with("generic", "dashboard"):
        # A service of your own: the conventional HTTP metrics, and whether it is up.
        sel = scoped(f'job="{job.job}"')
        lay.row(f"Service: {job.job}")
        lay.panel("Request rate", [(f"sum by (status) (rate({HTTP_REQUESTS}{{{sel}}}[{RATE}]))",
                                    "{{status}}")], unit="reqps", w=8)
        lay.panel("Response time p95", [(
            f"histogram_quantile(0.95, sum by (le) (rate({HTTP_LATENCY}{{{sel}}}[{RATE}])))",
            "p95")], unit="s", w=8, thresholds=[(t.latency_p95_seconds, "red")])
        lay.panel("Replicas up", [(f"sum(up{{{sel}}})", "up")], kind="stat", w=8)
    for job in topo.jobs_with("tasks", "dashboard"):
        sel = scoped(f'job="{job.job}"')
        lay.row(f"Celery: {job.job}")
        lay.panel("Task rates", [
            (f"sum(rate({m}{{{sel}}}[{RATE}]))", legend) for m, legend in
            ((TASKS_SUCCEEDED, "succeeded"), (TASKS_FAILED, "failed"), (TASKS_RETRIED, "retried"))
        ], unit="ops")
        lay.panel("Task runtime p95", [(
            f"histogram_quantile(0.95, sum by (task, le) (rate({TASK_RUNTIME}{{{sel}}}[{RATE}])))",
            "{{task}}")], unit="s")
    return _dashboard(topo, "application", "Application", lay)


def ml(topo: Topology) -> dict[str, Any]:
    lay, t = _Layout(), topo.env.monitoring.thresholds
    for job in topo.jobs_with("ml", "dashboard"):
        sel = scoped(f'job="{job.job}"')
        lay.row(f"Model: {job.job}")
        lat = f"sum by (le) (rate({ML_LATENCY}{{{sel}}}[{RATE}]))"
        lay.panel("Prediction latency", [(f"histogram_quantile({q}, {lat})", f"p{int(q * 100)}")
                                         for q in (0.5, 0.95, 0.99)], unit="s",
                  thresholds=[(t.prediction_latency_p95_seconds, "red")])
        lay.panel("Model accuracy", [(f"max({ML_ACCURACY}{{{sel}}})", "accuracy")], kind="stat",
                  unit="percentunit", thresholds=[(t.min_model_accuracy, "green")])
        # Below the minimum accuracy is red: the first step is the base colour.
        lay.panels[-1]["fieldConfig"]["defaults"]["thresholds"]["steps"][0]["color"] = "red"
        lay.panel("Feature importance", [(f"max by (feature) ({ML_IMPORTANCE}{{{sel}}})",
                                          "{{feature}}")], kind="bargauge", unit="percentunit")
        lay.panel("Data drift (PSI) per feature", [(f"max by (feature) ({ML_DRIFT}{{{sel}}})",
                                                    "{{feature}}")],
                  thresholds=[(t.drift_psi, "red")])
    api = topo.jobs_with("http")
    if api and topo.jobs_with("ml"):
        sel = _jobs(api)
        lay.row("Model on real outcomes")
        # Every API replica reports the same database-wide figures: max, not a sum.
        lay.panel(f"Live accuracy (labelled predictions, {LIVE_ACCURACY_DAYS} days)", [(
            f"max({LIVE_ACCURACY}{{{sel}}})", "accuracy")], kind="stat", unit="percentunit",
            base="red", thresholds=[(t.min_model_accuracy, "green")],
            description="Predictions whose customer's real outcome was recorded "
                        "(PUT /api/customers/<id>/outcome), each the newest before the outcome. "
                        f"The alert needs at least {LIVE_ACCURACY_MIN_LABELLED} of them.")
        lay.panel("Labelled predictions", [(f"max({LABELLED_PREDICTIONS}{{{sel}}})",
                                            "labelled")], kind="stat",
                  base="orange", thresholds=[(LIVE_ACCURACY_MIN_LABELLED, "green")])
    return _dashboard(topo, "ml", "ML model", lay)


DASHBOARDS = (system, application, ml)


def prometheus_url(topo: Topology) -> str:
    prom = topo.of_kind("prometheus")[0]
    return f"http://{prom.name}:{prom.port}{prom.route_prefix}"


def outputs(topo: Topology) -> list[Output]:
    datasource = {
        "name": "Prometheus", "uid": DATASOURCE_UID, "type": "prometheus", "access": "proxy",
        "url": prometheus_url(topo), "isDefault": True, "editable": False,
        "jsonData": {"timeInterval": topo.env.monitoring.scrape_interval,
                     "httpMethod": "POST"},
    }
    provider = {
        "name": "infra-gen", "orgId": 1, "folder": topo.env.project, "type": "file",
        "disableDeletion": True, "allowUiUpdates": False, "updateIntervalSeconds": 60,
        "options": {"path": topo.grafana_dashboards_dir, "foldersFromFilesStructure": False},
    }
    outs = [
        Output("grafana/provisioning/datasources/prometheus.yml",
               "grafana/provisioning/datasources/prometheus.yml.j2",
               {"config": apply(topo.env, ("grafana", "datasource"),
                                {"apiVersion": 1, "datasources": [datasource]})}),
        Output("grafana/provisioning/dashboards/provider.yml",
               "grafana/provisioning/dashboards/provider.yml.j2",
               {"config": apply(topo.env, ("grafana", "dashboard_provider"),
                                {"apiVersion": 1, "providers": [provider]})}),
    ]
    for build in DASHBOARDS:
        outs.append(Output(f"grafana/dashboards/{build.__name__}.json",
                           "grafana/dashboards/dashboard.json.j2",
                           {"dashboard": apply(topo.env, ("grafana", "dashboards", build.__name__),
                                               build(topo))}))
    return outs


ARTIFACT = ArtifactKind(
    "grafana",
    "Grafana datasource and dashboard provisioning; system, application and ML dashboards",
    outputs,
)
