"""Render figures, as ratios measured in one interleaved run (CPU time: this machine's
two cores are shared, so wall time says more about the neighbours than about us).

1. Processes, in rounds (each round runs every contender once, in turn):
   `python -c pass`; `infra-gen render prod` (the console script: entry.py);
   the same render through the Typer CLI (what the console script was before);
   bare Jinja (benchmarks/bare_render.py: load the YAML, render the same templates
   with the same contexts, write the files). Median CPU of each, and the ratios.
2. Scale: synthetic environments of 10, 100, 1,000 and 5,000 services (prod plus
   api-like services), in process: our pipeline (load the YAML with `extends`,
   validate the model, plan, render, write) against bare Jinja on the same contexts
   (load the YAML, render, write). A least-squares line gives ms per added service.
3. validate --all --strict: cold (--no-cache) and warm (cache), as processes, next
   to `render --all`.

    .venv/bin/python benchmarks/render.py [--quick]
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic import BaseModel, Field  # noqa: E402

from infra_gen import loader  # noqa: E402
from infra_gen.artifacts import REGISTRY  # noqa: E402
from infra_gen.commands import no_gc  # noqa: E402
from infra_gen.model import Environment  # noqa: E402
from infra_gen.model.common import Identifier  # noqa: E402
from infra_gen.model.services import AppService  # noqa: E402
from infra_gen.project import Project  # noqa: E402
from infra_gen.render import header, jinja_environment, render_topology, write_tree  # noqa: E402
from infra_gen.topology import Topology, plan  # noqa: E402

BIN = Path(sys.executable).parent
QUICK = "--quick" in sys.argv


class Unbounded(Environment):
    """The model without its 50-service ceiling, for the synthetic environments only."""

    services: dict[Identifier, AppService] = Field(max_length=10_000)


# The loader's bound on values per file (hostile input: alias expansion) is below what
# 5,000 services hold; raised here, for the synthetic files only.
loader.MAX_NODES = 1_000_000


# -- processes -------------------------------------------------------------------------
def child_cpu(argv: Sequence[str], cwd: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one child process, from its own rusage."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode not in (0, 1):  # validate exits 1 when a check fails (no Docker here)
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {err[-2000:]}")
    return usage.ru_utime + usage.ru_stime, wall


def interleaved(contenders: dict[str, Callable[[], tuple[float, float]]],
                rounds: int) -> dict[str, tuple[float, float]]:
    """Median (CPU, wall) of each contender over rounds, running them in turn each round."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            runs[name].append(fn())
    return {name: (statistics.median(c for c, _ in r), statistics.median(w for _, w in r))
            for name, r in runs.items()}


def plain(obj: Any, memo: dict[int, Any]) -> Any:
    """The contexts as plain Python data (namespaces, dicts, lists, str): what a hand-written
    generator would hold, with no infra_gen class left in them (bare_render.py unpickles it)."""
    key = id(obj)
    if key in memo:
        return memo[key]
    if isinstance(obj, enum.Enum):
        return plain(obj.value, memo)
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj  # a str subclass (escaping.Fragment) stays one: the filters read it
    if isinstance(obj, types.FunctionType):
        return f"helper:{obj.__name__}"  # bare_render.py has its own (docs.node_id)
    if isinstance(obj, dict):
        out: Any = memo.setdefault(key, {})
        out.update({plain(k, memo): plain(v, memo) for k, v in obj.items()})
        return out
    if isinstance(obj, list | tuple | set | frozenset):
        out = memo.setdefault(key, [])
        out.extend(plain(v, memo) for v in obj)
        return out
    if not type(obj).__module__.startswith(("infra_gen", "pydantic")) and not isinstance(obj, BaseModel):
        return obj  # ipaddress, Path and the like: the standard library
    out = memo.setdefault(key, types.SimpleNamespace())
    names = set(type(obj).model_fields) if isinstance(obj, BaseModel) else set()
    if dataclasses.is_dataclass(obj):
        names |= {f.name for f in dataclasses.fields(obj)}
    if hasattr(obj, "__dict__"):
        names |= {n for n in vars(obj) if not n.startswith("_")}
    names |= {n for n in dir(type(obj)) if not n.startswith("_")
              and isinstance(getattr(type(obj), n, None), property | functools.cached_property)}
    for name in sorted(names):
        try:
            value = getattr(obj, name)
        except Exception:
            continue
        if not callable(value) or isinstance(value, type):
            setattr(out, name, plain(value, memo))
    return out


