"""Semantic (cross-artifact) checks: each passes on every rendered environment and
catches a deliberately broken file with a message naming the environment, the
service and the field. Fast: no external tool runs."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mutations import EVIL_SERVICE, edit_compose, edit_yaml, include_service, sub

from infra_gen.project import Project
from infra_gen.render import render_environment, write_tree
from infra_gen.topology import plan
from infra_gen.validate import Context, Status, run_check
from infra_gen.validate.hardening import CHECKS as HARDENING
from infra_gen.validate.semantic import CHECKS as SEMANTIC

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Project(ROOT)
CHECKS = {c.name: c for c in (*SEMANTIC, *HARDENING)}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("rendered")
    out = {}
    for name in PROJECT.environment_names:
        write_tree(base / name, render_environment(PROJECT, name))
        out[name] = base / name
    return out


def context(root: Path, env: str) -> Context:
    return Context(plan(PROJECT.load(env)), root)


@pytest.mark.parametrize("env", PROJECT.environment_names)
@pytest.mark.parametrize("check", sorted(CHECKS))
def test_passes_on_rendered(rendered: dict[str, Path], env: str, check: str) -> None:
    result = run_check(context(rendered[env], env), CHECKS[check])
    assert result.status is Status.passed, result.messages()


# -- mutations: (check, how the rendered prod tree is broken, expected message) ----------



def _set(service: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda svcs: svcs[service].__setitem__(key, value)


def _drop(service: str, key: str) -> Callable[[dict[str, Any]], None]:
    return lambda svcs: svcs[service].pop(key)


def _drop_limit(service: str, key: str) -> Callable[[dict[str, Any]], None]:
    return lambda svcs: svcs[service]["deploy"]["resources"]["limits"].pop(key)


PUBLISH = {"target": 6379, "published": 6379, "host_ip": "0.0.0.0", "protocol": "tcp"}
MUTATIONS: list[tuple[str, str, Callable[[Path], None], str]] = [
    ("upstream to a missing service", "upstreams are services",
     sub("nginx/nginx.conf", r"server api:", "server api-9:"),
     "server api-9:8000 is not a compose service"),
    ("upstream with no server", "upstreams are services",
     sub("nginx/nginx.conf", r"^\s*server api:.*\n", ""),
     "nginx upstream api has nothing; the topology plans ['api']"),
    ("upstream on a port the service does not serve", "upstreams are services",
     sub("nginx/nginx.conf", r"server api:8000", "server api:8001"),
     "api:8001, but service api serves [8000]"),
    ("upstream on a network the lb does not share", "upstreams are services",
     edit_compose(lambda s: s["api"].__setitem__("networks", {"backend-net": None})),
     "api shares no network with lb"),
    ("scrape target with a wrong port", "scrape targets are services",
     sub("prometheus/prometheus.yml", r"port: 8888", "port: 9999"),
     "worker:9999, but service worker exposes [8888]"),
    ("scrape port the service does not serve", "scrape targets are services",
     edit_compose(lambda s: (s["worker"].pop("expose"), s["worker"]["environment"].pop(
         "METRICS_PORT"))),
     "worker:8888, but service worker exposes no port"),
    ("scrape target not a service", "scrape targets are services",
     sub("prometheus/prometheus.yml", r"- ml$", "- mlx"),
     "target mlx:5000 is not a compose service"),
    ("route to a missing receiver", "routes name receivers",
     sub("alertmanager/alertmanager.yml", r"^  receiver: team-emails", "  receiver: pager"),
     "route.receiver 'pager' is not a receiver"),
    ("published Redis port", "datastores unpublished",
     edit_compose(_set("redis", "ports", [PUBLISH])), "services.redis.ports: redis must publish"),
    ("published exporter port", "datastores unpublished",
     edit_compose(_set("redis-exporter", "ports", ["9121:9121"])), "services.redis-exporter.ports"),
    ("two services on one host port", "host ports unique",
     edit_compose(_set("frontend", "ports", ["443:8080"])), "host port 443 is already published"),
    ("ufw opens a port the lb does not publish", "ufw ports = lb ports",
     sub("firewall/ufw.sh", r"^rule allow any 443 ", "rule allow any 444 "),
     "ufw.sh opens [80, 444] to anyone"),
    ("ufw private port from anywhere", "ufw ports = lb ports",
     sub("firewall/ufw.sh", r"^rule allow 10\.0\.0\.0/8 6379 ", "rule allow any 6379 "),
     "ufw.sh opens [80, 443, 6379] to anyone"),
    ("ufw private port from another network", "ufw ports = lb ports",
     sub("firewall/ufw.sh", r"^rule route 10\.0\.0\.0/8 5432 ", "rule route 0.0.0.0/0 5432 "),
     "ufw.sh allows port 5432 from 0.0.0.0/0, not the private network 10.0.0.0/8"),
    ("compose include", "compose self-contained", include_service(),
     "include: brings services from other files into compose.yaml; the model has no way to ask "
     "for include:"),
    ("service extends another", "compose self-contained",
     edit_compose(_set("api", "extends", {"service": "api-2"})),
     "services.api.extends: takes settings from another service or file; the model has no "
     "way to ask for extends:"),
    ("secret not in env.example", "secrets in env.example",
     sub("env.example", r"smtp_password", "smtp_pw", count=0), "secret smtp_password is referenced"),
    ("latest image", "images pinned",
     edit_compose(_set("api", "image", "infra-gen/app:latest")),
     "services.api.image 'infra-gen/app:latest' is not pinned"),
    ("untagged image", "images pinned", edit_compose(_set("lb", "image", "infra-gen/lb")),
     "services.lb.image 'infra-gen/lb' is not pinned"),
    ("no healthcheck", "services hardened", edit_compose(_drop("api", "healthcheck")),
     "services.api.healthcheck: needs a healthcheck"),
    ("no memory limit", "services hardened", edit_compose(_drop_limit("worker", "memory")),
     "services.worker.deploy.resources.limits.memory"),
    ("no pids limit", "services hardened", edit_compose(_drop_limit("redis", "pids")),
     "services.redis.deploy.resources.limits.pids"),
    ("no cpu limit", "services hardened", edit_compose(_drop_limit("postgres", "cpus")),
     "services.postgres.deploy.resources.limits.cpus"),
    ("new privileges allowed", "services hardened", edit_compose(_drop("lb", "security_opt")),
     "services.lb.security_opt: needs no-new-privileges"),
    ("capabilities kept", "services hardened", edit_compose(_drop("ml", "cap_drop")),
     "services.ml.cap_drop: must be [ALL]"),
    ("capability the model does not list", "services hardened",
     edit_compose(_set("api", "cap_add", ["NET_ADMIN"])), "services.api.cap_add: adds"),
    ("privileged", "services hardened", edit_compose(_set("api", "privileged", True)),
     "services.api.privileged"),
    ("docker.sock mounted", "services hardened",
     edit_compose(_set("prometheus", "volumes", ["/var/run/docker.sock:/var/run/docker.sock"])),
     "services.prometheus.volumes: mounts /var/run/docker.sock"),
    ("host root mounted", "services hardened",
     edit_compose(_set("api", "volumes", ["/:/host"])),
     "services.api.volumes: mounts the host path /, which the model does not plan for api"),
    ("host path outside the rendered tree", "services hardened",
     edit_compose(_set("lb", "volumes", [{"type": "bind", "source": "../../etc",
                                          "target": "/x"}])),
     "services.lb.volumes: mounts the host path "),
    ("host pid namespace", "services hardened", edit_compose(_set("redis", "pid", "host")),
     "services.redis.pid: must not share the host's namespace"),
    ("host device", "services hardened",
     edit_compose(_set("redis", "devices", ["/dev/mem:/dev/mem"])),
     "services.redis.devices: must map no host device"),
    ("root user", "services hardened", edit_compose(_set("api", "user", "0:0")),
     "services.api.user: runs as 0:0"),
    ("log sink on an unknown host", "log sink reachable",
     sub("fluentd/fluent.conf", r"^  host elasticsearch$", "  host logs.example.com"),
     "fluentd ships to logs.example.com:9200: not a service of compose.yaml nor the external "
     "endpoint the model declares (logging.fluentd.elasticsearch: elasticsearch on log-sink)"),
    ("shipper off the sink's network", "log sink reachable",
     edit_compose(_set("fluentd", "networks", ["backend-net"])),
     "fluentd ships to elasticsearch:9200 on the network log-sink, which fluentd does not join "
     "in compose.yaml (its networks: ['backend-net'])"),
    ("sink network not external", "log sink reachable",
     edit_yaml("compose.yaml", lambda d: d["networks"].__setitem__("log-sink", {"driver": "bridge"})),
     "fluentd ships to elasticsearch:9200 on the network log-sink, which compose.yaml does not "
     "declare `external: true`"),
    ("sink is a service on another network", "log sink reachable",
     edit_compose(lambda svcs: svcs.__setitem__("elasticsearch", {
         "image": "elasticsearch:8.15.0", "networks": ["frontend-net"]})),
     "fluentd ships to elasticsearch:9200, a service on ['frontend-net'], but fluentd is only "
     "on ['backend-net', 'log-sink'] (compose.yaml)"),
    ("swarm shipper off the sink's network", "log sink reachable",
     edit_yaml("stack.yaml", lambda d: d["services"]["fluentd"].__setitem__(
         "networks", ["backend-net"])),
     "which fluentd does not join in stack.yaml"),
    ("writable root filesystem", "services hardened", edit_compose(_drop("redis", "read_only")),
     "services.redis.read_only: needs read_only: true"),
    ("writable root, empty reason label", "services hardened",
     edit_compose(lambda svcs: svcs["postgres"].update(
         read_only=False, labels={"infra-gen.writable-root-reason": ""})),
     "services.postgres.read_only: needs read_only: true"),
    ("grace shorter than gunicorn", "stop_grace_period > graceful",
     edit_compose(_set("api", "stop_grace_period", "15s")),
     "services.api.stop_grace_period 15s is not longer than gunicorn's graceful timeout 20s"),
]


@pytest.mark.parametrize(("check", "mutate", "expected"),
                         [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS])
def test_mutation_is_caught(rendered: dict[str, Path], tmp_path: Path, check: str,
                            mutate: Callable[[Path], None], expected: str) -> None:
    root = tmp_path / "prod"
    shutil.copytree(rendered["prod"], root)
    mutate(root)
    result = run_check(context(root, "prod"), CHECKS[check])
    assert result.status is Status.failed, f"{check} did not catch it: {result.messages()}"
    messages = "\n".join(result.messages())
    assert expected in messages
    assert "[prod]" in messages


def test_every_semantic_check_has_a_mutation() -> None:
    """A check that cannot fail is a defect: each one is broken at least once above."""
    assert set(CHECKS) <= {m[1] for m in MUTATIONS}


def test_findings_point_at_the_file_and_line(rendered: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "prod"
    shutil.copytree(rendered["prod"], root)
    edit_compose(_set("redis", "ports", [PUBLISH]))(root)
    result = run_check(context(root, "prod"), CHECKS["datastores unpublished"])
    (finding,) = result.findings
    assert finding.file == "compose.yaml"
    assert finding.line is not None
    assert "ports:" in (root / "compose.yaml").read_text().splitlines()[finding.line - 1]


def test_hardening_reads_what_compose_resolves(rendered: dict[str, Path], tmp_path: Path) -> None:
    """The services an include: brings in are hardened too: the check reads the normalized
    compose model (`docker compose config`), not only the file's own services (the real
    `docker compose config` path: tests/validate)."""
    root = tmp_path / "prod"
    shutil.copytree(rendered["prod"], root)
    include_service()(root)
    ctx = context(root, "prod")
    doc = dict(ctx.yaml("compose.yaml"))
    doc["services"] = {**doc["services"], "evil": EVIL_SERVICE}
    ctx._cache["compose:normalized"] = doc  # what docker compose config returns
    messages = "\n".join(run_check(ctx, CHECKS["services hardened"]).messages())
    for expected in ("services.evil.privileged: must not be privileged",
                     "services.evil.volumes: mounts the host path /, which the model does not plan",
                     "services.evil.user: runs as 0:0", "services.evil.cap_drop: must be [ALL]"):
        assert expected in messages


def test_include_refused_without_docker(rendered: dict[str, Path], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Where `docker compose config` cannot run, the hardening check reads the file as
    written, and an include: (the services it would hide) is refused on its own."""
    from infra_gen.validate import parse

    monkeypatch.setattr(parse, "_docker_compose_config", lambda ctx: None)
    root = tmp_path / "prod"
    shutil.copytree(rendered["prod"], root)
    include_service()(root)
    result = run_check(context(root, "prod"), CHECKS["compose self-contained"])
    assert result.status is Status.failed
    (finding,) = result.findings
    assert (finding.file, finding.line) == ("compose.yaml", next(
        i for i, ln in enumerate((root / "compose.yaml").read_text().splitlines(), 1)
        if ln.startswith("include:")))
