"""What `render` and `check` do, without the CLI around them.

The Typer commands (cli.py) and the fast entry point (entry.py) both call these, so
the two ways in cannot drift apart. Nothing here imports typer or rich.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import DriftError, Problem, UserError
from .project import Project
from .render import RenderedFile, differences, read_tree, render_environment, write_trees


@contextmanager
def no_gc() -> Iterator[None]:
    """No cyclic garbage collection while rendering: a render allocates many small,
    long-lived objects (the model, the topology, Jinja contexts) and frees them all at
    exit, so the collector's passes over them were pure cost (about a fifth of a
    1,000-service render; benchmarks/render.py). Everything alive before is frozen out
    of the collector's view too; both are undone afterwards (tests render in-process)."""
    was_enabled = gc.isenabled()
    gc.disable()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def select_environments(project: Project, names: list[str] | None, every: bool) -> list[str]:
    """The environments a command names (each must exist), or all of them with --all."""
    if every or not names:
        if not every:
            raise UserError("name at least one environment, or use --all")
        return project.environment_names
    for name in names:
        project.environment_path(name)
    return names


def render_trees(root: Path | None, names: list[str] | None, every: bool,
                 out_dir: Path | None) -> tuple[dict[str, dict[str, RenderedFile]], Path]:
    """Render environments and write them, all or none: (trees, the directory written)."""
    with no_gc():
        project = Project.find(root)
        selected = select_environments(project, names, every)
        # Render everything before writing anything: one bad environment writes nothing.
        trees = {name: render_environment(project, name) for name in selected}
        target = out_dir or project.generated_dir
        write_trees(target, trees)  # every environment, or none
    return trees, target


def render(root: Path | None, names: list[str] | None, every: bool, out_dir: Path | None) -> list[str]:
    """Render environments and write them, all or none; the lines to print."""
    trees, target = render_trees(root, names, every, out_dir)
    return [f"rendered {name}: {len(files)} files in {target / name}" for name, files in trees.items()]


def stale_files(root: Path | None) -> tuple[list[str], list[str]]:
    """(every environment, the generated/ files that differ from a fresh render)."""
    with no_gc():
        project = Project.find(root)
        stale: list[str] = []
        for name in project.environment_names:
            diff = differences(render_environment(project, name), read_tree(project.generated_dir / name))
            stale += [f"generated/{name}/{path}" for path in diff]
    return project.environment_names, stale


def drift_error(stale: list[str]) -> DriftError:
    return DriftError(
        [Problem("differs from a fresh render", file=path) for path in stale]
        + [Problem("generated/ is stale: run `infra-gen render --all` (or `make render`)")]
    )


def check(root: Path | None) -> str:
    """DriftError listing the files when generated/ differs from a fresh render."""
    names, stale = stale_files(root)
    if stale:
        raise drift_error(stale)
    return f"generated/ is up to date ({len(names)} environments)"
