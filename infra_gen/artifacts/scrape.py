"""What Prometheus scrapes and how it finds it, read from the topology.

App services are found through Docker's DNS: the service name resolves to every
replica on one host (compose), `tasks.<service>` to every task on swarm (whatever
the endpoint mode), so a `--scale` or `docker service scale` is scraped with no
re-render. Each discovered target is labelled instance="<service>@<address>".
"""

from __future__ import annotations

import posixpath
from typing import Any

from ..contract import ENV_LABEL
from ..topology import ScrapeJob, Topology

DNS_REFRESH = "10s"
"""How often Prometheus re-resolves a service name: a new replica is scraped
within this plus one scrape interval."""
SAMPLE_ADDRESS = "10.0.0.2"
"""A replica's address in the rule unit tests (real ones are Docker's)."""


def instance_of(job: ScrapeJob) -> str:
    """The instance label of the job's (first) target: the service for a static
    target, "<service>@<address>:<port>" for a replica found through DNS."""
    if job.discovered:
        return f"{job.service}@{SAMPLE_ADDRESS}:{job.port}"
    return job.service


def alertmanager_target(topo: Topology) -> tuple[str, str]:
    am = topo.of_kind("alertmanager")[0]
    return f"{am.name}:{am.port}", am.route_prefix


def rule_files_glob(topo: Topology) -> str:
    """rule_files entry relative to prometheus.yml: right in the container (where
    Prometheus resolves it against /etc/prometheus) and for `promtool check config`
    run on generated/<env>/prometheus/prometheus.yml (rules/ is its sibling)."""
    prom = topo.of_kind("prometheus")[0]
    config = next(m.target for m in prom.mounts if m.source.endswith("/prometheus.yml"))
    rules = next(m.target for m in prom.mounts if m.source.startswith("./prometheus/rules/"))
    rules_dir = posixpath.relpath(posixpath.dirname(rules), posixpath.dirname(config))
    return posixpath.join(rules_dir, "*.yml")


def scrape_configs(topo: Topology, swarm: bool) -> list[dict[str, Any]]:
    out = []
    env_label = {"target_label": ENV_LABEL, "replacement": topo.env.name}
    for job in topo.scrape_jobs:
        config: dict[str, Any] = {"job_name": job.job, "metrics_path": job.metrics_path}
        if job.discovered:
            config["dns_sd_configs"] = [{
                "names": [f"tasks.{job.service}" if swarm else job.service],
                "type": "A", "port": job.port, "refresh_interval": DNS_REFRESH,
            }]
            # An address alone says nothing: name the service too (api@10.0.1.7:8000).
            config["relabel_configs"] = [{
                "source_labels": ["__meta_dns_name", "__address__"],
                "regex": r"(?:tasks\.)?(.+);(.+)",
                "target_label": "instance",
                "replacement": "${1}@${2}",
            }, env_label]
        else:
            config["static_configs"] = [{"targets": [job.target],
                                         "labels": {"instance": job.service,
                                                    ENV_LABEL: topo.env.name}}]
        out.append(config)
    return out

