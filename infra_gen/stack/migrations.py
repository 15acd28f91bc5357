"""The one-shot services (the database migrations) of a deploy.

On one host, compose runs the `migrate` service before the API and the worker
(`depends_on: condition: service_completed_successfully`); `infra-gen up` then only
reports what it did (`compose_outcome`). Swarm ignores depends_on: the stack file
gives the service `restart_policy: none`, and the deploy runs it once more after
`docker stack deploy` and waits for its exit (`swarm_run_one_shot`, the same step
deploy-stack.sh takes in bash).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import StackError
from ..topology import Topology

Run = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]
"""Runs one docker command line and returns its result (never raises on exit codes)."""


def one_shot_services(topo: Topology) -> list[str]:
    """The run-once services of the topology, in start order."""
    return [c.name for c in topo.containers if c.one_shot]


def _run(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=False)


@dataclass(frozen=True)
class TaskState:
    task_id: str
    state: str
    """docker service ps' CurrentState: "Complete 3 seconds ago", "Failed ...", ..."""
    error: str

    @property
    def done(self) -> bool:
        return self.state.startswith(("Complete", "Failed", "Rejected"))

    @property
    def succeeded(self) -> bool:
        return self.state.startswith("Complete")


def parse_tasks(text: str) -> list[TaskState]:
    """Lines of `docker service ps --no-trunc --format '{{.ID}}|{{.CurrentState}}|{{.Error}}'`."""
    tasks = []
    for line in text.splitlines():
        if not line.strip():
            continue
        task_id, _, rest = line.partition("|")
        state, _, error = rest.partition("|")
        tasks.append(TaskState(task_id.strip(), state.strip(), error.strip()))
    return tasks


def _tasks(docker: Sequence[str], service: str, run: Run) -> list[TaskState]:
    result = run([*docker, "service", "ps", "--no-trunc", "--format",
                  "{{.ID}}|{{.CurrentState}}|{{.Error}}", service])
    return parse_tasks(result.stdout) if result.returncode == 0 else []


def swarm_run_one_shot(
    docker: Sequence[str], service: str, *, timeout: float = 300, poll: float = 2,
    run: Run = _run, sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Run the swarm service `service` (`<stack>_migrate`) once more and wait for its
    task to exit; returns the task's final state, raises StackError when it failed
    or did not finish in `timeout` seconds.

    docker: the command that reaches the swarm manager (["docker"], or
    ["ssh", "manager", "docker"], or ["docker", "exec", "node1", "docker"]). Call it
    after `docker stack deploy`: the migrations are idempotent, so running them again
    after a deploy that already started a task costs one short transaction.
    """
    before = {t.task_id for t in _tasks(docker, service, run)}
    forced = run([*docker, "service", "update", "--force", "--detach", "--quiet", service])
    if forced.returncode != 0:
        raise StackError(f"docker service update --force {service} failed: "
                         f"{(forced.stderr or forced.stdout).strip()}")
    deadline = clock() + timeout
    last = "no task yet"
    while True:
        new = [t for t in _tasks(docker, service, run) if t.task_id not in before]
        if new:
            task = new[0]  # docker service ps lists the newest task of the slot first
            last = task.state
            if task.succeeded:
                return task.state
            if task.done:
                raise StackError(f"{service}: {task.state}"
                                 + (f": {task.error}" if task.error else ""))
        if clock() >= deadline:
            raise StackError(f"{service}: not complete after {timeout:g} s ({last})")
        sleep(poll)


def compose_outcome(ps_rows: Sequence[dict[str, object]]) -> tuple[bool, str]:
    """(succeeded, what to say) of a one-shot compose service from its `docker
    compose ps -a --format json` rows: every container exited 0."""
    if not ps_rows:
        return False, "never ran"
    codes = [int(str(r.get("ExitCode", -1))) for r in ps_rows]
    states = [str(r.get("State", "")) for r in ps_rows]
    if all(s == "exited" for s in states) and all(c == 0 for c in codes):
        return True, "exited 0"
    return False, ", ".join(f"{s} (exit {c})" for s, c in zip(states, codes, strict=True))
