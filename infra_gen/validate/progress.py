"""Live progress of a validate run: a rich bar on a terminal, nothing anywhere else.

A validate takes 10-40 s; on a terminal the bar shows how many checks are done and
the last one that finished. In CI (CI=true) or when stderr is not a terminal nothing
is drawn, so logs and `--format json` output stay plain. The bar is drawn on stderr
and removed when the run ends: stdout carries only the report.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from .base import Result


class Observer(Protocol):
    """What validate() tells about its run (called from the worker threads)."""

    def start(self, total: int) -> None: ...

    def begin(self, env: str, check: str) -> None: ...

    def done(self, result: Result) -> None: ...


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def wanted(console: Console) -> bool:
    """A live display only for a person watching a terminal."""
    return console.is_terminal and not console.is_dumb_terminal and not in_ci()


class _Bar:
    """One bar: done/total, then the last result and the checks still running."""

    def __init__(self, progress: Progress, label: str) -> None:
        self.progress = progress
        # Plain text cut to what the bar and the counts leave of the line: a longer
        # description would make rich squeeze the counts out of sight.
        self.room = max(20, progress.console.width - 40)
        self.task = progress.add_task(self._fit(f"rendering {label}"), total=None)
        self.lock = threading.Lock()
        self.running: dict[str, None] = {}  # insertion-ordered: the oldest first
        self.last = ""

    def start(self, total: int) -> None:
        self.progress.update(self.task, total=total, description="checking")

    def begin(self, env: str, check: str) -> None:
        with self.lock:
            self.running[f"{env} {check}"] = None
            self._show(advance=0)

    def done(self, result: Result) -> None:
        name = f"{result.env} {result.check}"
        with self.lock:
            self.running.pop(name, None)
            self.last = f"{name}: {result.status.value}"
            self._show(advance=1)

    def _fit(self, text: str) -> str:
        return text if len(text) <= self.room else text[: self.room - 1] + "…"

    def _show(self, advance: int) -> None:
        names = list(self.running)
        busy = f"running {len(names)}: {', '.join(names)}" if names else ""
        text = "; ".join(t for t in (self.last, busy) if t)
        self.progress.update(self.task, advance=advance, description=self._fit(text))


@contextmanager
def live(console: Console, label: str) -> Iterator[Observer | None]:
    """A progress observer for validate(), or None where nothing should be drawn."""
    if not wanted(console):
        yield None
        return
    columns = (SpinnerColumn(), BarColumn(bar_width=20), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.description}", markup=False))
    with Progress(*columns, console=console, transient=True) as progress:
        yield _Bar(progress, label)
