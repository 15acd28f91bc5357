"""Cross-artifact checks, in Python, on the rendered files and the topology.

Each reads what the consuming program would read (compose.yaml, nginx.conf,
prometheus.yml, alertmanager.yml, env.example, ufw.sh), so a file edited or
broken after rendering is caught too. Per-service hardening is in hardening.py.
"""

from __future__ import annotations

import re
from collections import defaultdict

from ..model import duration_seconds
from . import parse
from .base import Check, Context, Finding, NotApplicable
from .locate import yaml_line
from .parse import COMPOSE, STACK, finding


def _lb(ctx: Context) -> tuple[str, dict[str, object]]:
    svcs = parse.services(ctx)
    lbs = [c.name for c in ctx.topo.of_kind("lb")]
    name = lbs[0] if lbs else "lb"
    return name, svcs.get(name, {})


def _by_alias(ctx: Context) -> dict[str, list[str]]:
    """Every name a compose service answers to -> the services answering to it."""
    out: dict[str, list[str]] = defaultdict(list)
    for name, svc in parse.services(ctx).items():
        for alias in parse.aliases_of(name, svc):
            out[alias].append(name)
    return out


def upstreams_are_services(ctx: Context) -> list[Finding]:
    """Every nginx upstream server is a compose service on a network the lb shares, on a
    port it serves, and every pool names the service the topology plans."""
    ctx.need(COMPOSE, parse.NGINX)
    svcs = parse.services(ctx)
    lb_name, lb = _lb(ctx)
    lb_nets = parse.networks_of(lb)
    servers: dict[str, set[str]] = defaultdict(set)
    out = []
    for s in parse.nginx_upstreams(ctx):
        servers[s.pool].add(s.host)
        if s.host not in svcs:
            out.append(finding(ctx, f"nginx upstream {s.pool}: server {s.host}:{s.port} is not a "
                                    f"compose service (services: {', '.join(sorted(svcs))})",
                               parse.NGINX, s.line))
            continue
        shared = lb_nets & parse.networks_of(svcs[s.host])
        if not shared:
            out.append(finding(ctx, f"nginx upstream {s.pool}: {s.host} shares no network with "
                                    f"{lb_name} (set services.{s.host}.networks to include one "
                                    f"of {sorted(lb_nets)})", COMPOSE,
                               parse.service_line(ctx, s.host, "networks")))
        exposed = _exposed_ports(svcs[s.host])
        if s.port not in exposed:
            out.append(finding(ctx, f"nginx upstream {s.pool}: {s.host}:{s.port}, but service "
                                    f"{s.host} serves {sorted(exposed) or 'no port'}",
                               parse.NGINX, s.line))
    for pool in ctx.topo.upstreams:
        want = {pool.service} if pool.replicas else set()
        have = servers.get(pool.name, set())
        if have != want:
            out.append(finding(ctx, f"nginx upstream {pool.name} has {sorted(have) or 'nothing'}; "
                                    f"the topology plans {sorted(want) or 'nothing'} "
                                    f"(services.{pool.service})", parse.NGINX))
    return out


def _exposed_ports(svc: dict[str, object]) -> set[int]:
    """The ports compose.yaml says the service serves: `expose`, published container
    ports, and the PORT/METRICS_PORT the bundled images listen on. Never the scrape
    or upstream ports themselves, or the comparison could not fail."""
    ports: set[int] = {p.target for p in parse.published(svc)}
    for e in svc.get("expose") or []:  # type: ignore[attr-defined]
        ports.add(int(str(e).split("/")[0]))
    env = svc.get("environment") or {}
    if isinstance(env, dict):
        for key in ("PORT", "METRICS_PORT"):
            if str(env.get(key, "")).isdigit():
                ports.add(int(env[key]))
    return ports


