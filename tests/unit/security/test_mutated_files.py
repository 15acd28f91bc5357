"""Property: whatever a broken environment file holds, `infra-gen render --all`
exits 0 or 2, never prints a traceback, and leaves generated/ either untouched
or complete (identical to a fresh render), never partial.

One shipped file of a copy of the project (environments/ and templates/) is
replaced by a mutated one (mutators.py) and the CLI's own entry point runs in
this process (`infra_gen.entry.main`, the console script), so
thousands of examples are affordable; a few run as real subprocesses too.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml
from hypothesis import currently_in_test_context, event, given, note, settings
from hypothesis import strategies as st

from infra_gen import entry
from infra_gen.project import Project
from infra_gen.render import read_tree, render_environment

from .mutators import mutated_text

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = {p.name: p.read_bytes() for p in sorted((ROOT / "environments").glob("*.yaml"))}
DATA = {name: yaml.safe_load(text) for name, text in SHIPPED.items()}
# A render of three environments takes well under a second; an alias bomb or a
# runaway recursion takes forever: that is a failure, not a wait.
TIME_LIMIT = 20
# Every error line: "error: <file>:<line>: ..." (the dotted field follows when known).
ERROR_LINE = re.compile(r"^error: [^:\s]+\.yaml:\d+: \S")


class TookTooLong(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise TookTooLong(f"the CLI ran more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project with generated/ rendered from the shipped files."""
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(ROOT / "environments", root / "environments")
    shutil.copytree(ROOT / "templates", root / "templates")
    code, _, stderr = run_in_process(root)
    assert code == 0, stderr
    shutil.copytree(root / "generated", root.parent / "golden-generated")
    return root


def run_in_process(root: Path) -> tuple[int, str, str]:
    """`infra-gen render --all --root ROOT` through the console script's entry point."""
    stdout, stderr = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["infra-gen", "render", "--all", "--root", str(root)]
    code: Any = 0
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), time_limit(TIME_LIMIT):
            entry.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
    return code, stdout.getvalue(), stderr.getvalue()


def run_subprocess(root: Path) -> tuple[int, str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "infra_gen", "render", "--all", "--root", str(root)],
        capture_output=True, text=True, timeout=TIME_LIMIT * 3, check=False,
    )
    return result.returncode, result.stdout, result.stderr


def tree(root: Path) -> tuple[list[str], dict[str, bytes]]:
    """Every entry of generated/ (hidden staging directories included) and its files."""
    generated = root / "generated"
    entries = sorted(p.relative_to(generated).as_posix() for p in generated.rglob("*"))
    return entries, read_tree(generated)


def check_one(root: Path, name: str, content: bytes, runner: Any) -> int:
    """Run the CLI on the project with content as environments/<name>; its exit code."""
    golden = root.parent / "golden-generated"
    target = root / "environments" / name
    before = tree(root)
    target.write_bytes(content)
    try:
        code, stdout, stderr = runner(root)
        if currently_in_test_context():  # the known shapes run outside hypothesis
            note(f"exit {code}\nstdout: {stdout[-2000:]}\nstderr: {stderr[-2000:]}")
            event(f"exit {code}")
        assert "Traceback" not in stdout + stderr, stderr[-3000:]
        assert code in (0, 2), f"exit {code}: {stderr[-3000:]}"
        after = tree(root)
        if code == 2:
            assert after == before, "exit 2 but generated/ changed"
            lines = stderr.splitlines()
            assert lines, "exit 2 without a message"
            bad = [ln for ln in lines if not ERROR_LINE.match(ln)]
            assert not bad, f"not one 'error: file:line: field: message' line each: {bad[:5]}"
        else:
            project = Project(root)
            expected = {f"{env}/{p}": f.content for env in project.environment_names
                        for p, f in render_environment(project, env).items()}
            assert after[1] == expected, "exit 0 but generated/ is not a complete fresh render"
        return code
    finally:
        target.write_bytes(SHIPPED[name])
        if tree(root)[1] != read_tree(golden):
            shutil.rmtree(root / "generated")
            shutil.copytree(golden, root / "generated")


mutated_files = st.sampled_from(sorted(SHIPPED)).flatmap(
    lambda name: st.tuples(st.just(name), mutated_text(DATA[name]))
)


@given(mutated_files)
def test_broken_environment_files_fail_cleanly(project: Path, mutated: tuple[str, bytes]) -> None:
    name, content = mutated
    check_one(project, name, content, run_in_process)


@settings(max_examples=max(5, settings.default.max_examples // 40))
@given(mutated_files)
def test_broken_environment_files_fail_cleanly_in_a_real_process(project: Path, mutated: tuple[str, bytes]) -> None:
    """What the in-process runs could hide: the console script's real stderr and exit."""
    name, content = mutated
    check_one(project, name, content, run_subprocess)


ALIAS_BOMB = "l0: &l0 [x]\n" + "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9)
)


@pytest.mark.parametrize("content", [
    "extends: base\nname: " + "[" * 50000 + "]" * 50000 + "\n",
    ALIAS_BOMB + "extends: base\n",
    "extends: base\npostgres: {shared_buffers: 5.4M}\n",
    "extends: base\ndomain: !!float\n",
    "extends: base\ndomain: !!int\n",
], ids=["deep-nesting", "alias-bomb", "fractional-kib", "empty-float", "empty-int"])
def test_known_hostile_shapes(project: Path, content: str) -> None:
    """Shapes the random runs reach only now and then: a flow sequence 50,000
    deep, aliases that expand to 9**8 nodes, a memory size the model took but the
    renderer could not write (5.4M is 5529.6 KiB), an empty !!float or !!int
    (PyYAML raised IndexError on them)."""
    assert check_one(project, "dev.yaml", content.encode(), run_in_process) == 2
