"""Print a validation report: a table for people, JSON for CI systems."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .base import Status
from .runner import Report

_STYLE = {Status.passed: "green", Status.failed: "bold red", Status.skipped: "yellow"}


def print_report(report: Report, fmt: str, console: Console) -> None:
    if fmt == "json":
        console.file.write(json.dumps(report.as_json(), indent=2) + "\n")
        return
    table = Table("environment", "artifact", "check", "status", "detail", show_lines=False)
    for r in report.results:
        detail = "\n".join(escape(m) for m in r.messages())
        style = _STYLE[r.status]
        cached = " (cached)" if r.cached else ""
        table.add_row(r.env, r.artifact, r.check, f"[{style}]{r.status.value}[/{style}]{cached}",
                      detail)
    wide = Console(file=console.file, width=max(console.width, 200), highlight=False,
                   force_terminal=console.is_terminal)
    wide.print(table)
    counts = report.counts()
    console.print(
        f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped "
        f"in {report.seconds:.1f}s" + (" (strict: a skip is a failure)" if report.strict else "")
        + (f"; {report.cached} from cache (--no-cache runs every check)" if report.cached else ""),
        markup=False)
