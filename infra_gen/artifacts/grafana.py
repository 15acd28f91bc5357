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
    HTTP_LATENCY,
    HTTP_REQUESTS,
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
from ..topology import Topology
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
              thresholds: list[tuple[float, str]] | None = None) -> None:
        if self.x + w > WIDTH:
            self._newline()
        steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
        steps += [{"color": color, "value": value} for value, color in thresholds or []]
        self.panels.append({
            "id": self._next_id(), "type": kind, "title": title, "datasource": DATASOURCE,
            "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y},
            "fieldConfig": {"defaults": {"unit": unit,
                                         "thresholds": {"mode": "absolute", "steps": steps}},
                            "overrides": []},
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
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": layout.panels,
    }


def system(topo: Topology) -> dict[str, Any]:
    lay = _Layout()
    lay.row("Host (node exporter)")
    nodes = "|".join(j.job for j in topo.jobs_of_kind("node-exporter"))
    sel = f'job=~"{nodes}"'
    lay.panel("CPU busy", [(f'1 - avg by (instance) (rate(node_cpu_seconds_total{{{sel},'
                            f'mode="idle"}}[5m]))', "{{instance}}")], unit="percentunit")
    lay.panel("Memory used", [(f"1 - node_memory_MemAvailable_bytes{{{sel}}}"
                               f" / node_memory_MemTotal_bytes{{{sel}}}", "{{instance}}")],
              unit="percentunit")
    free = topo.env.monitoring.thresholds.disk_free_ratio
    disk = f'{sel},fstype!~"{NOT_DISKS}"'
    lay.panel("Disk free", [(f"node_filesystem_avail_bytes{{{disk}}}"
                             f" / node_filesystem_size_bytes{{{disk}}}", "{{mountpoint}}")],
              unit="percentunit", thresholds=[(free, "red")])
    lay.panel("Network", [
        (f'sum by (instance) (rate(node_network_receive_bytes_total{{{sel},device!="lo"}}[5m]))',
         "{{instance}} in"),
        (f'sum by (instance) (rate(node_network_transmit_bytes_total{{{sel},device!="lo"}}[5m]))',
         "{{instance}} out")], unit="Bps")
    lay.row("Containers")
    lay.panel("Targets up", [("up", "{{job}} {{instance}}")], kind="state-timeline", w=24,
              h=10, thresholds=[(1, "green")])
    return _dashboard(topo, "system", "System", lay)


def application(topo: Topology) -> dict[str, Any]:
    lay = _Layout()
    for job in topo.jobs_with("http", "dashboard"):
        sel, g = f'job="{job.job}"', job.job
        lay.row(f"API: {g}")
        lay.panel("Request rate", [(f"sum by (route) (rate({API_REQUESTS}{{{sel}}}[5m]))",
                                    "{{route}}")], unit="reqps")
        lat = f"sum by (le) (rate({API_LATENCY}{{{sel}}}[5m]))"
        lay.panel("Response time", [(f"histogram_quantile({q}, {lat})", f"p{int(q * 100)}")
                                    for q in (0.5, 0.95, 0.99)], unit="s",
                  thresholds=[(topo.env.monitoring.thresholds.latency_p95_seconds, "red")])
        lay.panel("Error rate (5xx share)", [(
            # No 5xx series exists until the first 5xx: count that as zero.
            f'(sum(rate({API_REQUESTS}{{{sel},status=~"5.."}}[5m])) or vector(0))'
            f" / sum(rate({API_REQUESTS}{{{sel}}}[5m]))", "5xx")], unit="percentunit",
            thresholds=[(topo.env.monitoring.thresholds.error_rate, "red")])
        lay.panel("Active users (5 min)", [(f"sum({API_ACTIVE_CLIENTS}{{{sel}}})", "clients")],
                  kind="stat")
    for job in topo.jobs_with("generic", "dashboard"):
        # A service of your own: the conventional HTTP metrics, and whether it is up.
        sel = f'job="{job.job}"'
        lay.row(f"Service: {job.job}")
        lay.panel("Request rate", [(f"sum by (status) (rate({HTTP_REQUESTS}{{{sel}}}[5m]))",
                                    "{{status}}")], unit="reqps", w=8)
        lay.panel("Response time p95", [(
            f"histogram_quantile(0.95, sum by (le) (rate({HTTP_LATENCY}{{{sel}}}[5m])))",
            "p95")], unit="s", w=8,
            thresholds=[(topo.env.monitoring.thresholds.latency_p95_seconds, "red")])
        lay.panel("Replicas up", [(f"sum(up{{{sel}}})", "up")], kind="stat", w=8)
    for job in topo.jobs_with("tasks", "dashboard"):
        sel = f'job="{job.job}"'
        lay.row(f"Celery: {job.job}")
        lay.panel("Task rates", [
            (f"sum(rate({m}{{{sel}}}[5m]))", legend) for m, legend in
            ((TASKS_SUCCEEDED, "succeeded"), (TASKS_FAILED, "failed"), (TASKS_RETRIED, "retried"))
        ], unit="ops")
        lay.panel("Task runtime p95", [(
            f"histogram_quantile(0.95, sum by (task, le) (rate({TASK_RUNTIME}{{{sel}}}[5m])))",
            "{{task}}")], unit="s")
    return _dashboard(topo, "application", "Application", lay)


def ml(topo: Topology) -> dict[str, Any]:
    lay, t = _Layout(), topo.env.monitoring.thresholds
    for job in topo.jobs_with("ml", "dashboard"):
        sel = f'job="{job.job}"'
        lay.row(f"Model: {job.job}")
        lat = f"sum by (le) (rate({ML_LATENCY}{{{sel}}}[5m]))"
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
