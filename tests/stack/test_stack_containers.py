"""Containers: not privileged, limited, healthy, running as the model's user, and
only the load balancer publishes host ports."""

from __future__ import annotations

import re

import pytest
from stack_support import docker, topology_for

UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _bytes(size: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([bkmg]?)", size.strip().lower().removesuffix("i"))
    assert m, size
    return int(float(m.group(1)) * UNITS[m.group(2)])


def _containers(topo):
    return [pytest.param(c, id=c.name) for c in topo.containers]


def pytest_generate_tests(metafunc):
    if "container" in metafunc.fixturenames:
        metafunc.parametrize("container", _containers(topology_for(metafunc.config)))


def test_not_privileged_and_limited(container, inspect):
    hc = inspect(container.name)["HostConfig"]
    assert hc["Privileged"] is False
    assert sorted(hc.get("CapAdd") or []) == sorted(container.cap_add)
    assert "ALL" in (hc.get("CapDrop") or [])
    assert hc["Memory"] == _bytes(container.resources.limits.memory)
    assert hc["NanoCpus"] == int(container.resources.limits.cpus * 1e9)
    if container.resources.pids:
        assert hc["PidsLimit"] == container.resources.pids


def test_healthy(container, inspect):
    state = inspect(container.name)["State"]
    if container.one_shot:
        # A run-once service is done when it exited 0 (and nothing restarted it).
        assert (state["Status"], state["ExitCode"]) == ("exited", 0), state
        return
    assert state["Running"], state
    assert state.get("Health", {}).get("Status") == "healthy", state.get("Health")


def test_processes_run_as_the_model_s_user(container, container_ids, host, inspect):
    user = container.user.split(":")[0]
    if container.one_shot:
        # No process left to list: the user it ran as.
        assert inspect(container.name)["Config"]["User"] == container.user
        assert user != "0"
        return
    if not user.isdigit():
        user = str(host(container.name).user(user).uid)
    if container.root_reason is None:
        assert user != "0", f"{container.name} runs as root without a reason"
    rows = [r.split(None, 1)[1] for r in
            docker("top", container_ids[container.name], "-eo", "pid,uid,args").splitlines()[1:]]
    assert rows
    for row in rows:
        assert row.split()[0] == user, f"{container.name}: {row} (expected uid {user})"


def test_only_the_load_balancer_publishes_ports(container, inspect):
    bindings = inspect(container.name)["HostConfig"].get("PortBindings") or {}
    published = [b for v in bindings.values() for b in (v or [])]
    if container.published:
        assert published
    else:
        assert not published, f"{container.name} publishes {bindings}"
    for b in published:
        assert b["HostIp"] == container.published[0].host_ip
