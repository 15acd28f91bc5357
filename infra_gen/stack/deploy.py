"""`infra-gen deploy | rollback | scale | status | push` for a swarm environment.

deploy: render, secrets, (push), node labels, deploy-stack.sh --with-registry-auth
(versioned configs and secrets, `docker stack deploy --prune`), wait until converged
and healthy with progress, then the database migrations in a running api task.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from ..errors import StackError, UserError
from ..project import Project
from ..topology.swarm import manager, placement
from .compose import render_files
from .docker import Say, docker_binary
from .scale import MAX_REPLICAS, parse_assignments
from .secrets import ensure_secrets, secrets_dir
from .swarm import Swarm, Task


def local_image(sw: Swarm, ref: str) -> str:
    """The image build-images.sh made for a model reference (infra-gen/NAME:TAG)."""
    prefix = sw.topo.env.images.registry
    return "infra-gen/" + ref.removeprefix(prefix + "/")


def push(sw: Swarm, say: Say, via: str | None = None) -> list[str]:
    """Push every image built here to the registry of images.registry; `via` replaces
    its host:port where this machine reaches the registry under another address."""
    refs = sorted({c.image for c in sw.topo.containers if c.built_here})
    registry_host = sw.topo.env.images.registry.split("/", 1)[0]
    pushed = []
    for ref in refs:
        source = local_image(sw, ref)
        target = f"{via}/{ref.split('/', 1)[1]}" if via else ref
        for args in (["tag", source, target], ["push", "--quiet", target]):
            result = subprocess.run([docker_binary(), *args], capture_output=True, text=True,
                                    check=False, timeout=900)
            if result.returncode != 0:
                raise StackError(f"docker {args[0]} {target} failed: "
                                 f"{result.stderr.strip() or result.stdout.strip()}")
        pushed.append(ref)
        say(f"pushed {ref}" + (f" (as {target}, the same registry as {registry_host})"
                               if via else ""))
    return pushed


def _api_task(sw: Swarm) -> Task:
    apis = [c.name for c in sw.topo.of_kind("api")]
    tasks = [t for t in sw.tasks() if t.running and t.service in apis]
    if not tasks:
        raise StackError(f"no running task of {apis[0]} to run the migrations in")
    return tasks[0]


def migrate(sw: Swarm, say: Say) -> None:
    """The one-shot migration: `app-entrypoint migrate` in a running api task (as
    `infra-gen up` does in compose), then the environment's indexes on the primary."""
    task = _api_task(sw)
    say(f"database migrations (app-entrypoint migrate in {task.service}.{task.slot} "
        f"on {task.node})")
    code, out, err = sw.exec_in(task, "app-entrypoint", "migrate")
    if code != 0:
        raise StackError(f"migrations failed in {task.service}: {err.strip() or out.strip()}")
    indexes = sw.env_dir / "postgres" / "indexes.sql"
    primary = [t for t in sw.tasks() if t.running
               and sw.topo.container(t.service).kind == "postgres"]
    if indexes.is_file() and primary:
        db = sw.topo.env.postgres.database
        code, _, err = sw.exec_in(primary[0], "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                                  "-d", db, "-f", "-", stdin=indexes.read_text())
        if code != 0:
            raise StackError(f"indexes on {primary[0].service} failed: {err.strip()}")
        say("indexes of the environment applied on the primary")


def deploy(sw: Swarm, say: Say, push_images: bool = False, push_via: str | None = None,
           migrations: bool = True) -> dict[str, float]:
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    render_files(sw.project, sw.topo, sw.env_dir, say)
    created = ensure_secrets(sw.topo, secrets_dir(sw.topo, sw.env_dir))
    say("secrets: " + (f"created {', '.join(created)}" if created else "all present, kept"))
    if push_images:
        push(sw, say, push_via)
        timings["push"] = time.monotonic() - t0
    say(f"swarm manager {sw.remote.manager} (DOCKER_HOST=ssh://{sw.remote.manager}, "
        f"through the bastion with {sw.remote.ssh_config})")
    sw.apply_labels(say)
    before = sw.update_marks()
    t = time.monotonic()
    say(f"docker stack deploy --prune --with-registry-auth {sw.name} (deploy-stack.sh: "
        "configs and secrets versioned)")
    result = sw.remote.run_here(["bash", "deploy-stack.sh", "--with-registry-auth"],
                                cwd=sw.env_dir)
    if result.returncode != 0:
        raise StackError("docker stack deploy failed: "
                         + (result.stderr.strip() or result.stdout.strip()))
    timings["converged"] = sw.wait(say, before, sw.timeout)
    say(f"every service converged and healthy in {time.monotonic() - t:.1f} s")
    if migrations:
        migrate(sw, say)
    timings["total"] = time.monotonic() - t0
    return timings


def rollback(sw: Swarm, say: Say, group: str | None = None) -> float:
    """docker service rollback of one group, or of every service that has a previous spec."""
    known = {c.name for c in sw.topo.containers}
    if group is not None and group not in known:
        raise UserError(f"rollback: {group!r} is not a service of {sw.topo.name}; expected one "
                        f"of: {', '.join(sorted(known))}")
    groups = [group] if group else sorted(known)
    before = sw.update_marks()
    done = []
    for g in groups:
        result = sw.remote.docker("service", "rollback", "--detach", sw.full(g), check=False)
        if result.returncode == 0:
            done.append(g)
        elif group is not None:
            raise StackError(f"rollback of {g} failed: {result.stderr.strip()}")
    if not done:
        raise StackError("nothing to roll back (no service has a previous version)")
    say(f"rolling back {', '.join(done)}")
    # Reloads the lb as tasks change, like a deploy; waits for the rollback to begin.
    return sw.wait(say, before, sw.timeout, groups=set(done), rolling_back=True)


def scale(sw: Swarm, say: Say, assignments: list[str]) -> float:
    """docker service scale, wait until the new tasks are healthy, reload the lb."""
    scalable = [c.name for c in sw.topo.containers if c.scalable]
    counts = parse_assignments(assignments, scalable, sw.topo.name, MAX_REPLICAS)
    before = sw.update_marks()
    sw.remote.docker("service", "scale", "--detach",
                     *(f"{sw.full(g)}={n}" for g, n in sorted(counts.items())))
    say("docker service scale " + " ".join(f"{g}={n}" for g, n in sorted(counts.items())))
    took = sw.wait(say, before, sw.timeout, groups=set(counts))
    # wait() reloads as tasks change; once more now that every new task is healthy.
    if not sw.reload_lb():
        raise StackError("nginx reload in the lb task failed")
    say("load balancer reloaded: it resolves the new set of tasks")
    return took


def on_swarm(env_name: str, root: Path | None = None) -> bool:
    """Whether ENV's commands go to a swarm (deploy.nodes set) rather than compose."""
    return manager(Project.find(root).load(env_name)) is not None


def status(sw: Swarm) -> tuple[list[tuple[str, str, str, str]], bool]:
    """(service, running/desired, update state, tasks per node) rows; healthy when every
    planned service runs all its tasks (a task with a healthcheck runs once healthy)."""
    views = sw.services()
    tasks = sw.tasks()
    rows = []
    for c in sw.topo.containers:
        v = views.get(c.name)
        mine = sorted((t for t in tasks if t.service == c.name), key=lambda t: t.slot)
        per_node = ", ".join(f"{t.node}: {t.state.split(' ')[0].lower()}" for t in mine)
        rows.append((c.name, f"{v.running}/{v.desired}" if v else "missing",
                     v.update if v else "", per_node))
    # A run-once service (migrate) has done its work at 0/1: deploy checked its exit.
    healthy = all(v is not None and v.running == v.desired and v.desired > 0
                  for v in (views.get(c.name) for c in sw.topo.containers
                            if c.replicas and not c.one_shot))
    return rows, healthy


def drain(sw: Swarm, say: Say, alias: str, active: bool = False) -> float:
    """Drain a node (its tasks move to the others) or make it active again; waits for
    every service that may move, and reloads the lb. A service pinned to the node (its
    volume is there) stays down while it is drained: the runbook says what to do."""
    if alias not in sw.topo.env.deploy.nodes:
        raise UserError(f"drain: {alias!r} is not a node of {sw.topo.name}; expected one of: "
                        f"{', '.join(sw.topo.env.deploy.nodes)}")
    pinned = {c.name for c in sw.topo.containers
              if (p := placement(sw.topo.env, c)) is not None and p.pinned_to == alias}
    before = sw.update_marks()
    state = "active" if active else "drain"
    sw.remote.docker("node", "update", "--availability", state, sw.node_id(alias))
    say(f"{alias}: availability {state}" + (f" ({', '.join(sorted(pinned))} stay on it)"
                                             if pinned and not active else ""))
    movable = {c.name for c in sw.topo.containers if c.replicas} - (set() if active else pinned)
    took = sw.wait(say, before, sw.timeout, groups=movable)
    sw.reload_lb()
    return took