def scrape_targets_are_services(ctx: Context) -> list[Finding]:
    """Every scrape target is a compose service, on a network Prometheus shares, with that port."""
    ctx.need(COMPOSE, parse.PROMETHEUS)
    svcs = parse.services(ctx)
    prom = parse.networks_of(svcs.get("prometheus", {}))
    by_alias = _by_alias(ctx)
    out = []
    for t in parse.scrape_targets(ctx):
        host = "prometheus" if t.host in ("localhost", "127.0.0.1") else t.host
        targets = by_alias.get(host, [])
        if not targets:
            out.append(finding(ctx, f"scrape job {t.job}: target {t.host}:{t.port} is not a "
                                    "compose service", parse.PROMETHEUS, t.line))
            continue
        for name in targets:
            if not prom & parse.networks_of(svcs[name]):
                out.append(finding(ctx, f"scrape job {t.job}: {name} shares no network with "
                                        "prometheus", COMPOSE, parse.service_line(ctx, name)))
            exposed = _exposed_ports(svcs[name])
            if t.port not in exposed:
                out.append(finding(ctx, f"scrape job {t.job}: {t.host}:{t.port}, but service "
                                        f"{name} exposes {sorted(exposed) or 'no port'}",
                                   parse.PROMETHEUS, t.line))
    return out


def routes_have_receivers(ctx: Context) -> list[Finding]:
    ctx.need(parse.ALERTMANAGER)
    names = parse.receivers(ctx)
    out = []
    text = ctx.text(parse.ALERTMANAGER)
    for path, receiver in parse.alertmanager_routes(ctx):
        if receiver not in names:
            line = next((i for i, ln in enumerate(text.splitlines(), 1)
                         if "receiver:" in ln and receiver in ln), None)
            out.append(finding(ctx, f"alertmanager {path}.receiver {receiver!r} is not a receiver "
                                    f"(receivers: {', '.join(sorted(names))}; alerting.receivers "
                                    "in the environment)", parse.ALERTMANAGER, line))
    return out


def host_ports_unique(ctx: Context) -> list[Finding]:
    ctx.need(COMPOSE)
    seen: dict[int, str] = {}
    out = []
    for name, svc in parse.services(ctx).items():
        for p in parse.published(svc):
            if p.published in seen and seen[p.published] != name:
                out.append(finding(ctx, f"services.{name}.ports: host port {p.published} is "
                                        f"already published by {seen[p.published]}", COMPOSE,
                                   parse.service_line(ctx, name, "ports")))
            seen.setdefault(p.published, name)
    return out


_PRIVATE_KINDS = ("postgres", "postgres-replica", "redis", "redis-replica", "redis-sentinel")


def _kind(ctx: Context, name: str) -> str:
    try:
        return ctx.topo.container(name).kind
    except KeyError:
        return name


def datastores_unpublished(ctx: Context) -> list[Finding]:
    """PostgreSQL, Redis and the exporters publish no host port."""
    ctx.need(COMPOSE)
    out = []
    for name, svc in parse.services(ctx).items():
        kind = _kind(ctx, name)
        if (kind in _PRIVATE_KINDS or kind.endswith("exporter")) and svc.get("ports"):
            out.append(finding(ctx, f"services.{name}.ports: {kind} must publish no host port "
                                    "(remove ports:; reach it over the backend network)",
                               COMPOSE, parse.service_line(ctx, name, "ports")))
    return out


def ufw_matches_lb(ctx: Context) -> list[Finding]:
    """UFW's public ports are exactly the ports the load balancer publishes."""
    ctx.need(COMPOSE, parse.UFW)
    lb_name, lb = _lb(ctx)
    lb_ports = {p.published for p in parse.published(lb)}
    lb_targets = {p.target for p in parse.published(lb)}
    every = parse.ufw_rules(ctx)
    rules = [r for r in every if not r.route]
    public = {r.port for r in rules if r.source is None}
    out = []
    if public != lb_ports:
        out.append(finding(ctx, f"ufw.sh opens {sorted(public)} to anyone; the load balancer "
                                f"({lb_name}) publishes {sorted(lb_ports)} (firewall.public_ports "
                                "must equal load_balancer.http_port/https_port)", parse.UFW))
    routed = {r.port for r in every if r.route and r.source is None}
    if routed != lb_targets:
        out.append(finding(ctx, f"ufw.sh routes container ports {sorted(routed)} from anyone; the "
                                f"load balancer's published container ports are "
                                f"{sorted(lb_targets)} (ufw route allow, DOCKER-USER)", parse.UFW))
    private = {r.port for r in rules if r.source is not None}
    for rule in ctx.topo.firewall_rules:
        if rule.source is not None and rule.port not in private:
            out.append(finding(ctx, f"ufw.sh has no rule for port {rule.port} from {rule.source} "
                                    f"({rule.comment})", parse.UFW))
    cidr = str(ctx.topo.env.firewall.private_cidr)
    for r in every:
        if r.source is not None and r.source != cidr:
            out.append(finding(ctx, f"ufw.sh allows port {r.port} from {r.source}, not the "
                                    f"private network {cidr}", parse.UFW, r.line))
    return out


