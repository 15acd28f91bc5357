"""Grafana: provisioning layout, dashboard JSON, and every panel query parsed by promtool.

promtool parses PromQL in rule files, so each panel query becomes a recording rule
of a throw-away rules file (Grafana's $__rate_interval and template variables
replaced by plain values first) and `promtool check rules` parses it.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ..contract import GRAFANA_DASHBOARDS as DASHBOARDS
from ..contract import GRAFANA_PROVISIONING as PROVISIONING
from .base import Check, Context, Finding, NotApplicable, Skip, run

DASHBOARDS_MOUNT = "/var/lib/grafana/dashboards"


def _enabled(ctx: Context) -> None:
    if not ctx.topo.env.monitoring.grafana.enabled:
        raise NotApplicable("grafana is off in this environment (monitoring.grafana.enabled)")


def provisioning(ctx: Context) -> list[Finding]:
    """datasources/*.yml and dashboards/*.yml as Grafana reads them; dashboards are JSON."""
    _enabled(ctx)
    findings: list[Finding] = []
    ds_files = ctx.glob(f"{PROVISIONING}/datasources/*.y*ml")
    prov_files = ctx.glob(f"{PROVISIONING}/dashboards/*.y*ml")
    dashboards = ctx.glob(DASHBOARDS)
    for what, files in (("datasources", ds_files), ("dashboards", prov_files),
                        ("dashboard JSON", dashboards)):
        if not files:
            findings.append(Finding(f"no {what} file rendered", PROVISIONING))
    uids: set[str] = set()
    for rel in ds_files:
        doc = ctx.yaml(rel) or {}
        if doc.get("apiVersion") != 1:
            findings.append(Finding("provisioning file needs apiVersion: 1", rel, 1))
        for ds in doc.get("datasources") or []:
            for key in ("name", "type", "url"):
                if not ds.get(key):
                    findings.append(Finding(f"datasource {ds.get('name')!r} has no {key}", rel))
            uids.add(str(ds.get("uid", ds.get("name"))))
        if not doc.get("datasources"):
            findings.append(Finding("datasources: list is empty", rel))
    for rel in prov_files:
        doc = ctx.yaml(rel) or {}
        if doc.get("apiVersion") != 1:
            findings.append(Finding("provisioning file needs apiVersion: 1", rel, 1))
        for prov in doc.get("providers") or []:
            path = (prov.get("options") or {}).get("path")
            if path != DASHBOARDS_MOUNT:
                findings.append(Finding(
                    f"provider {prov.get('name')!r} options.path is {path!r}; the dashboards "
                    f"are mounted at {DASHBOARDS_MOUNT}", rel))
        if not doc.get("providers"):
            findings.append(Finding("providers: list is empty", rel))
    for rel in dashboards:
        try:
            board = json.loads(ctx.text(rel))
        except json.JSONDecodeError as exc:
            findings.append(Finding(f"not valid JSON: {exc.msg}", rel, exc.lineno))
            continue
        for key in ("title", "uid", "panels"):
            if key not in board:
                findings.append(Finding(f"dashboard has no {key!r}", rel))
        for panel in _panels(board.get("panels") or []):
            ds = panel.get("datasource")
            uid = ds.get("uid") if isinstance(ds, dict) else ds
            if uids and uid and not str(uid).startswith("$") and str(uid) not in uids:
                findings.append(Finding(
                    f"panel {panel.get('title')!r} uses datasource {uid!r}, not provisioned "
                    f"(have: {', '.join(sorted(uids))})", rel))
    return findings


def _panels(panels: list[Any]) -> Iterator[dict[str, Any]]:
    for p in panels:
        if isinstance(p, dict):
            yield p
            yield from _panels(p.get("panels") or [])


_GRAFANA_VARS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h",
                 "__interval_ms": "60000", "__range_s": "3600"}


def plain_promql(expr: str) -> str:
    """A Grafana query with its variables replaced, so promtool can parse it."""
    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return _GRAFANA_VARS.get(name, "x")
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", sub, expr)


def panel_queries(ctx: Context) -> list[Finding]:
    _enabled(ctx)
    dashboards = ctx.glob(DASHBOARDS)
    if not dashboards:
        raise Skip("grafana/dashboards/*.json not rendered (its artifact is missing)")
    groups: list[dict[str, Any]] = []
    where: list[tuple[str, str]] = []
    for rel in dashboards:
        try:
            board = json.loads(ctx.text(rel))
        except json.JSONDecodeError:
            continue  # reported by the provisioning check
        for panel in _panels(board.get("panels") or []):
            for i, target in enumerate(panel.get("targets") or []):
                if isinstance(target, dict) and target.get("expr"):
                    where.append((rel, f"panel {panel.get('title')!r} target {i}"))
                    groups.append({"name": f"q{len(groups)}", "rules": [
                        {"record": "grafana:query", "expr": plain_promql(target["expr"])}]})
    if not groups:
        return [Finding("no panel has a PromQL query (targets[].expr)", "grafana/dashboards")]
    with tempfile.TemporaryDirectory(prefix="grafana-q-") as tmp:
        rules = Path(tmp) / "queries.yml"
        rules.write_text(yaml.safe_dump({"groups": groups}))
        out = run(["promtool", "check", "rules", str(rules)])
    if out.returncode == 0:
        return []
    findings = []
    for m in re.finditer(r'group "q(\d+)", rule \d+,?\s*(?:"[^"]*":)?\s*(.*)', out.output):
        rel, what = where[int(m.group(1))]
        findings.append(Finding(f"{what}: promtool: {m.group(2).strip()}", rel))
    return findings or [Finding(f"promtool: {out.output}", "grafana/dashboards")]


CHECKS = (
    Check("grafana provisioning", "grafana", provisioning, inputs=("grafana/**",)),
    Check("grafana queries (promtool)", "grafana", panel_queries, ("promtool",),
          inputs=("grafana/**",)),
)
