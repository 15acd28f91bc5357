"""The load balancer's log exporter: nginx sends one access line a request to mtail's
unix datagram socket on a shared volume; mtail counts responses by route and status.
Facts of the topology, nginx.conf, the mtail program, the dashboards and alerts."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_nginx import block

from infra_gen.contract import LB_ACCESS_FIELDS, LB_ACCESS_TAG, LB_REQUESTS
from infra_gen.model import TlsMode
from infra_gen.model.reserved import INFRA_CONTAINERS, RESERVED_SERVICE_NAMES
from infra_gen.project import Project
from infra_gen.render import render_environment
from infra_gen.topology import LB_LOG_SOCKET, plan
from infra_gen.topology.facts import LB_LOG_DIR, LB_LOG_VOLUME
from infra_gen.validate.mtail import SYSLOG_HEADER

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Project(ROOT)
ENVS = ("dev", "dev-ha", "staging", "prod", "swarm")


@functools.cache
def files(env: str) -> dict[str, str]:
    return {k: f.content.decode() for k, f in render_environment(PROJECT, env).items()}


@pytest.mark.parametrize("env", ENVS)
def test_exporter_shares_a_volume_with_the_lb_and_is_hardened(env: str) -> None:
    topo = plan(PROJECT.load(env))
    (exporter,) = topo.of_kind("lb-log-exporter")
    lb = topo.container("lb")
    assert exporter.name == "lb-log-exporter" and exporter.port == 3903
    shared = {(m.source, m.target, m.read_only) for m in exporter.mounts if m.named}
    assert shared == {(LB_LOG_VOLUME, LB_LOG_DIR, False)}
    # nginx only connects to the socket: a read-only mount is enough.
    assert (LB_LOG_VOLUME, LB_LOG_DIR, True) in {(m.source, m.target, m.read_only)
                                                  for m in lb.mounts if m.named}
    assert exporter.user != "0:0" and exporter.root_reason is None
    assert exporter.writable_root is None and not exporter.cap_add
    # Never a dependency either way: nginx starts and serves without it.
    assert not exporter.depends_on
    assert "lb-log-exporter" not in {d for d, _ in lb.depends_on}
    assert ("LOG_SOCKET", LB_LOG_SOCKET) in exporter.environment
    assert "lb-log" in {j.job for j in topo.scrape_jobs}
    assert "lb-log-exporter" in INFRA_CONTAINERS and "lb-log" in RESERVED_SERVICE_NAMES


def test_on_swarm_one_exporter_beside_each_lb() -> None:
    stack = yaml.safe_load(files("prod")["stack.yaml"])["services"]
    lb, exporter = stack["lb"]["deploy"], stack["lb-log-exporter"]["deploy"]
    assert exporter["placement"] == lb["placement"]
    assert exporter["replicas"] == lb["replicas"]


def _format(conf: str) -> str:
    match = re.search(r"^\s*log_format lb_metrics '([^']*)';", conf, re.M)
    assert match, "no lb_metrics log_format"
    return match.group(1)


@pytest.mark.parametrize("env", ENVS)
def test_nginx_sends_the_contract_fields_to_the_socket(env: str) -> None:
    conf = files(env)["nginx/nginx.conf"]
    fields = " ".join(f"{k}={v}" for k, v in LB_ACCESS_FIELDS)
    assert _format(conf) == fields + "\\n"
    assert (f"access_log syslog:server=unix:{LB_LOG_SOCKET},nohostname,tag={LB_ACCESS_TAG} "
            "lb_metrics;") in conf
    # The json line to stdout stays (docker logs, fluentd).
    assert "access_log /dev/stdout json;" in conf


@pytest.mark.parametrize("env", ENVS)
def test_every_logged_location_names_its_route(env: str) -> None:
    conf = files(env)["nginx/nginx.conf"]
    topo = plan(PROJECT.load(env))
    routes = set()
    # Each server block; the status listener's logs nothing (access_log off).
    for server in conf.split("\n    server {")[1:]:
        if re.search(r"^        access_log off;", server, re.M):
            continue
        locations = re.findall(r"^        location ([^{]+) \{", server, re.M)
        assert locations
        for loc in locations:
            body = block(server, f"location {loc}")
            if "access_log off;" in body:
                continue
            found = re.findall(r"set \$lb_route (\S+);", body)
            assert len(found) == 1, f"{env}: location {loc} sets no route"
            routes |= set(found)
    assert {p.name for p in topo.upstreams} <= routes
    assert {"health", "admin_prometheus", "admin_alertmanager"} <= routes
    assert ("redirect" in routes) is (topo.env.tls.mode is not TlsMode.none)


def _program_pattern(program: str) -> re.Pattern[str]:
    match = re.search(r"^/ (.*)/ \{$", program, re.M)
    assert match, "no pattern in the program"
    return re.compile(match.group(1))


@pytest.mark.parametrize("env", ENVS)
def test_mtail_pattern_reads_what_nginx_writes(env: str) -> None:
    program = files(env)["mtail/lb_access.mtail"]
    assert f"counter {LB_REQUESTS} by route, status, class, source" in program
    pattern = _program_pattern(program)
    groups = [g for g in pattern.groupindex if g != "class"]
    assert groups == [k for k, _ in LB_ACCESS_FIELDS]
    fmt = _format(files(env)["nginx/nginx.conf"]).removesuffix("\\n")
    for status, upstream in (("429", "-"), ("502", "502, 504"), ("200", "200")):
        line = (fmt.replace("$status", status).replace("$lb_route", "api")
                .replace("$request_time", "0.004").replace("$upstream_status", upstream))
        match = pattern.search(SYSLOG_HEADER + line)
        assert match, line
        assert match["status"] == status and match["class"] == status[0]
        assert match["route"] == "api" and match["upstream"] == upstream


def _panels(env: str) -> dict[str, Any]:
    doc = json.loads(files(env)["grafana/dashboards/system.json"])
    out = {}
    for p in doc["panels"]:
        for q in (p, *p.get("panels", [])):
            out[q["title"]] = q
    return out


@pytest.mark.parametrize("env", ("dev", "prod"))
def test_status_panels(env: str) -> None:
    panels = _panels(env)
    for title in ("Responses by status class", "429 rate-limited", "5xx"):
        (target,) = panels[title]["targets"]
        expr = target["expr"]
        assert LB_REQUESTS in expr and "[$__rate_interval]" in expr, expr
        assert 'job=~"lb-log"' in expr and 'environment="$environment"' in expr
    assert 'status="429"' in panels["429 rate-limited"]["targets"][0]["expr"]
    assert 'class="5xx"' in panels["5xx"]["targets"][0]["expr"]
    # Zero only where the load balancer reported requests at all, never vector(0).
    assert "vector(0)" not in panels["5xx"]["targets"][0]["expr"]


@pytest.mark.parametrize("env", ("dev", "prod"))
def test_error_rate_alert_and_its_tests(env: str) -> None:
    rules = yaml.safe_load(files(env)["prometheus/rules/alerts.yml"])
    (rule,) = [r for g in rules["groups"] for r in g["rules"]
               if r["alert"] == "LoadBalancerErrorRate"]
    assert LB_REQUESTS in rule["expr"] and 'class="5xx"' in rule["expr"]
    tests = yaml.safe_load(files(env)["prometheus/tests/alerts_test.yml"])["tests"]
    cases = [c for t in tests for c in t["alert_rule_test"]
             if c["alertname"] == "LoadBalancerErrorRate"]
    assert {bool(c["exp_alerts"]) for c in cases} == {True, False}


def test_the_log_socket_holds_a_burst() -> None:
    """The exporter's socket queues more than the kernel's 10 datagrams, in compose
    and swarm: past the queue nginx's send fails and a 429 goes uncounted."""
    for name in ("dev", "swarm"):
        files = render_environment(PROJECT, name)
        doc = yaml.safe_load(files["stack.yaml" if name == "swarm" else "compose.yaml"].content)
        exporter = doc["services"]["lb-log-exporter"]
        assert int(exporter["sysctls"]["net.unix.max_dgram_qlen"]) >= 1024
        # mtail reads one datagram a poll: at its default 250ms, 4 lines a second.
        poll = exporter["environment"]["MTAIL_POLL_INTERVAL"]
        assert poll.endswith("ms") and int(poll[:-2]) <= 2, poll