def compose_self_contained(ctx: Context) -> list[Finding]:
    """compose.yaml and stack.yaml hold every service they run: no top-level include:, no
    extends:. What they would pull in from other files is checked by nothing here (the
    hardening checks read `docker compose config` where Docker is, the file where not)."""
    ctx.need(COMPOSE)
    out = []
    for rel in (COMPOSE, STACK):
        if not ctx.exists(rel):
            continue
        doc = ctx.yaml(rel)
        if not isinstance(doc, dict):
            continue
        text = ctx.text(rel)
        if "include" in doc:
            out.append(finding(ctx, f"include: brings services from other files into {rel}; the "
                                    "model has no way to ask for include:, so infra-gen never "
                                    "writes one (remove it, re-render)", rel,
                               yaml_line(text, ["include"])))
        for name, svc in (doc.get("services") or {}).items():
            if isinstance(svc, dict) and "extends" in svc:
                out.append(finding(ctx, f"services.{name}.extends: takes settings from another "
                                        "service or file; the model has no way to ask for "
                                        "extends:, so infra-gen never writes one (remove it, "
                                        "re-render)", rel, yaml_line(text, ["services", name,
                                                                            "extends"])))
    return out


def secrets_declared(ctx: Context) -> list[Finding]:
    ctx.need(parse.ENV_EXAMPLE)
    declared = parse.declared_secrets(ctx)
    return [finding(ctx, f"secret {name} is referenced here but not declared in env.example",
                    rel, line)
            for name, (rel, line) in sorted(parse.referenced_secrets(ctx).items())
            if name not in declared]


def grace_exceeds_gunicorn(ctx: Context) -> list[Finding]:
    """stop_grace_period is longer than gunicorn's graceful timeout."""
    ctx.need(COMPOSE)
    out = []
    for name, svc in parse.services(ctx).items():
        env = svc.get("environment") or {}
        timeout = env.get("GUNICORN_GRACEFUL_TIMEOUT") if isinstance(env, dict) else None
        if timeout is None:
            continue
        grace = str(svc.get("stop_grace_period", "10s"))
        try:
            grace_s = _seconds(grace)
        except ValueError:
            grace_s = 0.0
        if grace_s <= float(timeout):
            out.append(finding(ctx, f"services.{name}.stop_grace_period {grace} is not longer than "
                                    f"gunicorn's graceful timeout {timeout}s (the container is "
                                    "killed mid-request; raise it or lower graceful_timeout)",
                               COMPOSE, parse.service_line(ctx, name, "stop_grace_period")))
    return out


def _seconds(value: str) -> float:
    total = 0.0
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", value)
    if not parts:
        raise ValueError(value)
    for number, unit in parts:
        total += duration_seconds(f"{int(float(number))}{unit}")
    return total


FLUENTD_CONF = "fluentd/fluent.conf"
_ES_OUTPUT = re.compile(r"<match [^>]*>\s*@type elasticsearch\b(?P<body>.*?)</match>", re.S)


def _es_sinks(text: str) -> list[tuple[str, int, int]]:
    """(host, port, line) of every Elasticsearch output of a fluent.conf."""
    out = []
    for m in _ES_OUTPUT.finditer(text):
        host = re.search(r"^\s*host\s+(\S+)", m.group("body"), re.M)
        port = re.search(r"^\s*port\s+(\d+)", m.group("body"), re.M)
        line = text.count("\n", 0, m.start()) + 1
        out.append((host.group(1) if host else "localhost", int(port.group(1)) if port else 9200,
                    line))
    return out


