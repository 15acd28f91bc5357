"""Stack tests that disturb the running stack run last, ordered by their marker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def collected(*paths: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           *paths], cwd=ROOT, capture_output=True, text=True, check=True)
    return [line for line in proc.stdout.splitlines() if "::" in line]


def test_disruptive_stack_tests_run_last_by_rank() -> None:
    # Given in reverse on the command line: the marker, not the file order, decides.
    ids = collected("tests/stack/test_stack_rate_limit.py", "tests/stack/test_stack_failover.py",
                    "tests/stack/test_stack_lb.py")
    files = [i.split("::")[0].rsplit("/", 1)[-1] for i in ids]
    assert files[-2:] == ["test_stack_failover.py", "test_stack_rate_limit.py"], files
    assert "test_stack_lb.py" in files[:-2]


def test_no_test_file_relies_on_its_name_for_order() -> None:
    assert not list((ROOT / "tests").rglob("test_*zz*.py"))
