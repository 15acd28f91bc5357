"""up / down / status / logs / verify of one environment, around `docker compose`.

Every command is `docker compose -p <compose_project> -f generated/<env>/compose.yaml`
(Debian's /usr/bin/docker when present). What to expect of the running stack
(services, replicas, ports) comes from the topology, never from a second list.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InfraGenError, StackError
from ..project import Project
from ..render import render_topology, write_tree
from ..topology import Container, Topology, plan
from .docker import Say, docker_binary, ensure_docker, image_exists, run_script
from .migrations import compose_outcome, one_shot_services
from .secrets import ensure_secrets, read_token, secrets_dir, write_token

DEFAULT_WAIT_TIMEOUT = 600
"""Seconds `docker compose up --wait` may take before the stack counts as failed."""
VERIFY_TOKEN_PREFIX = "infra-gen-verify"


@dataclass(frozen=True)
class ServiceState:
    service: str
    replica: int
    kind: str
    container: str
    state: str
    health: str
    ports: str


def _replica_number(container: str) -> int:
    """The replica number compose puts at the end of a container name (churn-dev-api-2)."""
    tail = container.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


@dataclass(frozen=True)
class Stack:
    project: Project
    topo: Topology

    @classmethod
    def load(cls, env: str, root: Path | None = None) -> Stack:
        project = Project.find(root)
        return cls(project, plan(project.load(env)))

    # -- where things are ------------------------------------------------------
    @property
    def name(self) -> str:
        return self.topo.name

    @property
    def env_dir(self) -> Path:
        return self.project.generated_dir / self.name

    @property
    def compose_file(self) -> Path:
        return self.env_dir / "compose.yaml"

    @property
    def secrets(self) -> Path:
        return secrets_dir(self.topo, self.env_dir)

    @property
    def containers(self) -> tuple[Container, ...]:
        return self.topo.containers

    # -- docker compose ---------------------------------------------------------
    def compose_command(self, *args: str) -> list[str]:
        return [docker_binary(), "compose", "-p", self.topo.compose_project,
                "-f", str(self.compose_file), *args]

    def compose(self, *args: str, capture: bool = False, stdin: str | None = None,
                check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        if not self.compose_file.is_file():
            raise StackError(f"{self.compose_file} is missing: run `infra-gen render {self.name}`")
        try:
            result = subprocess.run(
                self.compose_command(*args), cwd=self.env_dir, text=True, input=stdin,
                capture_output=capture, check=False, timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise StackError(f"docker compose {' '.join(args)}: no answer in {timeout} s") from exc
        if check and result.returncode != 0:
            detail = (result.stderr or "").strip().splitlines()[-3:] if capture else []
            raise StackError(
                f"docker compose {' '.join(args[:3])} failed (exit {result.returncode})"
                + (f": {' / '.join(detail)}" if detail else "")
                + (self.why_unhealthy() if "--wait" in args else "")
            )
        return result

    def why_unhealthy(self, log_lines: int = 8) -> str:
        """Each container that is not running healthy, with its last health probe
        output and log lines: why `up --wait` gave up, before anything removes it."""
        report = []
        one_shot = set(one_shot_services(self.topo))
        for s in self.status():
            healthy = s.state == "running" and s.health in ("healthy", "-")
            if healthy or s.container == "-" or s.service in one_shot:
                continue
            probe = subprocess.run(
                [docker_binary(), "inspect", "--format",
                 "{{if .State.Health}}{{range .State.Health.Log}}{{.Output}}{{end}}{{end}}"
                 " (exit {{.State.ExitCode}}, restarts {{.RestartCount}})", s.container],
                capture_output=True, text=True, check=False, timeout=30,
            ).stdout.strip().splitlines()[-1:]
            logs = subprocess.run(
                [docker_binary(), "logs", "--tail", str(log_lines), s.container],
                capture_output=True, text=True, check=False, timeout=30,
            )
            tail = (logs.stdout + logs.stderr).strip().splitlines()
            report.append(f"\n  {s.container}: {s.state} {s.health}; probe: "
                          + " ".join(probe) + "".join(f"\n    {line}" for line in tail))
        return "".join(report)

    def exec(self, service: str, *command: str, stdin: str | None = None,
             user: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        args = ["exec", "-T", *(["--user", user] if user else []), service, *command]
        return self.compose(*args, capture=True, stdin=stdin, check=check, timeout=300)

    def psql(self, sql: str, database: str | None = None, service: str = "postgres") -> str:
        """Run SQL as the postgres superuser (peer, local socket) inside a database container."""
        db = database or self.topo.env.postgres.database
        result = self.exec(service, "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                           "-d", db, "-f", "-", stdin=sql, check=False)
        if result.returncode != 0:
            raise StackError(f"psql in {service} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def primary(self) -> str:
        """The PostgreSQL service that answers as the primary now: after a failover
        (failover/failover.sh) it is the other node; the planned one if none answers."""
        nodes = [c.name for c in self.topo.of_kind("postgres", "postgres-replica")]
        for node in nodes:
            try:
                if self.psql("SELECT pg_is_in_recovery()", service=node) == "f":
                    return node
            except StackError:
                continue
        return nodes[0]

    def ps(self) -> dict[str, list[dict[str, Any]]]:
        """docker compose ps: every container (running or not) of each service, by name."""
        result = self.compose("ps", "-a", "--format", "json", capture=True, timeout=60)
        text = result.stdout.strip()
        if not text:
            return {}
        rows = json.loads(text) if text.startswith("[") else [
            json.loads(line) for line in text.splitlines() if line.strip()
        ]
        out: dict[str, list[dict[str, Any]]] = {}
        for row in sorted(rows, key=lambda r: _replica_number(str(r.get("Name", "")))):
            out.setdefault(row["Service"], []).append(row)
        return out

    def status(self) -> list[ServiceState]:
        """Every replica the topology plans (and any a scale added), with what Docker
        says of it; a planned replica with no container is "missing"."""
        live = self.ps()
        states = []
        for c in self.containers:
            rows = live.get(c.name, [])
            rows += [{}] * (c.replicas - len(rows))
            for i, row in enumerate(rows, 1):
                ports = ", ".join(
                    f"{p['URL']}:{p['PublishedPort']}->{p['TargetPort']}"
                    for p in row.get("Publishers") or [] if p.get("PublishedPort")
                )
                states.append(ServiceState(
                    service=c.name, replica=_replica_number(str(row.get("Name", ""))) or i,
                    kind=c.kind, container=row.get("Name", "-"),
                    state=row.get("State", "missing"), health=row.get("Health", "") or "-",
                    ports=ports,
                ))
        return states

    def running(self) -> bool:
        return any(s.state == "running" for s in self.status())


# -- up -----------------------------------------------------------------------
def _elapsed(start: float) -> str:
    return f"{time.monotonic() - start:.1f} s"


def build_images(stack: Stack, say: Say) -> None:
    if not builds_images(stack.project.root):
        # A project of your own (infra-gen init): the images are the ones the model
        # names, built and pushed by your own pipeline; compose pulls what is missing.
        say("this project builds no images (no scripts/build-images.sh): using the images "
            "the model names")
        return
    # build-images.sh provides debian:bookworm-slim first (pulled, or made with
    # debootstrap where no registry answers), then builds with the layer cache.
    say("building the images (scripts/build-images.sh; cached layers are reused)")
    run_script(stack.project.root, "build-images.sh")


def builds_images(root: Path) -> bool:
    """This repository builds the bundled images; a user's project does not."""
    return (root / "scripts" / "build-images.sh").is_file()


