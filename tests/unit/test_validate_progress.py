"""validate's live progress: drawn for a person at a terminal, never in CI or a pipe,
and told of every check as it finishes."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from infra_gen.validate import progress, runner
from infra_gen.validate.base import Check, Context, Finding, Result, Status


def console(terminal: bool) -> Console:
    return Console(file=io.StringIO(), force_terminal=terminal, width=120)


@pytest.mark.parametrize(("terminal", "ci", "drawn"), [
    (True, "", True),
    (True, "true", False),  # CI logs stay plain even on a pseudo-terminal
    (True, "1", False),
    (False, "", False),  # a pipe or a file
])
def test_progress_is_drawn_only_on_a_terminal_outside_ci(
    monkeypatch: pytest.MonkeyPatch, terminal: bool, ci: str, drawn: bool
) -> None:
    monkeypatch.setenv("CI", ci)
    monkeypatch.delenv("TERM", raising=False)
    screen = console(terminal)
    with progress.live(screen, "dev") as observer:
        assert (observer is not None) == drawn
        if observer is not None:
            observer.start(2)
            observer.begin("dev", "nginx -t")
            observer.done(Result("dev", "nginx -t", "nginx", Status.passed))
    assert (screen.file.getvalue() != "") == drawn  # type: ignore[attr-defined]


class Recorder:
    def __init__(self) -> None:
        self.total: int | None = None
        self.seen: list[tuple[str, str, Status]] = []
        self.begun: list[tuple[str, str]] = []

    def start(self, total: int) -> None:
        assert not self.seen, "start comes before any result"
        self.total = total

    def begin(self, env: str, check: str) -> None:
        self.begun.append((env, check))

    def done(self, result: Result) -> None:
        assert (result.env, result.check) in self.begun, "done before begin"
        self.seen.append((result.env, result.check, result.status))


def test_the_observer_hears_of_every_check_on_every_environment(tmp_path: Path) -> None:
    def fail(ctx: Context) -> list[Finding]:
        return [Finding("broken")]

    checks = [Check("ok", "a", lambda ctx: []), Check("bad", "b", fail),
              Check("needs", "c", lambda ctx: [], ("no-such-tool-anywhere",))]
    contexts = [Context(SimpleNamespace(name=env), tmp_path) for env in ("dev", "prod")]  # type: ignore[arg-type]
    recorder = Recorder()
    results = runner.run_checks(contexts, checks, observer=recorder)
    assert recorder.total == 6
    assert sorted(recorder.seen) == sorted((r.env, r.check, r.status) for r in results)
    assert sorted(recorder.begun) == sorted((env, check) for env, check, _ in recorder.seen)
    assert {s for _, _, s in recorder.seen} == {Status.passed, Status.failed, Status.skipped}
