"""The `infra-gen` command line: parse, call, print, exit code. Nothing more."""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from . import commands
from .artifacts import REGISTRY
from .commands import select_environments as _environments
from .completion import complete_env, complete_field
from .errors import ToolMissingError, UserError, ValidationFailed, printable
from .output import (
    Format,
    artifacts_json,
    rendered_json,
    write_json,
)
from .project import Project
from .render import differences, read_tree, render_environment, write_file
from .topology import plan

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    help="Render every deployment artifact of a Docker stack from one typed model per environment.",
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        sys.stdout.write(f"infra-gen {__version__}\n")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool | None, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.",
    )] = None,
    project: Annotated[Path | None, typer.Option(
        "--project", "-C", help="Project directory for the command that follows (as git -C).",
        show_default=False,
    )] = None,
) -> None:
    """Render every deployment artifact of a Docker stack from one typed model per environment."""
    if project is not None:
        # Each command's own -C/--project reads this variable as its default.
        os.environ["INFRA_GEN_PROJECT"] = str(project)


# -C like git and make; --root is the older name. Found from DIR upward.
RootOption = Annotated[Path | None, typer.Option(
    "--project", "-C", "--root", envvar="INFRA_GEN_PROJECT", show_envvar=True,
    help="Project directory (default: found from the cwd upward).",
)]
EnvsArg = Annotated[list[str] | None, typer.Argument(
    help="Environment names.", show_default=False, autocompletion=complete_env,
)]
AllOption = Annotated[bool, typer.Option("--all", help="Every environment.")]
FormatOption = Annotated[Format, typer.Option(
    "--format", case_sensitive=False, help="text for people, json for programs (README: shapes).",
)]


@app.command()
def init(
    directory: Annotated[Path | None, typer.Argument(
        help="Where (default: -C DIR, else the current directory); created if missing.",
        show_default=False)] = None,
    root: RootOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace files that exist.")] = False,
) -> None:
    """Scaffold a project: environments/, schema, .gitignore, CI workflow, pre-commit, README."""
    from .scaffold import init as scaffold

    target = directory or root or Path.cwd()
    for rel in scaffold(target, force):
        out.print(f"wrote {target / rel}", markup=False, emoji=False)
    out.print("next: infra-gen render --all, then commit environments/ and generated/",
              markup=False, emoji=False)


@app.command()
def render(
    envs: EnvsArg = None,
    every: AllOption = False,
    root: RootOption = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write to DIR/<env>/ instead of generated/<env>/.")
    ] = None,
    fmt: FormatOption = Format.text,
) -> None:
    """Render environments into generated/<env>/ (all of them first, then written atomically)."""
    trees, target = commands.render_trees(root, envs, every, out_dir)
    if fmt is Format.json:
        write_json(rendered_json(trees, target))
        return
    for name, files in trees.items():
        out.print(f"rendered {name}: {len(files)} files in {target / name}", markup=False, emoji=False)


@app.command()
def check(root: RootOption = None, fmt: FormatOption = Format.text) -> None:
    """Exit 1, listing the files, when generated/ differs from a fresh render."""
    names, stale = commands.stale_files(root)
    if fmt is Format.json:
        write_json({"up_to_date": not stale, "environments": names, "stale": stale})
    if stale:
        raise commands.drift_error(stale)
    if fmt is Format.text:
        out.print(f"generated/ is up to date ({len(names)} environments)")


@app.command()
def diff(
    env: Annotated[str, typer.Argument(help="Environment name.", autocompletion=complete_env)],
    root: RootOption = None,
    fmt: FormatOption = Format.text,
) -> None:
    """Unified diff of a fresh render against generated/<env>/ (exit 1 when they differ)."""
    project = Project.find(root)
    rendered = render_environment(project, env)
    on_disk = read_tree(project.generated_dir / env)
    changed = differences(rendered, on_disk)
    patches: dict[str, str] = {}
    for path in changed:
        old = on_disk.get(path, b"").decode(errors="replace").splitlines(keepends=True)
        new = rendered[path].content.decode() if path in rendered else ""
        patches[f"generated/{env}/{path}"] = "".join(
            difflib.unified_diff(old, new.splitlines(keepends=True),
                                 f"a/generated/{env}/{path}", f"b/generated/{env}/{path}")
        )
    if fmt is Format.json:
        write_json({"environment": env, "changed": list(patches), "diff": patches})
    else:
        sys.stdout.writelines(patches.values())
    if changed:
        raise typer.Exit(1)


@app.command()
def schema(
    out_file: Annotated[Path | None, typer.Option("--out", help="Write to FILE instead of stdout.")] = None,
    merged: Annotated[bool, typer.Option(
        "--merged", help="The schema of a merged environment (every required field), not of one file.",
    )] = False,
) -> None:
    """The JSON Schema of an environment file, for editors and CI (docs/environment.schema.json)."""
    from .model.schema import schema_text

    text = schema_text(merged)
    if out_file:
        write_file(out_file, text)
    else:
        sys.stdout.write(text)


