"""Render figures: `infra-gen render prod` as a process, and our overhead over bare Jinja.

For synthetic environments with 10, 100 and 1,000 services it times the whole
pipeline (validate the model, plan the topology, render every template) next to
bare Jinja rendering the same templates from the same precomputed context, and
prints the ratio: the cost of our model and topology. Goals: prod under 0.5 s as a
process, cost linear in services, overhead ratio under 2.

    .venv/bin/python benchmarks/render.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra_gen.artifacts import REGISTRY  # noqa: E402
from infra_gen.model import Environment  # noqa: E402
from infra_gen.project import Project  # noqa: E402
from infra_gen.render import header, jinja_environment, render_topology  # noqa: E402
from infra_gen.topology import plan  # noqa: E402


def best_of(n: int, fn: Any) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def synthetic(base: Environment, services: int) -> dict[str, Any]:
    data = base.model_dump(by_alias=True)
    for i in range(services - len(data["services"])):
        data["services"][f"svc{i:04d}"] = {
            "role": "api", "route": f"/svc{i:04d}/", "replicas": 1, "port": 8000,
        }
    return data


def main() -> None:
    project = Project(ROOT)
    with tempfile.TemporaryDirectory() as out:
        cmd = [str(ROOT / ".venv/bin/infra-gen"), "render", "prod", "--root", str(ROOT), "--out", out]
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            runs.append(time.perf_counter() - start)
    process = statistics.median(runs)
    # Baseline side by side: the same interpreter only importing the CLI (typer,
    # rich, pydantic, jinja2, yaml and our modules) and exiting.
    imports = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import infra_gen.cli"], check=True)
        imports.append(time.perf_counter() - start)
    importing = statistics.median(imports)
    print(f"infra-gen render prod (process, median of 5): {process:.3f} s  "
          f"= {process / 0.5:.2f} x the 0.5 s goal")
    print(f"  of which starting Python and importing: {importing:.3f} s "
          f"({importing / process:.0%}); loading, planning, rendering, writing: "
          f"{process - importing:.3f} s")

    base = project.load("prod")
    jenv = jinja_environment(project.templates_dir)
    print(f"{'services':>8} {'pipeline s':>11} {'bare jinja s':>13} {'overhead':>9} {'s/service':>10}")
    for count in (10, 100, 1000):
        data = synthetic(base, count)

        def pipeline(data: dict[str, Any] = data) -> None:
            render_topology(plan(Environment.model_validate(data)), project.templates_dir)

        topo = plan(Environment.model_validate(data))
        head = {"topo": topo, "env": topo.env, "header": lambda c="#", n=topo.name: header(n, c)}
        prepared = [
            (jenv.get_template(o.template), {**head, **o.context})
            for kind in REGISTRY for o in kind.outputs(topo)
        ]

        def bare(prepared: list[tuple[Any, dict[str, Any]]] = prepared) -> None:
            for template, context in prepared:
                template.render(context)

        repeat = 3 if count >= 1000 else 5
        ours, jinja_only = best_of(repeat, pipeline), best_of(repeat, bare)
        print(f"{count:>8} {ours:>11.3f} {jinja_only:>13.3f} {ours / jinja_only:>8.2f}x "
              f"{ours / count * 1000:>8.2f}ms")


if __name__ == "__main__":
    main()
