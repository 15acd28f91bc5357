"""Read the rendered files the semantic checks cross-reference (no tool needed)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from typing import Any

from .. import contract
from .base import Context, Finding

# The checks name the files they read through this module.
COMPOSE = contract.COMPOSE
STACK = contract.STACK
NGINX = contract.NGINX_CONF
PROMETHEUS = contract.PROMETHEUS_CONFIG
ALERTMANAGER = contract.ALERTMANAGER_CONFIG
ENV_EXAMPLE = contract.ENV_EXAMPLE
UFW = contract.UFW
# What a check reading the services reads: the compose files, and what
# `docker compose config` (normalized_compose) would also read; its version.
COMPOSE_INPUTS = (COMPOSE, STACK, ".env")
COMPOSE_VERSIONS = ("docker",)


_NORMALIZE = threading.Lock()


def normalized_compose(ctx: Context) -> dict[str, Any] | None:
    """compose.yaml as `docker compose config --format json` resolves it (include:, extends:,
    merges, anchors and interpolation), i.e. the services compose would really run; None
    where the docker CLI with its compose plugin is missing or the file does not load (the
    `docker compose config` check reports that, and fails under --strict/CI)."""
    key = "compose:normalized"
    with _NORMALIZE:
        if key not in ctx._cache:
            ctx._cache[key] = _cached_compose_config(ctx)
    doc = ctx._cache[key]
    return doc if isinstance(doc, dict) else None


_SEEN: dict[tuple[str, str], dict[str, Any] | None] = {}


def _cached_compose_config(ctx: Context) -> dict[str, Any] | None:
    """One `docker compose config` per directory and file content (the tests check one
    rendered tree many times). Only a file that reads nothing else is cached: no include:,
    extends: or ${...} interpolation, whose result depends on other files or variables."""
    if not ctx.exists(COMPOSE):
        return None
    text = ctx.text(COMPOSE)
    if any(word in text for word in ("include", "extends", "$")):
        return _docker_compose_config(ctx)
    key = (str(ctx.root.resolve()), hashlib.sha256(text.encode()).hexdigest())
    if key not in _SEEN:
        _SEEN[key] = _docker_compose_config(ctx)
    return copy.deepcopy(_SEEN[key])


def _docker_compose_config(ctx: Context) -> dict[str, Any] | None:
    if shutil.which("docker") is None or not ctx.exists(COMPOSE):
        return None
    root = ctx.root.resolve()
    argv = ["docker", "compose", "--project-directory", str(root), "-f", str(root / COMPOSE),
            "config", "--format", "json"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False,
                              cwd=root)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        return None
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


def services(ctx: Context, rel: str = COMPOSE) -> dict[str, dict[str, Any]]:
    """The services of a compose file: for compose.yaml, what `docker compose config` resolves
    (services brought in by include: or extends: included); the file as written where Docker
    is missing (the `compose self-contained` check then refuses include: and extends:, so
    the file holds every service)."""
    doc = normalized_compose(ctx) if rel == COMPOSE else None
    if doc is None:
        doc = ctx.yaml(rel) or {}
    svcs = doc.get("services") or {}
    return {str(k): (v or {}) for k, v in svcs.items()}


def service_line(ctx: Context, name: str, key: str | None = None, rel: str = COMPOSE) -> int | None:
    from .locate import yaml_line

    return yaml_line(ctx.text(rel), ["services", name, *([key] if key else [])])


def networks_of(svc: dict[str, Any]) -> set[str]:
    nets = svc.get("networks") or []
    return set(nets)


def aliases_of(name: str, svc: dict[str, Any]) -> set[str]:
    names = {name}
    if svc.get("hostname"):
        names.add(str(svc["hostname"]))
    nets = svc.get("networks")
    if isinstance(nets, dict):
        for conf in nets.values():
            names |= set((conf or {}).get("aliases") or [])
    return names


@dataclass(frozen=True)
class PortMap:
    host_ip: str
    published: int
    target: int


def published(svc: dict[str, Any]) -> list[PortMap]:
    out = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            if p.get("published") is not None:
                out.append(PortMap(str(p.get("host_ip", "0.0.0.0")), int(p["published"]),
                                   int(p["target"])))
        else:
            parts = str(p).split("/")[0].split(":")
            if len(parts) >= 2:
                ip = parts[0] if len(parts) == 3 else "0.0.0.0"
                out.append(PortMap(ip, int(parts[-2]), int(parts[-1])))
    return out


@dataclass(frozen=True)
class UpstreamServer:
    pool: str
    host: str
    port: int
    line: int


def nginx_upstreams(ctx: Context) -> list[UpstreamServer]:
    """Every `server host:port` inside an `upstream NAME { ... }` block."""
    text = ctx.text(NGINX)
    out: list[UpstreamServer] = []
    pool: str | None = None
    depth = 0
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        m = re.match(r"upstream\s+(\S+)\s*\{", line)
        if m:
            pool, depth = m.group(1), 1
            continue
        if pool is None:
            continue
        s = re.match(r"server\s+([^\s:;]+)(?::(\d+))?", line)
        if s:
            out.append(UpstreamServer(pool, s.group(1), int(s.group(2) or 80), i))
        depth += line.count("{") - line.count("}")
        if depth <= 0:
            pool = None
    return out


@dataclass(frozen=True)
class ScrapeTarget:
    job: str
    host: str
    port: int
    line: int | None


def scrape_targets(ctx: Context) -> list[ScrapeTarget]:
    text = ctx.text(PROMETHEUS)
    doc = ctx.yaml(PROMETHEUS) or {}
    out = []
    lines = text.splitlines()

    def line_of(needle: str) -> int | None:
        return next((i for i, ln in enumerate(lines, 1) if needle in ln), None)

    for job in doc.get("scrape_configs") or []:
        name = str(job.get("job_name"))
        for sc in job.get("static_configs") or []:
            for t in sc.get("targets") or []:
                host, _, port = str(t).rpartition(":")
                out.append(ScrapeTarget(name, host, int(port or 80), line_of(str(t))))
        # Replicas found through Docker's DNS: the name is the service (tasks.<service>
        # on swarm), every address it resolves to is scraped on `port`.
        for sd in job.get("dns_sd_configs") or []:
            for dns in sd.get("names") or []:
                host = str(dns).removeprefix("tasks.")
                out.append(ScrapeTarget(name, host, int(sd.get("port") or 80),
                                        line_of(f"port: {sd.get('port')}") or line_of(str(dns))))
    return out


def alertmanager_routes(ctx: Context) -> list[tuple[str, str]]:
    """(route path, receiver) for the top route and every nested route."""
    doc = ctx.yaml(ALERTMANAGER) or {}
    out: list[tuple[str, str]] = []

    def walk(route: dict[str, Any], path: str) -> None:
        if route.get("receiver") is not None:
            out.append((path, str(route["receiver"])))
        for i, child in enumerate(route.get("routes") or []):
            walk(child or {}, f"{path}.routes[{i}]")

    walk(doc.get("route") or {}, "route")
    return out


def receivers(ctx: Context) -> set[str]:
    doc = ctx.yaml(ALERTMANAGER) or {}
    return {str(r.get("name")) for r in doc.get("receivers") or []}


@dataclass(frozen=True)
class UfwRule:
    port: int
    source: str | None
    line: int
    route: bool


_UFW = re.compile(r"\bufw\s+(?:--\S+\s+)*(?P<route>route\s+)?allow\s+(?P<args>.*)")
_RULE = re.compile(r"^rule\s+(?P<kind>allow|route)\s+(?P<source>\S+)\s+(?P<port>\S+)")


def ufw_rules(ctx: Context) -> list[UfwRule]:
    """The script's rules, port and source (None = anyone): its `rule allow|route SOURCE
    PORT COMMENT` table, and any literal `ufw [route] allow ...` command."""
    out = []
    for i, raw in enumerate(ctx.text(UFW).splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if line.startswith("#"):
            continue
        r = _RULE.match(line)
        if r:
            src, port_word = (r.group(g).strip("'\"") for g in ("source", "port"))
            port_word = port_word.removesuffix("/udp")
            if port_word.isdigit():
                out.append(UfwRule(int(port_word), None if src == "any" else src, i,
                                   r.group("kind") == "route"))
            continue
        m = _UFW.search(line)
        if not m:
            continue
        args = m.group("args").replace('"', "").replace("'", "")
        port = re.search(r"\bport\s+(\d+)", args) or re.match(r"(\d+)(?:/\w+)?\b", args)
        if not port:
            continue
        src = re.search(r"\bfrom\s+(\S+)", args)
        source = None if src is None or src.group(1) == "any" else src.group(1)
        out.append(UfwRule(int(port.group(1)), source, i, bool(m.group("route"))))
    return out


def declared_secrets(ctx: Context) -> set[str]:
    """Names env.example declares (any word, comments included: it documents files)."""
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", ctx.text(ENV_EXAMPLE)))


def referenced_secrets(ctx: Context) -> dict[str, tuple[str, int]]:
    """secret name -> first (file, line) that references it: compose secrets and /run/secrets/X."""
    found: dict[str, tuple[str, int]] = {}
    for rel in ctx.glob("**/*"):
        if rel in (ENV_EXAMPLE, "MANIFEST") or rel.endswith((".md", ".json")):
            continue
        try:
            text = ctx.path(rel).read_text()
        except UnicodeDecodeError:
            continue
        for i, line in enumerate(text.splitlines(), 1):
            for name in re.findall(r"/run/secrets/([A-Za-z0-9_]+)", line):
                found.setdefault(name, (rel, i))
    for rel in (COMPOSE, STACK):
        if ctx.exists(rel):
            for name in (ctx.yaml(rel) or {}).get("secrets") or {}:
                found.setdefault(str(name), (rel, _line_of(ctx, rel, ["secrets", str(name)])))
    return found


def _line_of(ctx: Context, rel: str, path: list[str | int]) -> int:
    from .locate import yaml_line

    return yaml_line(ctx.text(rel), path) or 1


def finding(ctx: Context, message: str, rel: str, line: int | None = None) -> Finding:
    """A semantic finding: the environment is named in every message."""
    return Finding(f"[{ctx.env}] {message}", rel, line)
