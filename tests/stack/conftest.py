"""Fixtures for the running-stack tests (`infra-gen verify ENV`, `make verify`).

The environment comes from `--env NAME` (when pytest is pointed at tests/stack) or
INFRA_GEN_ENV (default dev); every expectation is derived from its topology. The
stack is reached only through the ports the load balancer publishes on the host
and from inside the containers (docker exec / testinfra's docker backend), never
through container addresses. A stack that is not running skips here; under
CI=true tests/conftest.py turns that skip into a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import testinfra
from stack_support import Site, docker

from infra_gen.model import TlsMode
from infra_gen.stack import Stack
from infra_gen.stack.secrets import read_token
from infra_gen.topology import Topology

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.stack


def pytest_addoption(parser: pytest.Parser) -> None:
    with contextlib.suppress(ValueError):  # already added
        parser.addoption("--env", default=None, help="environment of the running stack (dev)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.stack)
    # Tests of Redis failover need Sentinels: on an environment without them they are
    # deselected, not skipped (`make stack-test-ha` runs them on dev-ha, where a run
    # that selects none fails with pytest's "no tests ran").
    ha = [item for item in items if item.get_closest_marker("redis_ha")]
    if ha and Stack.load(_env_name(config), _root()).topo.redis_ha is None:
        config.hook.pytest_deselected(items=ha)
        items[:] = [item for item in items if item not in ha]


def _env_name(config: pytest.Config) -> str:
    try:
        option = config.getoption("--env")
    except ValueError:
        option = None
    return str(option or os.environ.get("INFRA_GEN_ENV") or "dev")


def _root() -> Path:
    return Path(os.environ.get("INFRA_GEN_ROOT") or ROOT)


@pytest.fixture(scope="session")
def env_name(request: pytest.FixtureRequest) -> str:
    return _env_name(request.config)


@pytest.fixture(scope="session")
def stack(env_name: str) -> Stack:
    st = Stack.load(env_name, _root())
    try:
        states = st.status()
    except Exception as exc:  # docker missing, compose file missing...
        pytest.skip(f"the {env_name} stack cannot be inspected: {exc}")
    down = [s.service for s in states if s.state != "running"]
    if len(down) == len(states):
        pytest.skip(f"the {env_name} stack is not running (make up ENV={env_name})")
    return st


@pytest.fixture(scope="session")
def topo(stack: Stack) -> Topology:
    return stack.topo


@pytest.fixture(scope="session")
def container_ids(stack: Stack) -> dict[str, str]:
    out = stack.compose("ps", "-q", "-a", capture=True).stdout.split()
    ids: dict[str, str] = {}
    for cid in out:
        labels = json.loads(docker("inspect", "-f", "{{json .Config.Labels}}", cid))
        ids[labels["com.docker.compose.service"]] = cid
    return ids


@pytest.fixture(scope="session")
def replica_ids(stack: Stack) -> Callable[[str], list[str]]:
    """Container ids of a service's running replicas, now (a scale changes them). The
    first 12 characters are each replica's host name, which X-Served-By names."""

    def get(service: str) -> list[str]:
        return stack.compose("ps", "-q", service, capture=True).stdout.split()

    return get


@pytest.fixture(scope="session")
def inspect(container_ids: dict[str, str]) -> Callable[[str], dict[str, Any]]:
    cache: dict[str, dict[str, Any]] = {}

    def get(service: str) -> dict[str, Any]:
        if service not in cache:
            assert service in container_ids, f"no container for service {service}"
            cache[service] = json.loads(docker("inspect", container_ids[service]))[0]
        return cache[service]

    return get


@pytest.fixture(scope="session")
def host(container_ids: dict[str, str]) -> Callable[..., Any]:
    """testinfra host of a service's container (docker backend), optionally as a user."""

    def get(service: str, user: str | None = None) -> Any:
        assert service in container_ids, f"no container for service {service}"
        who = f"{user}@" if user else ""
        return testinfra.get_host(f"docker://{who}{container_ids[service]}")

    return get


@pytest.fixture(scope="session")
def exec_in(stack: Stack) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(service: str, *cmd: str, stdin: str | None = None,
            user: str | None = None) -> subprocess.CompletedProcess[str]:
        return stack.exec(service, *cmd, stdin=stdin, user=user, check=False)

    return run


@pytest.fixture(scope="session")
def site(stack: Stack, topo: Topology) -> Iterator[Site]:
    cert = stack.secrets / "tls" / "fullchain.pem" if topo.env.tls.mode is TlsMode.self_signed else None
    s = Site(topo, cert)
    yield s
    s.session.close()


@pytest.fixture(scope="session")
def api_token(stack: Stack) -> str:
    token = read_token(stack.secrets)
    if not token:
        pytest.skip(f"no API token in {stack.secrets}/api_token (infra-gen up creates it)")
    return token


