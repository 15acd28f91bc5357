"""Prometheus (through the load balancer's /prometheus/): every scrape target of the
topology is up, the alert rules are loaded, Alertmanager is connected, every alert
expression and Grafana dashboard query is accepted, and the dashboards show data."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from stack_support import docker

from infra_gen.model import duration_seconds

# A rate over [5m] needs two scrapes: give the first ones time after `up`.
SCRAPE_WAIT = 90


@pytest.fixture(scope="module")
def prom(site, topo):
    base = topo.urls["prometheus"].split(topo.env.domain, 1)[1].split("/", 1)[1]
    prefix = "/" + base.rstrip("/")

    def api(path: str, **params: str) -> dict:
        r = site.get(f"{prefix}/api/v1/{path}", params=params or None)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:300]}"
        body = r.json()
        assert body["status"] == "success", body
        return body["data"]

    return api


def _expected_targets(topo, replica_ids) -> dict[str, list[set[str]]]:
    """job -> one set of acceptable instance labels per target: a static target is
    labelled with its service; a replica found through DNS "<service>@<address>:<port>"
    with any of its addresses (Docker's DNS answers on one of the shared networks)."""
    want: dict[str, list[set[str]]] = {}
    for job in topo.scrape_jobs:
        if not job.discovered:
            want[job.job] = [{job.service}]
            continue
        want[job.job] = []
        for cid in replica_ids(job.service):
            ips = docker("inspect", "-f",
                         "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", cid).split()
            want[job.job].append({f"{job.service}@{ip}:{job.port}" for ip in ips})
    return want


def _unmatched(want: dict[str, list[set[str]]], got: dict[tuple[str, str], dict]) -> list[str]:
    problems = []
    for job, targets in want.items():
        have = {inst for j, inst in got if j == job}
        if len(have) != len(targets):
            problems.append(f"{job}: {sorted(have)}, want {len(targets)} targets")
        problems += [f"{job}: none of {sorted(t)}" for t in targets if not t & have]
    extra = sorted({j for j, _ in got} - set(want))
    return problems + [f"undeclared job {j}" for j in extra]


def test_every_declared_target_is_up(prom, topo, replica_ids):
    want = _expected_targets(topo, replica_ids)
    deadline = time.monotonic() + SCRAPE_WAIT
    while True:
        active = prom("targets", state="active")["activeTargets"]
        got = {(t["labels"]["job"], t["labels"]["instance"]): t for t in active}
        problems = _unmatched(want, got)
        down = {k: v.get("lastError") for k, v in got.items() if v["health"] != "up"}
        if not problems and not down:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"targets: {problems}; not up: {down}")
        time.sleep(3)


def _rule_files(stack) -> list[Path]:
    return sorted((stack.env_dir / "prometheus" / "rules").glob("*.y*ml"))


def _alert_rules(stack) -> dict[str, str]:
    rules = {}
    for path in _rule_files(stack):
        for group in yaml.safe_load(path.read_text()).get("groups", []):
            for rule in group.get("rules", []):
                if "alert" in rule:
                    rules[rule["alert"]] = rule["expr"]
    return rules


def test_alert_rules_loaded(prom, stack):
    want = _alert_rules(stack)
    assert want, f"no alert rules in {stack.env_dir}/prometheus/rules"
    groups = prom("rules", type="alert")["groups"]
    loaded = {r["name"] for g in groups for r in g["rules"]}
    assert set(want) <= loaded, sorted(set(want) - loaded)
    unhealthy = [r["name"] for g in groups for r in g["rules"] if r.get("health") == "err"]
    assert not unhealthy, unhealthy


def test_alertmanager_connected(prom, topo):
    active = prom("alertmanagers")["activeAlertmanagers"]
    assert active, "no active Alertmanager"
    am = topo.of_kind("alertmanager")
    assert any(f"{c.name}:{c.port}" in a["url"] for a in active for c in am), active


def test_alert_expressions_accepted(prom, stack):
    for name, expr in _alert_rules(stack).items():
        prom("query", query=expr)  # status success, or the assertion names it
        del name


