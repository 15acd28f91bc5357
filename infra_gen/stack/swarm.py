"""deploy / wait / rollback / scale / push of an environment's swarm stack.

Everything goes through Remote (DOCKER_HOST=ssh://<manager> through the bastion):
the generated deploy-stack.sh versions the configs and secrets and runs `docker stack
deploy --prune --with-registry-auth`; then the services are watched until every one
has its replicas running and healthy (a task with a healthcheck counts as running only
once healthy), and any update has completed. An update that swarm rolled back
(update_config.failure_action: rollback) is a failure naming the service and why.

With endpoint_mode dnsrr nginx resolves each service to its tasks' addresses when it
starts and reloads: while services change, the load balancer is reloaded whenever the
set of running tasks changes, so a rolling update never leaves it with only stopped
tasks (docs/swarm.md, "Rolling updates").
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StackError
from ..model import duration_seconds
from ..project import Project
from ..topology import Topology, plan
from ..topology.swarm import NODE_LABEL, node_labels
from .docker import Say, docker_binary
from .migrations import one_shot_services
from .remote import Remote

POLL = 2.0
"""Seconds between two looks at the services while waiting."""
ROLLBACK_GRACE = 15.0
"""Seconds a requested rollback may take to show in UpdateStatus."""


@dataclass(frozen=True)
class Task:
    id: str
    service: str
    """Group name (api), without the stack prefix."""
    slot: str
    node: str
    state: str
    """CurrentState: Running 5 seconds ago, Starting ..., Failed ..."""
    error: str

    @property
    def running(self) -> bool:
        return self.state.startswith("Running")


@dataclass(frozen=True)
class ServiceView:
    group: str
    running: int
    desired: int
    image: str
    update: str
    """UpdateStatus.State ('' when the service was never updated)."""
    update_started: str
    update_message: str

    @property
    def converged(self) -> bool:
        return self.running == self.desired and self.update not in ("updating",
                                                                    "rollback_started")


@dataclass
class Swarm:
    project: Project
    topo: Topology
    remote: Remote
    _aliases: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, env: str, root: Path | None = None) -> Swarm:
        project = Project.find(root)
        topo = plan(project.load(env))
        if not topo.env.deploy.swarm or not topo.env.deploy.nodes:
            raise StackError(f"{env}: deploy.swarm and deploy.nodes are needed to deploy to a "
                             "swarm (`infra-gen up` runs an environment on this machine)")
        return cls(project, topo, Remote(topo, project.generated_dir / env))

    @property
    def name(self) -> str:
        return self.topo.compose_project

    @property
    def env_dir(self) -> Path:
        return self.remote.env_dir

    def full(self, group: str) -> str:
        return f"{self.name}_{group}"

    # -- looking ------------------------------------------------------------------
    def services(self) -> dict[str, ServiceView]:
        ls = self.remote.docker("service", "ls", "--filter",
                                f"label=com.docker.stack.namespace={self.name}",
                                "--format", "{{.Name}}|{{.Replicas}}|{{.Image}}").stdout
        views: dict[str, ServiceView] = {}
        names = [line.split("|", 1)[0] for line in ls.splitlines() if line]
        updates: dict[str, list[str]] = {}
        if names:
            fmt = ("{{.Spec.Name}}|{{if .UpdateStatus}}{{.UpdateStatus.State}}|"
                   "{{.UpdateStatus.StartedAt}}|{{.UpdateStatus.Message}}{{else}}||{{end}}")
            out = self.remote.docker("service", "inspect", "--format", fmt, *names).stdout
            updates = {p[0]: p[1:] for p in (line.split("|", 3) for line in out.splitlines())
                       if len(p) == 4}
        for line in ls.splitlines():
            name, replicas, image = (line.split("|") + ["", ""])[:3]
            running, _, desired = replicas.split(" ")[0].partition("/")
            state, started, message = updates.get(name, ["", "", ""])
            group = name.removeprefix(f"{self.name}_")
            views[group] = ServiceView(group, int(running or 0), int(desired or 0), image,
                                       state, started, message)
        return views

    def tasks(self, running_only: bool = True) -> list[Task]:
        args = ["stack", "ps", self.name, "--no-trunc", "--format",
                "{{.ID}}|{{.Name}}|{{.Node}}|{{.CurrentState}}|{{.Error}}"]
        if running_only:
            args[3:3] = ["--filter", "desired-state=running"]
        out = self.remote.docker(*args, check=False).stdout
        tasks = []
        for line in out.splitlines():
            parts = line.split("|", 4)
            if len(parts) != 5:
                continue
            tid, name, node, state, error = parts
            service, _, slot = name.removeprefix(f"{self.name}_").partition(".")
            tasks.append(Task(tid, service, slot, node, state, error))
        return tasks

    def alias_of(self, hostname: str) -> str:
        """The ssh alias of a node (its infra-gen.node label), for exec on it."""
        if hostname not in self._aliases:
            out = self.remote.docker("node", "inspect", "--format",
                                     f'{{{{index .Spec.Labels "{NODE_LABEL}"}}}}', hostname,
                                     check=False).stdout.strip()
            self._aliases[hostname] = out or hostname
        return self._aliases[hostname]

    def node_id(self, alias: str) -> str:
        """The swarm node with label infra-gen.node=<alias>."""
        out = self.remote.docker("node", "ls", "-q", "--filter",
                                 f"node.label={NODE_LABEL}={alias}").stdout.split()
        if len(out) != 1:
            raise StackError(f"{len(out)} swarm nodes carry {NODE_LABEL}={alias} (deploy "
                             "sets the labels)")
        return out[0]

    def exec_in(self, task: Task, *command: str, stdin: str | None = None,
                ) -> tuple[int, str, str]:
        """Run a command in a task's container, on its node (ssh through the bastion)."""
        node = self.alias_of(task.node)
        found = self.remote.docker("ps", "-q", "--filter",
                                   f"label=com.docker.swarm.task.id={task.id}", node=node).stdout
        container = found.split()[0] if found.split() else ""
        if not container:
            return 1, "", f"no container of task {task.service}.{task.slot} on {node}"
        result = subprocess.run([docker_binary(), "exec", *(["-i"] if stdin else []), container,
                                 *command], input=stdin, capture_output=True, text=True,
                                check=False, env=self.remote.environ(node), timeout=600)
        return result.returncode, result.stdout, result.stderr

    # -- the load balancer ---------------------------------------------------------
    def reload_lb(self, tasks: list[Task] | None = None) -> bool:
        """nginx -s reload in every running lb task; False when one failed (retried later)."""
        lbs = [t for t in (tasks if tasks is not None else self.tasks())
               if t.running and self.topo.container(t.service).kind == "lb"]
        ok = bool(lbs)
        for t in lbs:
            code, _, _ = self.exec_in(t, "nginx", "-s", "reload")
            ok = ok and code == 0
        return ok

    # -- changing -------------------------------------------------------------------
    def apply_labels(self, say: Say) -> None:
        """Put each node's labels from the model on it (idempotent); a node is found by
        its ssh.hosts address (the swarm's advertise address), else its hostname."""
        by_addr: dict[str, str] = {}
        out = self.remote.docker("node", "ls", "-q").stdout.split()
        if out:
            info = self.remote.docker("node", "inspect", "--format",
                                      "{{.ID}}|{{.Status.Addr}}|{{.Description.Hostname}}",
                                      *out).stdout
            for line in info.splitlines():
                nid, addr, host = line.split("|")
                by_addr[addr] = nid
                by_addr.setdefault(host, nid)
        for alias, labels in node_labels(self.topo.env).items():
            found = by_addr.get(self.topo.env.ssh.hosts[alias]) or by_addr.get(alias)
            if found is None:
                raise StackError(f"deploy.nodes.{alias}: no swarm node has address "
                                 f"{self.topo.env.ssh.hosts[alias]} or hostname {alias} "
                                 "(join it to the swarm first)")
            args = [a for k, v in labels.items() for a in ("--label-add", f"{k}={v}")]
            self.remote.docker("node", "update", *args, found)
        say(f"node labels set on {len(node_labels(self.topo.env))} nodes")

    def wait(self, say: Say, before: dict[str, tuple[str, str]], timeout: float,
             groups: set[str] | None = None, rolling_back: bool = False) -> float:
        """Until every service (of groups) converged; reloads the lb as tasks change.
        Returns the seconds it took; a rollback (unless rolling_back: one was asked
        for) or the timeout is a StackError."""
        t0 = time.monotonic()
        # A run-once service (migrate) ends at 0/1: deploy-stack.sh ran it and checked
        # its exit; it never "converges" as a long-running one does.
        once = set(one_shot_services(self.topo))
        shown: dict[str, str] = {}
        seen: frozenset[str] = frozenset()
        pending_reload = False
        while True:
            views = {g: v for g, v in self.services().items()
                     if (groups is None or g in groups) and g not in once}
            tasks = self.tasks()
            running = frozenset(t.id for t in tasks if t.running
                                and self.topo.container(t.service).kind != "lb")
            if running != seen:
                seen, pending_reload = running, True
            if pending_reload and self.reload_lb(tasks):
                pending_reload = False
            for g, v in sorted(views.items()):
                line = f"{v.running}/{v.desired}" + (f" ({v.update})" if v.update else "")
                if shown.get(g) != line:
                    say(f"{g}: {line}")
                    shown[g] = line
                failed = ("rollback_paused", "paused") if rolling_back else (
                    "rollback_completed", "rollback_paused", "paused")
                if (v.update, v.update_started) != before.get(g, ("", "")) and \
                        v.update in failed:
                    raise StackError(f"{g}: update failed and was rolled back ({v.update}): "
                                     f"{v.update_message or 'no message'}"
                                     + self._task_errors(g))
            # A rollback to an identical spec never shows as started: give up waiting
            # for it after a few polls.
            started = not rolling_back or time.monotonic() - t0 > ROLLBACK_GRACE or all(
                (v.update, v.update_started) != before.get(g, ("", ""))
                for g, v in views.items())
            if views and started and all(v.converged for v in views.values()) \
                    and not pending_reload:
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                late = [g for g, v in views.items() if not v.converged]
                raise StackError(f"not converged after {timeout:.0f} s: "
                                 + "; ".join(f"{g} {views[g].running}/{views[g].desired}"
                                             + self._task_errors(g) for g in late))
            time.sleep(POLL)

    def _task_errors(self, group: str) -> str:
        bad = [t for t in self.tasks(running_only=False)
               if t.service == group and (t.error or t.state.startswith(("Failed", "Rejected")))]
        if not bad:
            return ""
        t = bad[0]
        return f" (task {group}.{t.slot} on {t.node}: {t.state}: {t.error or 'no error text'})"

    def update_marks(self) -> dict[str, tuple[str, str]]:
        return {g: (v.update, v.update_started) for g, v in self.services().items()}

    @property
    def timeout(self) -> float:
        return duration_seconds(self.topo.env.deploy.update.timeout)


__all__ = ["ServiceView", "Swarm", "Task"]
