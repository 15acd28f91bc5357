"""The `infra-gen` command line: parse, call, print, exit code. Nothing more."""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .artifacts import REGISTRY
from .errors import DriftError, UserError
from .project import Project
from .render import differences, read_tree, render_environment, write_tree
from .topology import plan

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Render every deployment artifact of a Docker stack from one typed model per environment.",
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

RootOption = Annotated[
    Path | None, typer.Option("--root", help="Project directory (default: found from the cwd upward).")
]
EnvsArg = Annotated[list[str] | None, typer.Argument(help="Environment names.", show_default=False)]
AllOption = Annotated[bool, typer.Option("--all", help="Every environment.")]


def _environments(project: Project, names: list[str] | None, every: bool) -> list[str]:
    if every or not names:
        if not every:
            raise UserError("name at least one environment, or use --all")
        return project.environment_names
    for name in names:
        project.environment_path(name)
    return names


@app.command()
def render(
    envs: EnvsArg = None,
    every: AllOption = False,
    root: RootOption = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write to DIR/<env>/ instead of generated/<env>/.")
    ] = None,
) -> None:
    """Render environments into generated/<env>/ (all of them first, then written atomically)."""
    project = Project.find(root)
    names = _environments(project, envs, every)
    # Render everything before writing anything: one bad environment writes nothing.
    trees = {name: render_environment(project, name) for name in names}
    target = out_dir or project.generated_dir
    for name, files in trees.items():
        write_tree(target / name, files)
        out.print(f"rendered {name}: {len(files)} files in {target / name}")


@app.command()
def check(root: RootOption = None) -> None:
    """Exit 1, listing the files, when generated/ differs from a fresh render."""
    project = Project.find(root)
    stale: list[str] = []
    for name in project.environment_names:
        diff = differences(render_environment(project, name), read_tree(project.generated_dir / name))
        stale += [f"generated/{name}/{path}" for path in diff]
    if stale:
        raise DriftError(
            [*stale, "generated/ is stale: run `infra-gen render --all` (or `make render`)"]  # type: ignore[list-item]
        )
    out.print(f"generated/ is up to date ({len(project.environment_names)} environments)")


@app.command()
def diff(env: Annotated[str, typer.Argument(help="Environment name.")], root: RootOption = None) -> None:
    """Unified diff of a fresh render against generated/<env>/ (exit 1 when they differ)."""
    project = Project.find(root)
    rendered = render_environment(project, env)
    on_disk = read_tree(project.generated_dir / env)
    changed = differences(rendered, on_disk)
    for path in changed:
        old = on_disk.get(path, b"").decode(errors="replace").splitlines(keepends=True)
        new = rendered[path].content.decode() if path in rendered else ""
        sys.stdout.writelines(
            difflib.unified_diff(old, new.splitlines(keepends=True),
                                 f"a/generated/{env}/{path}", f"b/generated/{env}/{path}")
        )
    if changed:
        raise typer.Exit(1)


@app.command()
def schema(
    out_file: Annotated[Path | None, typer.Option("--out", help="Write to FILE instead of stdout.")] = None,
) -> None:
    """The JSON Schema of an environment file (for editors and CI)."""
    from .model import Environment

    text = json.dumps(Environment.model_json_schema(by_alias=True), indent=2) + "\n"
    if out_file:
        out_file.write_text(text)
    else:
        sys.stdout.write(text)


@app.command("list")
def list_(root: RootOption = None) -> None:
    """Environments and the artifacts each renders."""
    project = Project.find(root)
    table = Table("environment", "artifact", "files")
    for name in project.environment_names:
        topo = plan(project.load(name))
        for kind in REGISTRY:
            paths = [o.path for o in kind.outputs(topo)]
            if paths:
                table.add_row(name, kind.name, ", ".join(paths))
    out.print(table)


def main() -> None:
    try:
        app(standalone_mode=False)
    except UserError as exc:
        for problem in exc.problems:
            err.print(f"error: {problem}", markup=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(2)
        raise
