"""Swarm figures (not a test): python benchmarks/swarm.py

Needs the cluster of `make swarm-up swarm-images` (hold /work/swarm.lock). Runs the
scenarios of tests/swarm in order -- deploy, scale api to 5 and back, a rolling update of
the API image, a broken release, draining an app node, all under paced load through
the load balancer (10 GETs/s, under the rate limit) -- and prints:

  time from `infra-gen deploy` to every service converged and healthy
  failed / total requests during the scale-up, the rolling update and the drain
  time for a broken release's deploy to fail and be rolled back by swarm
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "tests/swarm"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("SWARM_FIGURES ")]
    if result.returncode != 0 or not lines:
        sys.stdout.write(result.stdout[-3000:] + result.stderr[-2000:])
        return result.returncode or 1
    print("| figure | measured |\n|---|---|")
    for name, value in json.loads(lines[-1].removeprefix("SWARM_FIGURES ")).items():
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
