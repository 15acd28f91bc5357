"""The one-shot migration service: planned once, waited for on one host, run by the
deploy on swarm (swarm_run_one_shot), reported by `infra-gen up` (compose_outcome)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from infra_gen.errors import StackError
from infra_gen.project import Project
from infra_gen.render import render_environment
from infra_gen.stack.migrations import (
    compose_outcome,
    one_shot_services,
    parse_tasks,
    swarm_run_one_shot,
)
from infra_gen.topology import plan

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Project(ROOT)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_app_waits_for_the_migrations(env: str) -> None:
    topo = plan(PROJECT.load(env))
    assert one_shot_services(topo) == ["migrate"]
    m = topo.container("migrate")
    assert m.writable_root is None and "/tmp" in m.tmpfs and m.user.split(":")[0] != "0"
    # With a replica the planned primary may be a fenced node re-seeding after a
    # failover: migrate waits for a writable node itself (MIGRATE_WAIT), not for it.
    wanted = "service_started" if topo.replication else "service_healthy"
    assert ("postgres", wanted) in m.depends_on
    assert m.command[:1] == ("migrate",) and "--indexes" in m.command
    # The index file it is given is the one it mounts.
    index_file = m.command[m.command.index("--indexes") + 1]
    assert [mt.source for mt in m.mounts if mt.target == index_file] == ["./postgres/indexes.sql"]
    users = [c.name for c in topo.containers if "postgres_password" in c.secrets
             and c.kind in ("api", "worker")]
    assert users
    for name in users:
        assert ("migrate", "service_completed_successfully") in topo.container(name).depends_on
    compose = yaml.safe_load(render_environment(PROJECT, env)["compose.yaml"].content)
    svc = compose["services"]["migrate"]
    assert svc["restart"] == "no" and svc["read_only"] is True
    assert compose["services"]["api"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"}


def test_swarm_runs_it_once_per_deploy() -> None:
    files = render_environment(PROJECT, "prod")
    stack = yaml.safe_load(files["stack.yaml"].content)
    deploy = stack["services"]["migrate"]["deploy"]
    assert deploy["restart_policy"] == {"condition": "none"}
    assert "update_config" not in deploy
    assert all("depends_on" not in s for s in stack["services"].values())
    script = files["deploy-stack.sh"].content.decode()
    after = script[script.index("docker stack deploy"):]
    assert "one_shot=(migrate)" in script
    assert "docker service update --force" in after and "Complete*)" in after


def _done(code: int = 0, out: str = "", err: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess([], code, out, err)


class FakeSwarm:
    """docker service ps answers in turn from `states` (after the forced update)."""

    def __init__(self, states: list[str], update_code: int = 0) -> None:
        self.old = "old1|Complete 2 hours ago|\n"
        self.states = states
        self.update_code = update_code
        self.calls: list[list[str]] = []

    def __call__(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(args))
        if "update" in args:
            return _done(self.update_code, err="no such service")
        if not [c for c in self.calls if "update" in c]:
            return _done(out=self.old)
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return _done(out=(f"new1|{state}\n" if state else "") + self.old)


@pytest.mark.parametrize(("states", "update_code", "expected"), [
    (["", "Preparing 1 second ago|", "Running 1 second ago|", "Complete 1 second ago|"], 0,
     "Complete 1 second ago"),
    (["Running 1 second ago|", "Failed 1 second ago|task: non-zero exit (1)"], 0,
     "Failed 1 second ago: task: non-zero exit (1)"),
    (["Rejected 1 second ago|no suitable node"], 0, "Rejected 1 second ago: no suitable node"),
    (["Running 1 second ago|"], 0, "not complete after 10 s (Running 1 second ago)"),
    ([""], 0, "not complete after 10 s (no task yet)"),
    (["Complete 1 second ago|"], 1, "docker service update --force churn_migrate failed"),
])
def test_swarm_run_one_shot(states: list[str], update_code: int, expected: str) -> None:
    fake = FakeSwarm(states, update_code)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    def call() -> str:
        return swarm_run_one_shot(["docker"], "churn_migrate", timeout=10, poll=2, run=fake,
                                  sleep=sleep, clock=lambda: now[0])

    if expected.startswith("Complete"):
        assert call() == expected
        # The old, completed task never counts as this deploy's run.
        assert ["docker", "service", "update", "--force", "--detach", "--quiet",
                "churn_migrate"] in fake.calls
    else:
        with pytest.raises(StackError) as failed:
            call()
        prefix = "" if expected.startswith("docker") else "churn_migrate: "
        assert str(failed.value).startswith(prefix + expected)


def test_parse_tasks_keeps_errors_with_bars() -> None:
    tasks = parse_tasks("a|Failed 3 seconds ago|exit | 1\n\nb|Complete 1 hour ago|\n")
    assert [(t.task_id, t.done, t.succeeded, t.error) for t in tasks] == [
        ("a", True, False, "exit | 1"), ("b", True, True, "")]


@pytest.mark.parametrize(("rows", "ok", "said"), [
    ([{"State": "exited", "ExitCode": 0}], True, "exited 0"),
    ([{"State": "exited", "ExitCode": 1}], False, "exited (exit 1)"),
    ([{"State": "running", "ExitCode": 0}], False, "running (exit 0)"),
    ([{"State": "restarting", "ExitCode": 3}], False, "restarting (exit 3)"),
    ([], False, "never ran"),
])
def test_compose_outcome(rows: list[dict[str, object]], ok: bool, said: str) -> None:
    assert compose_outcome(rows) == (ok, said)
