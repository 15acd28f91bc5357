"""The swarm commands' pure parts: cluster facts from the model, the ssh wrapper that
Docker's ssh helper runs, bad GROUP=N input, and what counts as converged."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from infra_gen.errors import StackError, UserError
from infra_gen.project import Project
from infra_gen.render import render_environment, write_tree
from infra_gen.stack.cluster import facts, registry_host
from infra_gen.stack.remote import Remote
from infra_gen.stack.scale import parse_assignments
from infra_gen.stack.swarm import ServiceView, Swarm
from infra_gen.topology import plan

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Project(ROOT)


@pytest.mark.parametrize(("prefix", "host"), [
    ("registry.swarm.test:5000/infra-gen", "registry.swarm.test:5000"),
    ("localhost/infra-gen", "localhost"),
    ("ghcr.io/acme/app", "ghcr.io"),
    ("infra-gen", None),
    ("acme/infra-gen", None),
])
def test_registry_host(prefix: str, host: str | None) -> None:
    assert registry_host(prefix) == host


def test_cluster_facts_come_from_the_model() -> None:
    got = dict(facts(PROJECT, "swarm"))
    assert got["NODES"] == "node-1 node-2 node-3"
    assert got["MANAGERS"] == "node-1"
    assert got["ADDR_NODE_2"] == "10.213.7.12"
    assert "infra-gen.db=true" in got["LABELS_NODE_3"].split()
    assert got["REGISTRY"] == "registry.swarm.test:5000"


def test_no_nodes_is_refused() -> None:
    with pytest.raises(SystemExit, match=r"has no deploy\.nodes"):
        facts(PROJECT, "dev")


def test_ssh_wrapper_uses_the_generated_config(tmp_path: Path) -> None:
    env_dir = tmp_path / "swarm"
    write_tree(env_dir, render_environment(PROJECT, "swarm"))
    remote = Remote(plan(PROJECT.load("swarm")), env_dir)
    try:
        environ = remote.environ()
        assert environ["DOCKER_HOST"] == "ssh://node-1"
        wrapper = Path(environ["PATH"].split(os.pathsep)[0]) / "ssh"
        words = shlex.split(wrapper.read_text().splitlines()[1])
        assert words[2:4] == ["-F", str((env_dir / "ssh" / "config").resolve())]
        assert "BatchMode=yes" in words and words[-1] == "$@"
        assert os.access(wrapper, os.X_OK)
    finally:
        remote.close()
    assert not wrapper.exists()


def test_missing_ssh_config_is_one_line(tmp_path: Path) -> None:
    remote = Remote(plan(PROJECT.load("swarm")), tmp_path)
    with pytest.raises(StackError, match="ssh/config is missing"):
        remote.environ()


@pytest.mark.parametrize(("args", "expected"), [
    (["api"], "scale: 'api': expected GROUP=N"),
    (["api=x"], "expected GROUP=N"),
    (["postgres=2"], "scale: 'postgres' is not an app service of swarm"),
    (["api=51"], "scale: api=51: at most 50 replicas"),
    ([], "scale: name at least one GROUP=N"),
])
def test_bad_scale_arguments(args: list[str], expected: str) -> None:
    with pytest.raises(UserError, match=expected.replace("(", r"\(")):
        parse_assignments(args, ["api", "worker"], "swarm", 50)


@pytest.mark.parametrize(("running", "desired", "update", "converged"), [
    (2, 2, "", True),
    (2, 2, "completed", True),
    (2, 2, "rollback_completed", True),
    (1, 2, "", False),
    (2, 2, "updating", False),
    (2, 2, "rollback_started", False),
])
def test_converged(running: int, desired: int, update: str, converged: bool) -> None:
    assert ServiceView("api", running, desired, "img", update, "", "").converged is converged


def test_deploy_needs_nodes() -> None:
    with pytest.raises(StackError, match=r"dev: deploy\.swarm and deploy\.nodes are needed"):
        Swarm.load("dev", ROOT)


def _swarm_seeing(monkeypatch: pytest.MonkeyPatch, replicas: dict[str, tuple[int, int]]) -> Swarm:
    """The swarm environment, with `docker service ls` answering `replicas`
    (running, desired) for every planned service, and no task or lb to reload."""
    sw = Swarm(PROJECT, plan(PROJECT.load("swarm")), Remote.__new__(Remote))
    views = {c.name: ServiceView(c.name, *replicas.get(c.name, (c.replicas, c.replicas)),
                                 "img", "", "", "") for c in sw.topo.containers}
    monkeypatch.setattr(Swarm, "services", lambda self: views)
    monkeypatch.setattr(Swarm, "tasks", lambda self, running_only=True: [])
    monkeypatch.setattr(Swarm, "reload_lb", lambda self, tasks=None: True)
    return sw


def test_a_completed_migration_counts_as_converged_and_healthy(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """migrate runs once (restart_policy none): done, it shows 0/1, which is not a
    service that failed to converge."""
    from infra_gen.stack import deploy as ops

    sw = _swarm_seeing(monkeypatch, {"migrate": (0, 1)})
    assert sw.topo.container("migrate").one_shot
    assert sw.wait(lambda _m: None, {}, timeout=5) < 5
    rows, healthy = ops.status(sw)
    assert healthy and ("migrate", "0/1", "", "") in rows


def test_a_service_short_of_its_tasks_is_neither_converged_nor_healthy(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from infra_gen.stack import deploy as ops

    sw = _swarm_seeing(monkeypatch, {"migrate": (0, 1), "api": (1, 2)})
    monkeypatch.setattr("infra_gen.stack.swarm.POLL", 0.01)
    with pytest.raises(StackError, match=r"not converged after 0 s: api 1/2"):
        sw.wait(lambda _m: None, {}, timeout=0.05)
    assert ops.status(sw)[1] is False
