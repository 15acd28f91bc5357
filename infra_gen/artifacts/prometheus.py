"""prometheus artifact: prometheus.yml (and prometheus.swarm.yml on swarm), the alert
rules and their promtool unit tests.

What is scraped and how it is found is in scrape.py, the alert table in alerts.py,
metric names in infra_gen/contract.py; this module only assembles the files.
"""

from __future__ import annotations

from typing import Any

from ..contract import PROMETHEUS_CONFIG, PROMETHEUS_SWARM_CONFIG
from ..overrides import apply
from ..topology import Topology
from .alerts import alerts, rule_groups, rule_tests
from .base import ArtifactKind, Output
from .scrape import alertmanager_target, rule_files_glob, scrape_configs

CONFIG_PATH = PROMETHEUS_CONFIG
SWARM_CONFIG_PATH = PROMETHEUS_SWARM_CONFIG
RULES_PATH = "prometheus/rules/alerts.yml"
TESTS_PATH = "prometheus/tests/alerts_test.yml"


def config(topo: Topology, swarm: bool = False) -> dict[str, Any]:
    """prometheus.yml as data (dumped, never templated as text)."""
    mon = topo.env.monitoring
    am_target, am_prefix = alertmanager_target(topo)
    return {
        "global": {
            "scrape_interval": mon.scrape_interval,
            "evaluation_interval": mon.evaluation_interval,
            "external_labels": {"environment": topo.env.name},
        },
        "rule_files": [rule_files_glob(topo)],
        "alerting": {"alertmanagers": [{
            "path_prefix": am_prefix or "/",
            "static_configs": [{"targets": [am_target]}],
        }]},
        "scrape_configs": scrape_configs(topo, swarm),
    }


def outputs(topo: Topology) -> list[Output]:
    exporters = {c.kind: c.port for c in topo.of_kind("postgres-exporter", "redis-exporter")}

    def file(swarm: bool) -> dict[str, object]:
        return {
            "config": apply(topo.env, ("prometheus",), config(topo, swarm)),
            "alertmanager_prefix": alertmanager_target(topo)[1] or "/",
            "exporter_ports": exporters,
            "swarm": swarm,
        }

    table = alerts(topo)
    files = [Output(CONFIG_PATH, "prometheus/prometheus.yml.j2", file(False))]
    if topo.env.deploy.swarm:
        files.append(Output(SWARM_CONFIG_PATH, "prometheus/prometheus.yml.j2", file(True)))
    return [
        *files,
        Output(RULES_PATH, "prometheus/rules/alerts.yml.j2", {"rules": rule_groups(table)}),
        Output(TESTS_PATH, "prometheus/tests/alerts_test.yml.j2",
               {"tests": rule_tests(table, RULES_PATH, TESTS_PATH)}),
    ]


ARTIFACT = ArtifactKind(
    "prometheus",
    "prometheus.yml, alert rules from the thresholds, and their promtool unit tests",
    outputs,
)