def render(stack: Stack, say: Say) -> None:
    render_files(stack.project, stack.topo, stack.env_dir, say)


def render_files(project: Project, topo: Topology, env_dir: Path, say: Say) -> None:
    """Render the environment into generated/<env>/ (compose up and swarm deploy)."""
    try:
        files = render_topology(topo, project.templates_dir)
    except InfraGenError as exc:
        if isinstance(exc, StackError):
            raise
        raise StackError(f"rendering {topo.name} failed: {exc}") from exc
    write_tree(env_dir, files)
    say(f"rendered {topo.name}: {len(files)} files in {env_dir}")


def _missing_mounts(stack: Stack) -> list[str]:
    """Bind-mount sources that do not exist (Docker would create empty directories)."""
    missing = []
    for c in stack.containers:
        for m in c.mounts:
            if m.named:
                continue
            path = Path(m.source) if Path(m.source).is_absolute() else stack.env_dir / m.source
            if not path.exists():
                missing.append(f"{c.name}: {os.path.normpath(path)}")
    return missing


def _missing_images(stack: Stack) -> list[str]:
    images = sorted({c.image for c in stack.containers if c.built_here})
    return [i for i in images if not image_exists(i)]


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
"""Terminal control sequences compose's progress output leaves in captured logs."""


def migrate(stack: Stack, say: Say) -> None:
    """Report the one-shot migration service's run (compose ran it before the API and
    the worker started); its log lines say what it applied."""
    rows = stack.ps()
    for name in one_shot_services(stack.topo):
        ok, outcome = compose_outcome(rows.get(name, []))
        log = _ANSI.sub("", stack.compose("logs", "--no-color", "--no-log-prefix", name,
                                          capture=True, check=False, timeout=60).stdout).strip()
        if not ok:
            raise StackError(f"{name} {outcome}: {log.splitlines()[-1] if log else 'no log'}")
        say(f"{name}: {outcome}" + (f" ({log.splitlines()[-1]})" if log else ""))