def log_sink_reachable(ctx: Context) -> list[Finding]:
    """fluentd's Elasticsearch is reachable from fluentd's networks: a compose service on
    a network they share, or the external endpoint the model declares, on that external
    network, which fluentd joins. backend-net is internal: nothing else leaves it."""
    if not ctx.exists(FLUENTD_CONF):
        raise NotApplicable("fluentd is off in this environment (logging.fluentd.enabled)")
    ctx.need(COMPOSE)
    declared = ctx.topo.env.logging.fluentd.elasticsearch
    out = []
    for rel in (COMPOSE, STACK):
        if not ctx.exists(rel):
            continue
        svcs = parse.services(ctx, rel)
        networks = (ctx.yaml(rel) or {}).get("networks") or {}
        shipper = svcs.get("fluentd")
        if shipper is None:
            out.append(finding(ctx, f"{FLUENTD_CONF} is rendered but {rel} runs no fluentd", rel))
            continue
        mine = parse.networks_of(shipper)
        by_alias = {a: n for n, svc in svcs.items() for a in parse.aliases_of(n, svc)}
        for host, port, line in _es_sinks(ctx.text(FLUENTD_CONF)):
            where = f"fluentd ships to {host}:{port}"
            if host in by_alias:
                theirs = parse.networks_of(svcs[by_alias[host]])
                if not mine & theirs:
                    out.append(finding(ctx, f"{where}, a service on {sorted(theirs)}, but fluentd "
                                            f"is only on {sorted(mine)} ({rel})", rel,
                                       parse.service_line(ctx, "fluentd", "networks", rel)))
                continue
            if host != declared.host or declared.network is None:
                out.append(finding(ctx, f"{where}: not a service of {rel} nor the external "
                                        "endpoint the model declares (logging.fluentd."
                                        f"elasticsearch: {declared.host} on "
                                        f"{declared.network or 'no network'})",
                                   FLUENTD_CONF, line))
                continue
            net = declared.network
            if net not in mine:
                out.append(finding(ctx, f"{where} on the network {net}, which fluentd does not "
                                        f"join in {rel} (its networks: {sorted(mine)})", rel,
                                   parse.service_line(ctx, "fluentd", "networks", rel)))
            if not (networks.get(net) or {}).get("external"):
                out.append(finding(ctx, f"{where} on the network {net}, which {rel} does not "
                                        "declare `external: true` (the sink's network exists "
                                        "outside the stack)", rel))
    return out


CHECKS = (
    Check("upstreams are services", "nginx", upstreams_are_services,
          inputs=(*parse.COMPOSE_INPUTS, "nginx/**"), versions=parse.COMPOSE_VERSIONS),
    Check("scrape targets are services", "prometheus", scrape_targets_are_services,
          inputs=(*parse.COMPOSE_INPUTS, "prometheus/**"), versions=parse.COMPOSE_VERSIONS),
    Check("routes name receivers", "alertmanager", routes_have_receivers, inputs=("alertmanager/**",)),
    Check("compose self-contained", "compose", compose_self_contained,
          inputs=parse.COMPOSE_INPUTS, versions=parse.COMPOSE_VERSIONS),
    Check("host ports unique", "compose", host_ports_unique,
          inputs=parse.COMPOSE_INPUTS, versions=parse.COMPOSE_VERSIONS),
    Check("datastores unpublished", "compose", datastores_unpublished,
          inputs=parse.COMPOSE_INPUTS, versions=parse.COMPOSE_VERSIONS),
    Check("ufw ports = lb ports", "firewall", ufw_matches_lb,
          inputs=(*parse.COMPOSE_INPUTS, "firewall/**"), versions=parse.COMPOSE_VERSIONS),
    Check("secrets in env.example", "docs", secrets_declared, versions=parse.COMPOSE_VERSIONS),
    Check("stop_grace_period > graceful", "compose", grace_exceeds_gunicorn,
          inputs=parse.COMPOSE_INPUTS, versions=parse.COMPOSE_VERSIONS),
    Check("log sink reachable", "fluentd", log_sink_reachable,
          inputs=(*parse.COMPOSE_INPUTS, FLUENTD_CONF), versions=parse.COMPOSE_VERSIONS),
)
