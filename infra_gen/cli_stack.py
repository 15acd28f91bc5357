"""`infra-gen` commands on a running stack (up, down, scale, status, logs, verify)
and on a swarm (deploy, rollback, push): parse, call, print. Registered on cli.app."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .cli import FormatOption, RootOption, app, out
from .completion import complete_env
from .output import Format, all_healthy, progress_off_stdout, states_json, write_json

# -- the running stack (infra_gen/stack/) --------------------------------------
StackEnvArg = Annotated[str, typer.Argument(help="Environment name.", autocompletion=complete_env)]


def _say(message: str) -> None:
    out.print(f"[bold]==>[/bold] {message}", markup=True, highlight=False)


def _status_table(states: list) -> Table:  # type: ignore[type-arg]
    table = Table("service", "replica", "state", "health", "published")
    for s in states:
        style = "green" if s.state == "running" and s.health in ("healthy", "-") else "red"
        table.add_row(s.service, str(s.replica), f"[{style}]{s.state}[/{style}]",
                      s.health, s.ports or "")
    return table


@app.command()
def up(
    env: StackEnvArg = "dev",
    root: RootOption = None,
    build: Annotated[bool, typer.Option("--build/--no-build", help="Build the images first.")] = True,
    rerender: Annotated[
        bool, typer.Option("--render/--no-render", help="Render generated/ENV/ first.")
    ] = True,
    wait_timeout: Annotated[int, typer.Option(help="Seconds to wait for every service to be healthy.")] = 600,
    replace_stale_volumes: Annotated[bool, typer.Option(
        "--replace-stale-volumes",
        help="When secrets are new but data volumes exist, remove the volumes (data lost).",
    )] = False,
    fmt: FormatOption = Format.text,
) -> None:
    """Start ENV: Docker, images, render, secrets, compose up --wait, migrations, URLs."""
    from . import stack

    st = stack.Stack.load(env, root)
    with progress_off_stdout(fmt):
        timings = stack.up(st, _say, build=build, rerender=rerender,
                           wait_timeout=wait_timeout, replace_stale_volumes=replace_stale_volumes)
    if fmt is Format.json:
        write_json(states_json(env, st.status(), urls=st.topo.urls, seconds=timings))
        return
    out.print(_status_table(st.status()))
    for name, url in st.topo.urls.items():
        out.print(f"  {name:<13} {url}")
    figures = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
    out.print(f"{env} is up ({figures})")


@app.command()
def down(
    env: StackEnvArg = "dev",
    root: RootOption = None,
    volumes: Annotated[bool, typer.Option("--volumes", help="Also remove the data volumes.")] = False,
) -> None:
    """Stop and remove ENV's containers and networks (volumes kept unless --volumes)."""
    from . import stack

    stack.down(stack.Stack.load(env, root), _say, volumes=volumes)