@app.command()
def explain(
    env: Annotated[str, typer.Argument(help="Environment name.", autocompletion=complete_env)],
    field: Annotated[str, typer.Argument(
        help="Dotted field path, e.g. postgres.max_connections.", autocompletion=complete_field,
    )],
    root: RootOption = None,
    fmt: FormatOption = Format.text,
) -> None:
    """The effective value of FIELD in ENV and the file and line of the extends chain that set it."""
    from .explain import explain as run_explain

    found = run_explain(Project.find(root), env, field)
    if fmt is Format.json:
        write_json(found.as_json())
    else:
        sys.stdout.write("".join(f"{printable(line)}\n" for line in found.text()))


@app.command("list")
def list_(root: RootOption = None, fmt: FormatOption = Format.text) -> None:
    """Environments and the artifacts each renders."""
    project = Project.find(root)
    rows: list[tuple[str, str, list[str]]] = []
    for name in project.environment_names:
        topo = plan(project.load(name))
        for kind in REGISTRY:
            paths = [o.path for o in kind.outputs(topo)]
            if paths:
                rows.append((name, kind.name, paths))
    if fmt is Format.json:
        write_json(artifacts_json(rows))
        return
    table = Table("environment", "artifact", "files")
    for name, kind_name, paths in rows:
        table.add_row(name, kind_name, ", ".join(paths))
    out.print(table)


# The running stack and the swarm commands live in cli_stack.py; importing it here
# registers them on `app` in this place of the help's command list.
from . import cli_stack  # noqa: E402, F401


@app.command()
def validate(
    envs: EnvsArg = None,
    every: AllOption = False,
    root: RootOption = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="A skipped check is a failure (also CI=true).")
    ] = False,
    generated: Annotated[
        bool, typer.Option("--generated", help="Check generated/<env>/ as it is, not a fresh render.")
    ] = False,
    fmt: FormatOption = Format.text,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Run every check, even one whose inputs did not change (.infra-gen-cache/).",
    )] = False,
) -> None:
    """Run every semantic and real-tool check; exit 1 when one failed.

    On a terminal a live bar shows the checks as they finish (never in CI or a pipe)."""
    from .validate import validate as run_validation
    from .validate.progress import live
    from .validate.report import print_report

    project = Project.find(root)
    names = _environments(project, envs, every)
    with live(err, ", ".join(names)) as observer:
        report = run_validation(project, names, strict, generated, observer=observer,
                                cache=True, reuse=not no_cache)
    print_report(report, fmt.value, out)
    if not report.ok:
        raise ValidationFailed(f"{len(report.failed)} check(s) failed (see above)")


@app.command()
def doctor(fmt: FormatOption = Format.text) -> None:
    """Every external tool validate runs: found or not, version, how to install it.

    Exit 0 when every required tool is found, 1 when one is missing."""
    from .doctor import diagnose

    found = diagnose()
    if fmt is Format.json:
        write_json(found.as_json())
    else:
        found.print_table(out)
    if not found.ok:
        names = ", ".join(t.name for t in found.missing)
        raise ToolMissingError(f"required tool(s) not found: {names} (install hints above)")


def _click_errors() -> tuple[type[Exception], ...]:
    """ClickException of click and of the copy recent typer versions vendor."""
    found = []
    for name in ("click.exceptions", "typer._click.exceptions"):
        try:
            found.append(importlib.import_module(name).ClickException)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


_CLICK_ERRORS = _click_errors()


def _usage(argv: list[str]) -> str:
    """The usage line of the command argv names, for the errors click raises without a
    context (an option missing its value)."""
    group = typer.main.get_command(app)
    root = group.context_class(group, info_name="infra-gen")
    commands = getattr(group, "commands", {})
    name = next((a for a in argv if a in commands), None)
    if name is None:
        return group.get_usage(root)
    command = commands[name]
    return str(command.get_usage(command.context_class(command, info_name=name, parent=root)))


def main() -> None:
    try:
        # Without standalone mode click returns (not raises) the code of typer.Exit.
        code = app(standalone_mode=False)
    except UserError as exc:
        # Plain writes: a problem quotes user text, which rich would read as markup
        # or emoji codes (file.yaml:100: became an emoji). str(problem) is escaped.
        sys.stdout.flush()
        for problem in exc.problems:
            sys.stderr.write(f"error: {problem}\n")
        sys.stderr.flush()
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except _CLICK_ERRORS as exc:  # a usage error: bad option, missing argument
        if type(exc).__name__ == "NoArgsIsHelpError":
            sys.exit(2)  # bare `infra-gen`: the help is already printed, there is no error line
        # Its message may quote the argument as typed: escaped like a Problem.
        ctx = getattr(exc, "ctx", None)
        usage = ctx.get_usage() if ctx is not None else _usage(sys.argv[1:])
        format_message = getattr(exc, "format_message", None)
        message = format_message() if callable(format_message) else str(exc)
        # pydantic-style prefix typer leaves on a bad enum choice.
        message = message.replace("Value error, ", "")
        sys.stderr.write(f"{usage}\nerror: {printable(message)}\n")
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