def prepared(topo: Topology) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, template, context) of every output, as render_topology builds them."""
    return [(o.path, o.template, {"topo": topo, "env": topo.env, **o.context})
            for kind in REGISTRY for o in kind.outputs(topo)]


def process_figures(project: Project, work: Path) -> dict[str, tuple[float, float]]:
    topo = plan(project.load("prod"))
    memo: dict[int, Any] = {}
    outputs = [(p, t, plain(c, memo)) for p, t, c in prepared(topo)]
    contexts = work / "contexts.pickle"
    contexts.write_bytes(pickle.dumps((outputs, topo.name)))
    env_files = [str(project.environments_dir / f) for f in ("base.yaml", "prod.yaml")]
    py = str(BIN / "python")

    def out(name: str) -> str:
        target = work / name
        shutil.rmtree(target, ignore_errors=True)
        return str(target)

    contenders = {
        "python -c pass": lambda: child_cpu([py, "-c", "pass"], work),
        "infra-gen render prod": lambda: child_cpu(
            [str(BIN / "infra-gen"), "render", "prod", "--root", str(ROOT), "--out", out("ours")], work),
        "same, through the Typer CLI": lambda: child_cpu(
            [py, "-c", "from infra_gen.cli import main; main()", "render", "prod", "--root", str(ROOT),
             "--out", out("cli")], work),
        "bare Jinja process": lambda: child_cpu(
            [py, str(ROOT / "benchmarks" / "bare_render.py"), str(contexts), str(project.templates_dir),
             out("bare"), *env_files], work),
    }
    figures = interleaved(contenders, 3 if QUICK else 7)
    # Same contexts, same bytes: the baseline renders exactly what we render.
    ours = {p.relative_to(work / "ours" / "prod"): p.read_bytes()
            for p in (work / "ours" / "prod").rglob("*") if p.is_file() and p.name != "MANIFEST"}
    bare = {p.relative_to(work / "bare"): p.read_bytes() for p in (work / "bare").rglob("*") if p.is_file()}
    differ = sorted(str(p) for p in set(ours) | set(bare) if ours.get(p) != bare.get(p))
    if differ:
        print(f"note: the bare baseline's output differs in {differ}")
    return figures


# -- scale -----------------------------------------------------------------------------
def synthetic(work: Path, services: int) -> Path:
    """environments/ with bench.yaml: prod plus api-like services, `services` in all."""
    env_dir = work / f"env-{services}" / "environments"
    shutil.copytree(ROOT / "environments", env_dir, dirs_exist_ok=True)
    bundled = len(loader.load_document(env_dir / "prod.yaml").data["services"])
    lines = ["extends: prod", "name: bench", "services:"]
    lines += [f"  svc{i:04d}: {{role: api, route: /svc{i:04d}/, replicas: 1, port: 8000}}"
              for i in range(services - bundled)]
    path = env_dir / "bench.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def scale_figures(project: Project, work: Path) -> list[tuple[int, float, float]]:
    jenv = jinja_environment(project.templates_dir)
    rows = []
    for count in (10, 100, 1000, 5000):
        path = synthetic(work, count)
        files = [project.environments_dir / "base.yaml", project.environments_dir / "prod.yaml", path]
        topo = plan(Unbounded.model_validate(loader.load_document(path).data))
        outputs = prepared(topo)

        def ours(path: Path = path, gc_off: bool = True) -> tuple[float, float]:
            start = time.process_time()
            with no_gc() if gc_off else contextlib.nullcontext():  # as commands.render runs it
                topo = plan(Unbounded.model_validate(loader.load_document(path).data))
                write_tree(work / "out-ours" / "bench", render_topology(topo, project.templates_dir))
            return time.process_time() - start, 0.0

        def bare(outputs: list[Any] = outputs, files: list[Path] = files) -> tuple[float, float]:
            start = time.process_time()
            for f in files:
                loader.yaml.load(f.read_text(), Loader=loader.yaml.CSafeLoader)
            for rel, template, context in outputs:
                text = jenv.get_template(template).render(
                    {**context, "header": lambda c="#": header("bench", c)})
                target = work / "out-bare" / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
            return time.process_time() - start, 0.0

        rounds = 1 if QUICK and count >= 1000 else (2 if count >= 5000 else 3)
        contenders = {"ours": ours, "bare": bare}
        if count == 1000:  # what no_gc() saves
            contenders["ours, GC on"] = lambda: ours(gc_off=False)
        figures = interleaved(contenders, rounds)
        rows.append((count, figures["ours"][0], figures["bare"][0]))
        if count == 1000:
            on = figures["ours, GC on"][0]
            print(f"1,000 services, GC on: {on:.3f} s CPU, off: {figures['ours'][0]:.3f} s "
                  f"(the collector was {1 - figures['ours'][0] / on:.0%} of it)\n")
    return rows


def slope(rows: list[tuple[int, float]]) -> float:
    """Least-squares ms per added service."""
    xs, ys = [r[0] for r in rows], [r[1] for r in rows]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return 1000 * num / sum((x - mx) ** 2 for x in xs)


# -- validate ----------------------------------------------------------------------------
def validate_figures(work: Path) -> dict[str, tuple[float, float]]:
    cli = str(BIN / "infra-gen")
    base = [cli, "validate", "--all", "--strict", "--root", str(ROOT)]
    contenders = {
        "validate --all --strict, cold (--no-cache)": lambda: child_cpu([*base, "--no-cache"], work),
        "validate --all --strict, warm (cache)": lambda: child_cpu(base, work),
        "render --all": lambda: child_cpu([cli, "render", "--all", "--root", str(ROOT), "--out",
                                           str(work / "all")], work),
    }
    return interleaved(contenders, 1 if QUICK else 2)


def main() -> None:
    project = Project(ROOT)
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        work = Path(tmp)
        procs = process_figures(project, work)
        base_cpu = procs["python -c pass"][0]
        ours_cpu = procs["infra-gen render prod"][0]
        print("| process | CPU s (median) | wall s | CPU / python -c pass | CPU / bare Jinja |")
        print("|---|---|---|---|---|")
        for name, (cpu, wall) in procs.items():
            print(f"| {name} | {cpu:.3f} | {wall:.2f} | {cpu / base_cpu:.1f}x | "
                  f"{cpu / procs['bare Jinja process'][0]:.2f}x |")
        print(f"\nrender prod beyond starting Python: {ours_cpu - base_cpu:.3f} s CPU; "
              f"bare Jinja beyond it: {procs['bare Jinja process'][0] - base_cpu:.3f} s\n")

        rows = scale_figures(project, work)
        print("| services | ours CPU s | bare Jinja CPU s | ours / bare |")
        print("|---|---|---|---|")
        for count, ours, bare in rows:
            print(f"| {count:,} | {ours:.3f} | {bare:.3f} | {ours / bare:.2f}x |")
        print(f"\nlinear fit: ours {slope([(c, o) for c, o, _ in rows]):.2f} ms per added service, "
              f"bare Jinja {slope([(c, b) for c, _, b in rows]):.2f} ms\n")

        figures = validate_figures(work)
        _, render_wall = figures["render --all"]
        print("| process | CPU s | wall s | wall / render --all |")
        print("|---|---|---|---|")
        for name, (cpu, wall) in figures.items():
            print(f"| {name} | {cpu:.2f} | {wall:.2f} | {wall / render_wall:.1f}x |")


if __name__ == "__main__":
    main()
