"""Shell completion of the CLI's values: environment names and explain's field paths,
read from the project (typer completes commands, options and choices itself)."""

from __future__ import annotations

import typer

from .errors import UserError
from .project import Project


def complete_env(ctx: typer.Context, incomplete: str) -> list[str]:
    """Environment names of the project (--root when given before)."""
    try:
        names = Project.find(ctx.params.get("root")).environment_names
    except UserError:
        return []
    return [n for n in names if n.startswith(incomplete)]


def complete_field(ctx: typer.Context, incomplete: str) -> list[str]:
    """Field paths of the environment named before FIELD; nothing when it does not load."""
    from .explain import complete

    try:
        env = Project.find(ctx.params.get("root")).load(ctx.params.get("env") or "")
    except UserError:
        return []
    return complete(env, incomplete)
