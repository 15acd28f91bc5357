"""Run every check on every environment, in parallel, and collect one result per pair."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..contract import install_hint
from ..errors import ValidationFailed
from ..project import Project
from ..render import render_environment, write_tree
from ..topology import plan
from .base import Check, Context, Finding, NotApplicable, Result, Skip, Status, ToolFailed, missing_tools
from .cache import ResultCache, cached_run, warm

if TYPE_CHECKING:
    from .progress import Observer


def strict_from_env(strict: bool) -> bool:
    """--strict, or CI=true: a skipped check is a failure."""
    return strict or os.environ.get("CI", "").lower() in ("true", "1", "yes")


def run_check(ctx: Context, check: Check) -> Result:
    """One check on one environment: passed, failed (findings) or skipped (reason)."""
    return _outcome(ctx, check)[0]


def _outcome(ctx: Context, check: Check) -> tuple[Result, bool]:
    """The result, and whether the check itself decided it (only such a result is cached:
    not a skip, a tool that could not run, or a crash)."""
    start = time.perf_counter()

    def done(status: Status, findings: Iterable[Finding] = (), reason: str = "",
             decided: bool = True) -> tuple[Result, bool]:
        return Result(ctx.env, check.name, check.artifact, status, tuple(findings), reason,
                      time.perf_counter() - start), decided

    missing = missing_tools(check.tools)
    if missing:
        hints = "; ".join(f"{tool} not installed — {install_hint(tool)}" for tool in missing)
        return done(Status.skipped, reason=hints, decided=False)
    try:
        findings = check.fn(ctx)
    except Skip as exc:
        return done(Status.skipped, reason=str(exc), decided=False)
    except NotApplicable as exc:
        return done(Status.passed, reason=f"not applicable: {exc}")
    except ToolFailed as exc:
        return done(Status.failed, [Finding(str(exc))], decided=False)
    except Exception as exc:  # a check that crashes on a broken artifact reports it
        return done(Status.failed, [Finding(f"check crashed: {type(exc).__name__}: {exc}")],
                    decided=False)
    return done(Status.failed if findings else Status.passed, findings)


def _observed(observer: Observer | None, cache: ResultCache | None, ctx: Context,
              check: Check) -> Result:
    if observer is not None:
        observer.begin(ctx.env, check.name)
    return cached_run(ctx, check, cache, _outcome)


def apply_strict(result: Result) -> Result:
    if result.status is not Status.skipped:
        return result
    return replace(result, status=Status.failed,
                   findings=(Finding(f"skipped, a failure under --strict/CI: {result.reason}"),))


def run_checks(contexts: Sequence[Context], checks: Sequence[Check], strict: bool = False,
               jobs: int | None = None, observer: Observer | None = None,
               cache: ResultCache | None = None) -> list[Result]:
    """Every check on every context, independent ones in parallel (subprocess-bound);
    through the result cache when one is given."""
    pairs = [(ctx, check) for check in sorted(checks, key=lambda c: not c.slow)
             for ctx in contexts]
    workers = jobs or min(16, max(4, (os.cpu_count() or 2) * 4))
    if cache is not None:
        warm(cache, contexts)
    if observer is not None:
        observer.start(len(pairs))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="validate") as pool:
        futures = [pool.submit(_observed, observer, cache, ctx, check) for ctx, check in pairs]
        if observer is not None:
            tell = observer.done
            for future in futures:
                future.add_done_callback(lambda f: tell(f.result()))
        results = [f.result() for f in futures]
    if strict:
        results = [apply_strict(r) for r in results]
    order = {c.name: i for i, c in enumerate(checks)}
    envs = {ctx.env: i for i, ctx in enumerate(contexts)}
    return sorted(results, key=lambda r: (envs[r.env], order[r.check]))


@dataclass
class Report:
    results: list[Result]
    strict: bool
    seconds: float

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if r.status is Status.failed]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def cached(self) -> int:
        return sum(r.cached for r in self.results)

    def counts(self) -> dict[str, int]:
        return {s.value: sum(r.status is s for r in self.results) for s in Status}

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "strict": self.strict,
            "seconds": round(self.seconds, 3),
            "counts": self.counts(),
            "results": [
                {"environment": r.env, "artifact": r.artifact, "check": r.check,
                 "status": r.status.value, "seconds": round(r.seconds, 3), "cached": r.cached,
                 "messages": r.messages(),
                 "findings": [{"file": f"generated/{r.env}/{f.file}" if f.file else None,
                               "line": f.line, "message": f.message} for f in r.findings]}
                for r in self.results
            ],
        }

def contexts_for(project: Project, names: Sequence[str], generated: bool,
                 workdir: Path) -> list[Context]:
    """Render each environment into workdir (or use generated/<env>/ as it is)."""
    contexts = []
    for name in names:
        topo = plan(project.load(name))
        if generated:
            root = project.generated_dir / name
            if not root.is_dir():
                raise ValidationFailed(f"generated/{name}/ does not exist: run infra-gen render {name}")
        else:
            root = workdir / name
            write_tree(root, render_environment(project, name))
        contexts.append(Context(topo, root))
    return contexts


def validate(project: Project, names: Sequence[str], strict: bool = False, generated: bool = False,
             checks: Sequence[Check] | None = None, jobs: int | None = None,
             observer: Observer | None = None, cache: bool = False,
             reuse: bool = True) -> Report:
    """Render (or read generated/) and run every check; the caller decides the exit code.
    observer (validate/progress.py) hears of the total and of each result as it comes.
    cache: keep results in <project>/.infra-gen-cache/ and, with reuse, take those whose
    inputs did not change instead of running the check (reuse=False: --no-cache)."""
    from .registry import CHECKS

    start = time.perf_counter()
    strict = strict_from_env(strict)
    workdir = Path(tempfile.mkdtemp(prefix="infra-gen-validate-"))
    try:
        contexts = contexts_for(project, names, generated, workdir)
        store = ResultCache.for_project(project.root, reuse) if cache else None
        results = run_checks(contexts, checks if checks is not None else CHECKS, strict, jobs,
                             observer, store)
        if store is not None:
            store.prune()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return Report(results, strict, time.perf_counter() - start)