@app.command()
def scale(
    env: Annotated[str, typer.Argument(help="Environment name.")],
    counts: Annotated[list[str], typer.Argument(help="GROUP=N for each app service to scale.")],
    root: RootOption = None,
    reload: Annotated[bool, typer.Option(
        "--reload/--no-reload", help="Reload the load balancer once the replicas are healthy.",
    )] = True,
    fmt: FormatOption = Format.text,
) -> None:
    """Run N replicas of GROUP in the running ENV, with no re-render, then reload nginx."""
    from . import stack
    from .stack import deploy as swarm

    if swarm.on_swarm(env, root):
        _swarm_scale(env, counts, root)
        return
    from .stack.scale import parse_counts
    from .stack.scale import scale as run_scale

    st = stack.Stack.load(env, root)
    with progress_off_stdout(fmt):
        timings = run_scale(st, parse_counts(st, counts), _say, reload=reload)
    if fmt is Format.json:
        write_json(states_json(env, st.status(), seconds=timings))
        return
    out.print(_status_table(st.status()))
    out.print(", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))


@app.command()
def status(env: StackEnvArg = "dev", root: RootOption = None, fmt: FormatOption = Format.text) -> None:
    """Every service and replica of ENV with its state and health (exit 1 unless all healthy)."""
    from . import stack
    from .stack import deploy as swarm

    if swarm.on_swarm(env, root):
        _swarm_status(env, root)
        return

    states = stack.Stack.load(env, root).status()
    if fmt is Format.json:
        write_json(states_json(env, states))
    else:
        out.print(_status_table(states))
    if not all_healthy(states):
        raise typer.Exit(1)


@app.command()
def logs(
    env: StackEnvArg = "dev",
    service: Annotated[str | None, typer.Argument(help="Service or group (api = every api replica).")] = None,
    root: RootOption = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep following.")] = False,
    tail: Annotated[str, typer.Option(help="Lines per container ('all' for every line).")] = "200",
) -> None:
    """The logs of ENV, or of one SERVICE."""
    from . import stack

    raise typer.Exit(stack.logs(stack.Stack.load(env, root), service, follow, tail))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def verify(ctx: typer.Context, env: StackEnvArg = "dev", root: RootOption = None) -> None:
    """Check the running ENV (pytest tests/stack: testinfra, HTTP, databases). Extra args go to pytest."""
    from . import stack

    raise typer.Exit(stack.verify(stack.Stack.load(env, root), ctx.args))


# -- a swarm environment (deploy.nodes): infra_gen/stack/deploy.py ------------------
def _swarm(env: str, root: Path | None):  # type: ignore[no-untyped-def]
    from .stack.swarm import Swarm

    return Swarm.load(env, root)


@app.command()
def deploy(
    env: StackEnvArg,
    root: RootOption = None,
    push: Annotated[bool, typer.Option("--push", help="Push the images built here first.")] = False,
    push_via: Annotated[str | None, typer.Option(
        "--push-via", help="HOST:PORT where this machine reaches images.registry's registry.",
    )] = None,
    migrations: Annotated[bool, typer.Option(
        "--migrate/--no-migrate", help="Run the database migrations once converged.",
    )] = True,
) -> None:
    """Deploy ENV to its swarm over SSH through the bastion; wait until converged and healthy."""
    from .stack import deploy as ops

    sw = _swarm(env, root)
    try:
        timings = ops.deploy(sw, _say, push, push_via, migrations)
    finally:
        sw.remote.close()
    out.print(f"{env} deployed ({', '.join(f'{k} {v:.1f} s' for k, v in timings.items())})")


@app.command()
def rollback(
    env: StackEnvArg,
    group: Annotated[str | None, typer.Argument(help="One service (default: every one).")] = None,
    root: RootOption = None,
) -> None:
    """Roll ENV's services (or GROUP) back to their previous version on the swarm."""
    from .stack import deploy as ops

    sw = _swarm(env, root)
    try:
        took = ops.rollback(sw, _say, group)
    finally:
        sw.remote.close()
    out.print(f"rolled back in {took:.1f} s")


@app.command()
def push(
    env: StackEnvArg,
    root: RootOption = None,
    via: Annotated[str | None, typer.Option(
        "--via", help="HOST:PORT where this machine reaches images.registry's registry.",
    )] = None,
) -> None:
    """Push the images built here to ENV's registry (images.registry)."""
    from .stack import deploy as ops

    ops.push(_swarm(env, root), _say, via)


def _swarm_scale(env: str, counts: list[str], root: Path | None) -> None:
    from .stack import deploy as ops

    sw = _swarm(env, root)
    try:
        took = ops.scale(sw, _say, counts)
    finally:
        sw.remote.close()
    out.print(f"scaled in {took:.1f} s")


def _swarm_status(env: str, root: Path | None) -> None:
    from .stack import deploy as ops

    sw = _swarm(env, root)
    try:
        rows, healthy = ops.status(sw)
    finally:
        sw.remote.close()
    table = Table("service", "replicas", "update", "tasks (node: state)")
    for service, replicas, update, tasks in rows:
        table.add_row(service, replicas, update, tasks)
    out.print(table)
    if not healthy:
        raise typer.Exit(1)


