"""The console script (infra_gen/entry.py): render and check take a way around the Typer
CLI that imports neither typer nor rich, and answer exactly as the CLI does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from infra_gen import cli, entry
from infra_gen.render import read_tree

ROOT = Path(__file__).resolve().parents[2]


def _imported(argv: list[str], cwd: Path) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Every module a `python -m infra_gen ARGV` process imports (-X importtime)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "infra_gen", *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)
    modules = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
               if line.startswith("import time:")}
    return modules, proc


def _heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in ("typer", "rich", "click")}


def test_render_imports_neither_typer_nor_rich(tmp_path: Path) -> None:
    modules, proc = _imported(["render", "prod", "--root", str(ROOT), "--out", str(tmp_path)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "prod" / "compose.yaml").is_file()
    assert "infra_gen.render" in modules  # the measurement saw the render
    assert _heavy(modules) == set()


def test_a_user_error_on_the_fast_path_imports_no_cli_either(tmp_path: Path) -> None:
    modules, proc = _imported(["render", "nosuch", "--root", str(ROOT), "--out", str(tmp_path)], tmp_path)
    assert proc.returncode == 2 and "error: unknown environment 'nosuch'" in proc.stderr
    assert _heavy(modules) == set()


def test_anything_else_goes_to_the_typer_cli(tmp_path: Path) -> None:
    modules, proc = _imported(["render", "--help"], tmp_path)
    assert proc.returncode == 0 and "--out" in proc.stdout
    assert {"typer", "rich"} <= modules


@pytest.mark.parametrize("argv, fast", [
    (["render", "prod"], True),
    (["render", "dev", "prod", "--all", "--out=X"], True),
    (["render", "--root", "R", "prod"], True),
    (["check", "--root", "R"], True),
    (["check"], True),
    (["render", "--help"], False),
    (["render", "prod", "--out"], False),       # a missing value: the CLI prints the usage
    (["render", "--all=yes"], False),
    (["render", "prod", "--format", "json"], False),  # an option only the CLI knows
    (["render", "prod", "-C", "dir"], False),
    (["render", "--", "prod"], False),
    (["check", "extra"], False),
    (["diff", "prod"], False),
    (["validate", "--all"], False),
    ([], False),
])
def test_parse(argv: list[str], fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in __import__("os").environ if k.startswith("INFRA_GEN_")]:
        monkeypatch.delenv(name)
    assert (entry.parse(argv) is not None) is fast


def test_an_infra_gen_variable_sends_everything_to_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI may read INFRA_GEN_* (a project directory, say); the fast path never guesses."""
    monkeypatch.setenv("INFRA_GEN_PROJECT", "/somewhere")
    assert entry.parse(["render", "prod"]) is None


def _run(main: object, argv: list[str], monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["infra-gen", *argv])
    with pytest.raises(SystemExit) as exit_info:
        main()  # type: ignore[operator]
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


@pytest.mark.parametrize("argv", [
    ["render", "prod", "--out", "{tmp}/out"],
    ["render", "--all", "--out", "{tmp}/out"],
    ["render", "prod", "nosuch", "--out", "{tmp}/out"],
    ["render", "--out", "{tmp}/out"],
    ["render", "prod", "--root", "{tmp}", "--out", "{tmp}/out"],
    ["check"],
    ["check", "--root", "{tmp}"],
])
def test_fast_path_answers_as_the_cli_does(argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Same exit code, output and files through entry.main as through the Typer CLI."""
    monkeypatch.chdir(ROOT)
    results = []
    for way, main in (("fast", entry.main), ("cli", cli.main)):
        work = tmp_path / way
        work.mkdir()
        args = [a.replace("{tmp}", str(work)) for a in argv]
        assert (entry.parse(args) is not None) or way == "cli"
        code, out, err = _run(main, args, monkeypatch, capsys)
        results.append((code, out.replace(str(work), "{tmp}"), err.replace(str(work), "{tmp}"),
                        read_tree(work / "out")))
    assert results[0] == results[1]
