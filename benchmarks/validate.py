"""Wall time of `infra-gen validate --all --strict`, and of each check.

    .venv/bin/python benchmarks/validate.py [--root DIR] [--jobs N]

Prints the total wall time (checks run in parallel) next to a baseline run of
the same checks one after another (--jobs 1), as a ratio, then every check's own
time summed over the environments, slowest first, so the slow ones are visible.
--no-baseline skips the serial run.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

from infra_gen.project import Project
from infra_gen.validate import validate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    project = Project.find(args.root)
    if not args.no_baseline:
        start = time.perf_counter()
        validate(project, project.environment_names, strict=True, jobs=1)
        baseline = time.perf_counter() - start
    start = time.perf_counter()
    report = validate(project, project.environment_names, strict=True, jobs=args.jobs)
    wall = time.perf_counter() - start
    per_check: dict[str, float] = defaultdict(float)
    worst: dict[str, tuple[float, str]] = {}
    for r in report.results:
        per_check[r.check] += r.seconds
        if r.seconds > worst.get(r.check, (0.0, ""))[0]:
            worst[r.check] = (r.seconds, r.env)
    serial = sum(per_check.values())
    counts = report.counts()
    print(f"validate --all --strict: {wall:.2f}s wall for {len(report.results)} results "
          f"({counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped); "
          f"{serial:.2f}s if run one after another")
    if not args.no_baseline:
        print(f"baseline, one check at a time (--jobs 1): {baseline:.2f}s wall; "
              f"parallel/serial = {wall / baseline:.2f}")
    print(f"{'check':32} {'total s':>8} {'slowest env':>12} {'s':>6}")
    for name, seconds in sorted(per_check.items(), key=lambda kv: -kv[1]):
        w, env = worst[name]
        print(f"{name:32} {seconds:8.2f} {env:>12} {w:6.2f}")


if __name__ == "__main__":
    main()