def ensure_api_token(stack: Stack, say: Say) -> None:
    """An API token for verify in <secrets>/api_token, known to the current database."""
    token = read_token(stack.secrets)
    if token:
        digest = hashlib.sha256(token.encode()).hexdigest()
        if stack.psql(f"SELECT count(*) FROM api_token WHERE token_hash = '{digest}'") != "0":
            return
    api = stack.topo.of_kind("api")[0].name
    name = f"{VERIFY_TOKEN_PREFIX}-{int(time.time())}"
    result = stack.exec(api, "app-entrypoint", "create-token", name, check=False)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise StackError(f"create-token failed in {api}: {result.stderr.strip()}")
    write_token(stack.secrets, lines[-1].strip())
    say(f"API token {name!r} for `infra-gen verify` in {stack.secrets}/api_token")


def _show_failures(stack: Stack, say: Say) -> list[str]:
    one_shot = set(one_shot_services(stack.topo))
    bad = [s for s in stack.status() if s.service not in one_shot
           and (s.state != "running" or s.health not in ("healthy", "-"))]
    rows = stack.ps()
    bad += [s for s in stack.status() if s.service in one_shot
            and not compose_outcome(rows.get(s.service, []))[0]]
    for s in bad:
        say(f"{s.service}: {s.state} {s.health}; last log lines:")
        logs = stack.compose("logs", "--no-color", "--tail", "15", s.service,
                             capture=True, check=False, timeout=60)
        sys.stderr.write(logs.stdout + logs.stderr)
    return [s.service for s in bad]


VOLUMES_RECORD = "volumes.json"
"""Beside the secrets: which volumes this checkout's secrets initialized."""


def existing_volumes(stack: Stack) -> dict[str, str]:
    """The environment's named volumes that Docker has, with their creation times."""
    names = [f"{stack.topo.compose_project}_{v}" for v in stack.topo.volumes]
    found = subprocess.run(
        [docker_binary(), "volume", "inspect", "--format", "{{.Name}} {{.CreatedAt}}", *names],
        capture_output=True, text=True, check=False,
    ).stdout  # names Docker lacks are reported on stderr
    return dict(line.split(" ", 1) for line in found.splitlines() if " " in line)


def _record_volumes(stack: Stack) -> None:
    (stack.secrets / VOLUMES_RECORD).write_text(
        json.dumps(existing_volumes(stack), indent=2, sort_keys=True) + "\n"
    )


def _stale_volumes(stack: Stack, say: Say, replace: bool) -> None:
    """Data volumes this checkout's secrets did not initialize (another checkout's, or
    from before the secrets were made anew) hold passwords nobody here knows."""
    record = stack.secrets / VOLUMES_RECORD
    ours = json.loads(record.read_text()) if record.is_file() else {}
    stale = sorted(n for n, created in existing_volumes(stack).items() if ours.get(n) != created)
    if not stale:
        return
    if not replace:
        raise StackError(
            f"volumes {', '.join(stale)} were not created with the secrets in {stack.secrets}; "
            f"remove them with `infra-gen down {stack.name} --volumes` (or `infra-gen up "
            f"{stack.name} --replace-stale-volumes`), or restore the secrets they were made with"
        )
    say(f"removing volumes not created with these secrets: {', '.join(stale)}")
    down(stack, say, volumes=True)