def _dashboard_queries(stack) -> list[tuple[str, str, str]]:
    dirs = [stack.env_dir / "grafana" / "dashboards"]
    # Grafana is off in some environments (dev): its dashboards are the same files.
    dirs += sorted(stack.project.generated_dir.glob("*/grafana/dashboards"))
    for d in dirs:
        files = sorted(d.glob("*.json"))
        if files:
            break
    else:
        return []
    queries = []
    for path in files:
        doc = json.loads(path.read_text())
        panels = list(doc.get("panels", []))
        while panels:
            panel = panels.pop()
            panels += panel.get("panels", [])
            for target in panel.get("targets", []):
                if target.get("expr"):
                    queries.append((path.name, panel.get("title", "?"), target["expr"]))
    return queries


def _prometheus_age(inspect, topo) -> float:
    started = inspect(topo.of_kind("prometheus")[0].name)["State"]["StartedAt"]
    when = datetime.fromisoformat(started[:26].rstrip("Z") + "+00:00")
    return (datetime.now(UTC) - when).total_seconds()


# Drift figures need a window of recent inputs (the ML service computes none below
# churn.ml.drift.MIN_DRIFT_ROWS, 500 rows, per gunicorn worker): score one batch of
# realistic customers from inside a worker, as the workers do, so the ML dashboard
# has data to show (one request: one gunicorn worker holds the whole batch).
_PRIME_DRIFT = """
import os, requests
rows = [{"tenure_months": 1 + i % 60, "monthly_charges": 20.0 + i % 80,
         "total_charges": (1 + i % 60) * (20.0 + i % 80),
         "contract_type": ("month-to-month", "one-year", "two-year")[i % 3],
         "support_calls": i % 7} for i in range(600)]
r = requests.post(os.environ["ML_URL"] + "/predict", json={"customers": rows}, timeout=30)
r.raise_for_status()
"""


NEEDS_A_SERVICE_OFF_HERE: dict[tuple[str, str], str] = {}
"""(dashboard file, panel title) -> why it has no data on this stack. Empty: every
panel's exporter or service runs in dev (no panel reads Grafana or fluentd)."""


def grafana_values(expr: str, topo) -> str:
    """The query as Grafana sends it with the dashboard's defaults: this environment,
    every instance, and $__rate_interval as Grafana computes it at a short range (four
    scrape intervals)."""
    interval = duration_seconds(topo.env.monitoring.scrape_interval)
    return (expr.replace("$__rate_interval", f"{int(4 * interval)}s")
            .replace("$environment", topo.env.name).replace("$instance", ".+"))


def test_dashboard_variables_have_values(prom, stack, topo):
    files = sorted((stack.env_dir / "grafana" / "dashboards").glob("*.json"))
    assert files
    for path in files:
        variables = json.loads(path.read_text())["templating"]["list"]
        assert [v["name"] for v in variables] == ["environment", "instance"]
        for v in variables:
            # label_values(SELECTOR, LABEL): the values Grafana offers.
            selector, label = v["query"]["query"].removeprefix("label_values(")[:-1].rsplit(
                ", ", 1)
            series = prom("series", **{"match[]": grafana_values(selector, topo)})
            values = {s[label] for s in series if label in s}
            assert values, f"{path.name}: ${v['name']} has no value"
            if v["name"] == "environment":
                assert values == {topo.env.name}


def test_dashboard_queries_accepted_and_return_data(prom, stack, inspect, topo, exec_in):
    queries = [(f, title, grafana_values(expr, topo))
               for f, title, expr in _dashboard_queries(stack)
               if (f, title) not in NEEDS_A_SERVICE_OFF_HERE]
    if not queries:
        pytest.skip("no Grafana dashboards rendered")
    worker = topo.of_kind("worker")[0].name
    primed = exec_in(worker, "python3", "-c", _PRIME_DRIFT)
    assert primed.returncode == 0, primed.stderr
    for _, _, expr in queries:
        assert "$" not in expr, f"template variable left in {expr}"
    # A rate needs two samples of a series: wait while Prometheus is young, and
    # for series born from the end-to-end checks (first task, first prediction).
    interval = duration_seconds(topo.env.monitoring.scrape_interval)
    # At least a minute: the primed drift figure reaches a gauge at the ML service's
    # next refresh and Prometheus at its next scrape, later on a loaded host.
    deadline = time.monotonic() + max(2.5 * interval + 5, 60,
                                      SCRAPE_WAIT - _prometheus_age(inspect, topo))
    pending = queries
    while True:
        pending = [q for q in pending if not prom("query", query=q[2])["result"]]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(10)
    empty = [f"{file} / {title}: {expr}" for file, title, expr in pending]
    assert not empty, "dashboard queries without data:\n" + "\n".join(empty)
