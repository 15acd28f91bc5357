"""Live progress of a validate run: a rich bar on a terminal, nothing anywhere else.

A validate takes 10-40 s; on a terminal the bar shows how many checks are done and
the last one that finished. In CI (CI=true) or when stderr is not a terminal nothing
is drawn, so logs and `--format json` output stay plain. The bar is drawn on stderr
and removed when the run ends: stdout carries only the report.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from .base import Result, Status


class Observer(Protocol):
    """What validate() tells about its run (called from the worker threads)."""

    def start(self, total: int) -> None: ...

    def done(self, result: Result) -> None: ...


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def wanted(console: Console) -> bool:
    """A live display only for a person watching a terminal."""
    return console.is_terminal and not console.is_dumb_terminal and not in_ci()


_STYLE = {Status.passed: "green", Status.failed: "red", Status.skipped: "yellow"}


class _Bar:
    def __init__(self, progress: Progress, label: str) -> None:
        self.progress = progress
        self.task = progress.add_task(f"rendering {escape(label)}", total=None)

    def start(self, total: int) -> None:
        self.progress.update(self.task, total=total, description="checking")

    def done(self, result: Result) -> None:
        style = _STYLE[result.status]
        last = f"{escape(result.env)} {escape(result.check)} [{style}]{result.status.value}[/{style}]"
        self.progress.update(self.task, advance=1, description=last)


@contextmanager
def live(console: Console, label: str) -> Iterator[Observer | None]:
    """A progress observer for validate(), or None where nothing should be drawn."""
    if not wanted(console):
        yield None
        return
    columns = (SpinnerColumn(), BarColumn(bar_width=30), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.description}"))
    with Progress(*columns, console=console, transient=True) as progress:
        yield _Bar(progress, label)