def up(stack: Stack, say: Say, build: bool = True, rerender: bool = True,
       wait_timeout: int = DEFAULT_WAIT_TIMEOUT,
       replace_stale_volumes: bool = False) -> dict[str, float]:
    """Start the environment; returns the seconds each stage took."""
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    ensure_docker(stack.project.root, say)
    timings["docker"] = time.monotonic() - t0
    if build:
        t = time.monotonic()
        build_images(stack, say)
        timings["build"] = time.monotonic() - t
        say(f"images ready in {_elapsed(t)}")
    t_up = time.monotonic()
    if rerender:
        render(stack, say)
    created = ensure_secrets(stack.topo, stack.secrets)
    say(f"secrets in {stack.secrets}: "
        + (f"created {', '.join(created)}" if created else "all present, kept"))
    _stale_volumes(stack, say, replace_stale_volumes)
    absent = _missing_mounts(stack)
    if absent:
        raise StackError("files the containers mount are missing (an artifact not rendered?): "
                         + "; ".join(absent))
    missing = _missing_images(stack) if builds_images(stack.project.root) else []
    if missing:
        raise StackError(f"images missing: {', '.join(missing)} (run `make images`)")
    say(f"docker compose up -d --wait ({len(stack.containers)} containers, "
        f"at most {wait_timeout} s)")
    result = stack.compose("up", "-d", "--wait", "--wait-timeout", str(wait_timeout),
                           "--remove-orphans", check=False)
    # Whatever their health, the volumes that exist now were made with these secrets.
    _record_volumes(stack)
    if result.returncode != 0:
        bad = _show_failures(stack, say)
        raise StackError(f"the stack did not become healthy (exit {result.returncode})"
                         + (f": {', '.join(bad)}" if bad else ""))
    if "tls" in created:
        # A running load balancer keeps the old certificate until it reloads.
        for lb in stack.topo.of_kind("lb"):
            stack.exec(lb.name, "nginx", "-s", "reload", check=False)
    timings["healthy"] = time.monotonic() - t_up
    say(f"all {len(stack.containers)} containers healthy in {_elapsed(t_up)}")
    migrate(stack, say)
    ensure_api_token(stack, say)
    timings["up"] = time.monotonic() - t_up
    timings["total"] = time.monotonic() - t0
    return timings


def down(stack: Stack, say: Say, volumes: bool = False) -> None:
    args = ["down", "--remove-orphans", "--timeout", "30"]
    if volumes:
        args.append("--volumes")
    say(f"docker compose down{' --volumes' if volumes else ' (volumes kept)'}")
    stack.compose(*args)


def logs(stack: Stack, service: str | None, follow: bool, tail: str) -> int:
    if service is not None and service not in {c.name for c in stack.containers}:
        raise StackError(f"no service {service!r} in {stack.name}; expected one of: "
                         + ", ".join(c.name for c in stack.containers))
    services = [service] if service is not None else []
    args = ["logs", "--tail", tail, *(["--follow"] if follow else []),
            *([] if sys.stdout.isatty() else ["--no-color"]), *services]
    return stack.compose(*args, check=False).returncode


def verify(stack: Stack, pytest_args: Sequence[str] = ()) -> int:
    """pytest tests/stack against the running environment; returns pytest's exit code."""
    tests = stack.project.root / "tests" / "stack"
    if not tests.is_dir():
        raise StackError(f"{tests} is missing")
    env = {**os.environ, "INFRA_GEN_ENV": stack.name, "INFRA_GEN_ROOT": str(stack.project.root)}
    cmd = [sys.executable, "-m", "pytest", str(tests), "-m", "stack", "-p", "no:cacheprovider",
           *pytest_args]
    return subprocess.run(cmd, cwd=stack.project.root, env=env, check=False).returncode
