"""The swarm scenarios, shared by tests/swarm and benchmarks/swarm.py.

They run against the cluster of `make swarm-up` (images pushed by `make
swarm-images`). A variant of the environment (the API on another image tag) is a copy
of the project whose environment file sets services.api.tag; it shares the secrets
directory, so the deployed databases keep their passwords.
"""

from __future__ import annotations

import http.client
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml

from infra_gen.stack import deploy as ops
from infra_gen.stack.docker import docker_binary
from infra_gen.stack.swarm import Swarm

ROOT = Path(__file__).resolve().parents[2]
ENV = "swarm"
REGISTRY_VIA = "127.0.0.1:15000"
PACE = 0.1
"""Seconds between two requests: 10/s, under the rate limit (20/s, burst 40)."""


def quiet(_message: str) -> None:
    pass


def swarm(root: Path = ROOT) -> Swarm:
    return Swarm.load(ENV, root)


def base_url(sw: Swarm) -> str:
    edge = next(a for a, n in sw.topo.env.deploy.nodes.items() if "edge" in n.roles)
    return f"http://{sw.topo.env.ssh.hosts[edge]}:{sw.topo.env.load_balancer.http_port}"


def _closed_before_response(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        # A reload closing an idle kept-alive connection shows as a clean close, or as
        # a reset when the request's bytes were already on their way.
        if isinstance(seen, (http.client.RemoteDisconnected, ConnectionResetError)):
            return True
        nxt = seen.__cause__ or seen.__context__
        if nxt is None and seen.args and isinstance(seen.args[-1], BaseException):
            nxt = seen.args[-1]
        seen = nxt
    return False


@dataclass
class Load:
    """Paced GETs of the API's /health/ through the load balancer (edge node):
    (time, status, X-Served-By); status 0 for a connection error."""

    url: str
    results: list[tuple[float, int, str]] = field(default_factory=list)
    retried: int = 0
    """GETs resent once because an nginx reload closed (or reset) their kept-alive
    connection before any response byte (RFC 9112 9.3.1; browsers do the same)."""
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        s = requests.Session()
        while not self.stop.is_set():
            try:
                try:
                    r = s.get(self.url, timeout=10)
                except requests.ConnectionError as exc:
                    if not _closed_before_response(exc):
                        raise
                    self.retried += 1
                    r = s.get(self.url, timeout=10)
                self.results.append((time.monotonic(), r.status_code,
                                     r.headers.get("X-Served-By", "")))
            except requests.RequestException as exc:
                self.results.append((time.monotonic(), 0, repr(exc)))
            time.sleep(PACE)

    @property
    def failed(self) -> list[tuple[float, int, str]]:
        return [r for r in self.results if r[1] != 200]

    def served_by(self, since: float = 0) -> set[str]:
        return {by for t, status, by in self.results if status == 200 and t >= since}


@contextmanager
def load(sw: Swarm) -> Iterator[Load]:
    lo = Load(base_url(sw) + "/health/")
    thread = threading.Thread(target=lo.run, daemon=True)
    thread.start()
    time.sleep(2)  # some traffic before
    try:
        yield lo
    finally:
        lo.stop.set()
        thread.join(timeout=30)


def variant(tmp: Path, api_tag: str) -> Path:
    """A copy of the project whose swarm environment runs the API on api_tag."""
    root = tmp / f"project-{api_tag}"
    if root.exists():
        shutil.rmtree(root)
    # templates/ holds a project's own overrides: a project may have none.
    for part in ("environments", "templates"):
        if (ROOT / part).is_dir():
            shutil.copytree(ROOT / part, root / part)
    (root / ".secrets").symlink_to(ROOT / ".secrets")
    path = root / "environments" / f"{ENV}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc.setdefault("services", {}).setdefault("api", {})["tag"] = api_tag
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return root


def tag_image(source_tag: str, new_tag: str, broken: bool = False) -> None:
    """infra-gen/app:new_tag, the same as source_tag (a new release to roll to), or one
    that exits at once (a broken release)."""
    src = f"infra-gen/app:{source_tag}"
    dst = f"infra-gen/app:{new_tag}"
    if broken:
        dockerfile = f'FROM {src}\nENTRYPOINT ["sh", "-c", "echo broken release >&2; exit 3"]\n'
    else:
        # A label makes it a distinct image, so swarm really rolls the tasks.
        dockerfile = f'FROM {src}\nLABEL org.opencontainers.image.version="{new_tag}"\n'
    subprocess.run([docker_binary(), "build", "-q", "-t", dst, "-"], input=dockerfile,
                   text=True, check=True, capture_output=True)


def api_images(sw: Swarm) -> set[str]:
    out = sw.remote.docker("service", "inspect", "--format",
                           "{{.Spec.TaskTemplate.ContainerSpec.Image}}", sw.full("api")).stdout
    return {line.split("@")[0] for line in out.split()}


def push(sw: Swarm) -> None:
    """Push the variant's images (before the clock of a deploy starts)."""
    ops.push(sw, quiet, REGISTRY_VIA)


def deploy(sw: Swarm) -> dict[str, float]:
    try:
        return ops.deploy(sw, quiet)
    finally:
        sw.remote.close()
