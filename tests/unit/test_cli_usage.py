"""The CLI behaves: every command's usage errors, --format json shapes, --version and
shell completion.

The bad-usage table has a row for every command the app registers (a new command
without rows fails test_every_command_has_bad_usage_rows); each row must exit 2 with
the command's usage line and one error line, nothing on stdout and no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from clirun import copy_project, run_cli

import infra_gen
from infra_gen.cli import app
from infra_gen.output import Format, progress_off_stdout, states_json, write_json
from infra_gen.stack import ServiceState
from infra_gen.validate import semantic

ROOT = Path(__file__).resolve().parents[2]

# command -> bad command lines (after `infra-gen COMMAND`) and a word the error names.
UNKNOWN = (["--bogus"], "No such option: --bogus")
NO_ROOT_VALUE = (["--root"], "Option '--root' requires an argument")
BAD_FORMAT = (["--format", "yaml"], "'yaml' is not one of 'text', 'json'")
BAD_USAGE: dict[str, list[tuple[list[str], str]]] = {
    "render": [UNKNOWN, NO_ROOT_VALUE, BAD_FORMAT, (["--out"], "Option '--out' requires an argument")],
    "check": [UNKNOWN, NO_ROOT_VALUE, BAD_FORMAT, (["dev"], "unexpected extra argument(s) (dev)")],
    "diff": [UNKNOWN, (["--format", "json"], "Missing argument 'env'"),
             (["dev", "--format", "yaml"], BAD_FORMAT[1]), (["dev", "prod"], "unexpected extra argument(s) (prod)")],
    "schema": [UNKNOWN, (["--out"], "Option '--out' requires an argument"),
               (["--merged=maybe"], "Option '--merged' does not take a value")],
    "list": [UNKNOWN, NO_ROOT_VALUE, BAD_FORMAT],
    "explain": [UNKNOWN, ([], "Missing argument 'env'"), (["dev"], "Missing argument 'field'"),
                (["dev", "postgres.version", "--format", "yaml"], BAD_FORMAT[1])],
    "up": [UNKNOWN, NO_ROOT_VALUE, BAD_FORMAT,
           (["dev", "--wait-timeout", "soon"], "Invalid value for '--wait-timeout'")],
    "down": [UNKNOWN, NO_ROOT_VALUE, (["dev", "prod"], "unexpected extra argument(s) (prod)")],
    "scale": [UNKNOWN, ([], "Missing argument 'env'"), (["dev"], "Missing argument 'counts"),
              (["dev", "api=2", "--format", "yaml"], BAD_FORMAT[1])],
    "status": [UNKNOWN, NO_ROOT_VALUE, BAD_FORMAT],
    "logs": [UNKNOWN, NO_ROOT_VALUE, (["--tail"], "Option '--tail' requires an argument")],
    # verify hands unknown options to pytest by design: only its own options are checked.
    "verify": [NO_ROOT_VALUE],
    "validate": [UNKNOWN, NO_ROOT_VALUE, BAD_FORMAT],
    "doctor": [UNKNOWN, BAD_FORMAT, (["dev"], "unexpected extra argument(s) (dev)")],
    "deploy": [UNKNOWN, ([], "Missing argument 'env'"), NO_ROOT_VALUE,
               (["prod", "--push-via"], "Option '--push-via' requires an argument")],
    "rollback": [UNKNOWN, ([], "Missing argument 'env'"),
                 (["prod", "api", "worker"], "unexpected extra argument(s) (worker)")],
    "push": [UNKNOWN, ([], "Missing argument 'env'"),
             (["prod", "--via"], "Option '--via' requires an argument")],
    "init": [UNKNOWN, (["a", "b"], "unexpected extra argument(s) (b)"),
             (["--force=yes"], "Option '--force' does not take a value")],
}


def test_project_option_before_the_command(project: Path, tmp_path: Path,
                                           capfd: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """`infra-gen -C DIR COMMAND` as git -C: the project is DIR whatever the cwd."""
    monkeypatch.chdir(tmp_path)
    # -C sets INFRA_GEN_PROJECT for the command: set first so that teardown removes it.
    monkeypatch.setenv("INFRA_GEN_PROJECT", str(tmp_path))
    monkeypatch.delenv("INFRA_GEN_PROJECT")
    code, out, err = run_cli(capfd, monkeypatch, "-C", str(project), "list", "--format", "json")
    assert code == 0, err
    assert "dev" in json.loads(out)["environments"]
    code, _out, err = run_cli(capfd, monkeypatch, "-C", str(tmp_path / "none"), "list")
    assert code == 2 and "no project found" in err


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("project"))
    return root


def test_every_command_has_bad_usage_rows() -> None:
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert set(BAD_USAGE) == set(commands)


@pytest.mark.parametrize(("command", "args", "want"), [
    pytest.param(command, args, want, id=f"{command}:{' '.join(args) or '(none)'}")
    for command, rows in BAD_USAGE.items() for args, want in rows
])
def test_bad_usage_exits_2_with_usage_and_one_error_line(
    project: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    command: str, args: list[str], want: str,
) -> None:
    monkeypatch.chdir(project)
    code, out, err = run_cli(capfd, monkeypatch, command, *args)
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith(f"Usage: infra-gen {command} "), lines[0]
    assert lines[1].startswith("error: ") and want in lines[1], lines[1]


@pytest.mark.parametrize(("args", "usage", "want"), [
    (["--bogus"], "Usage: infra-gen [OPTIONS] COMMAND [ARGS]...", "No such option: --bogus"),
    (["nosuch"], "Usage: infra-gen [OPTIONS] COMMAND [ARGS]...", "No such command 'nosuch'."),
    (["render", "--al"], "Usage: infra-gen render [OPTIONS] [envs]...",
     "No such option: --al (Possible options: --all, --help)"),
])
def test_top_level_usage_errors(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    args: list[str], usage: str, want: str,
) -> None:
    code, out, err = run_cli(capfd, monkeypatch, *args)
    assert (code, out, err) == (2, "", f"{usage}\nerror: {want}\n")


def test_bare_command_prints_the_help_and_exits_2(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run_cli(capfd, monkeypatch)
    assert code == 2
    assert "Usage: infra-gen" in out and "explain" in out and "doctor" in out
    assert "error" not in err and "Traceback" not in err


def test_version_reads_the_package_version(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(infra_gen, "__version__", "9.8.7-test")
    assert run_cli(capfd, monkeypatch, "--version") == (0, "infra-gen 9.8.7-test\n", "")


SCRIPT = Path(sys.executable).parent / "infra-gen"
"""The console script (completion is keyed on the program's name)."""


def _script(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], cwd=tmp_path, capture_output=True, text=True, check=False,
        timeout=60, env={**os.environ, "HOME": str(tmp_path), "SHELL": "/bin/bash", **env},
    )


def test_install_and_show_completion_work(tmp_path: Path) -> None:
    # Without shell detection typer takes the shell as an argument, so the test does
    # not depend on the shell that started pytest.
    no_detect = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    shown = _script(tmp_path, "--show-completion", "bash", **no_detect)
    installed = _script(tmp_path, "--install-completion", "bash", **no_detect)
    for result in (shown, installed):
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    assert "_INFRA_GEN_COMPLETE=complete_bash" in shown.stdout
    assert (tmp_path / ".bash_completions" / "infra-gen.sh").read_text() == shown.stdout.rstrip("\n") + "\n" \
        or (tmp_path / ".bash_completions" / "infra-gen.sh").is_file()
    assert "infra-gen.sh" in (tmp_path / ".bashrc").read_text()


@pytest.mark.parametrize(("words", "cword", "want"), [
    ("infra-gen ex", "1", ["explain"]),
    ("infra-gen render --a", "2", ["--all"]),
    ("infra-gen validate --format ", "3", ["text", "json"]),
    # environment names and explain's field paths come from the project (here: this repository)
    ("infra-gen render ", "2", ["dev-ha", "dev", "prod", "staging", "swarm"]),
    ("infra-gen status p", "2", ["prod"]),
    ("infra-gen explain dev postgres.max", "3", ["postgres.max_connections"]),
    ("infra-gen explain prod services.", "3", ["services.frontend", "services.api", "services.worker",
                                                "services.ml"]),
    ("infra-gen explain prod nosuch.", "3", []),
])
def test_completion_completes_commands_options_and_choices(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    words: str, cword: str, want: list[str],
) -> None:
    # In-process: the completion protocol is environment variables read by main().
    monkeypatch.chdir(ROOT)
    for name, value in {"_INFRA_GEN_COMPLETE": "complete_bash", "COMP_WORDS": words,
                        "COMP_CWORD": cword}.items():
        monkeypatch.setenv(name, value)
    code, out, err = run_cli(capfd, monkeypatch)
    assert (code, out.split()) == (0, want), err


# -- --format json: every command that prints a result ----------------------------
SHAPES: dict[str, set[str]] = {
    "render": {"rendered"},
    "check": {"up_to_date", "environments", "stale"},
    "diff": {"environment", "changed", "diff"},
    "list": {"environments"},
    "validate": {"ok", "strict", "seconds", "counts", "results"},
    "explain": {"environment", "field", "value", "source", "file", "line", "overrides", "default",
                "has_default", "description"},
    "doctor": {"ok", "missing", "tools"},
}
"""Top-level keys of each command's JSON (README, "The CLI")."""


@pytest.mark.parametrize(("args", "code"), [
    (["render", "dev", "--out", "{tmp}"], 0),
    (["check"], 1),  # the copied project has no generated/: every file is stale
    (["diff", "dev"], 1),
    (["list"], 0),
    (["validate", "dev"], 0),
    (["explain", "prod", "services.api.replicas"], 0),
    (["doctor"], None),  # 0 or 1: depends on the tools of this machine
], ids=lambda v: v[0] if isinstance(v, list) else str(v))
def test_format_json_parses_with_the_documented_shape(
    project: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, args: list[str], code: int | None,
) -> None:
    monkeypatch.chdir(project)
    monkeypatch.setenv("CI", "")
    # validate: the semantic checks only (no real tool: this is a unit test of the CLI).
    monkeypatch.setattr("infra_gen.validate.registry.CHECKS", semantic.CHECKS)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    got, out, err = run_cli(capfd, monkeypatch, *argv, "--format", "json")
    assert "━" not in err  # not a terminal: no progress bar
    if code is not None:
        assert got == code
    data: Any = json.loads(out)
    assert set(data) == SHAPES[args[0]]


def test_json_shapes_hold_values(
    project: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(project)
    _, out, _ = run_cli(capfd, monkeypatch, "render", "--all", "--out", str(tmp_path), "--format", "json")
    rendered = json.loads(out)["rendered"]
    assert [r["environment"] for r in rendered] == ["dev-ha", "dev", "prod", "staging", "swarm"]
    for r in rendered:
        on_disk = [p for p in (tmp_path / r["environment"]).rglob("*") if p.is_file()]
        assert r["files"] == len(on_disk) and r["directory"] == str(tmp_path / r["environment"])
    _, out, _ = run_cli(capfd, monkeypatch, "list", "--format", "json")
    listing = json.loads(out)["environments"]
    assert "stack.yaml" in listing["prod"]["compose"] and "stack.yaml" not in listing["dev"]["compose"]
    _, out, _ = run_cli(capfd, monkeypatch, "diff", "dev", "--format", "json")
    diff = json.loads(out)
    assert "generated/dev/compose.yaml" in diff["changed"]
    assert diff["diff"]["generated/dev/compose.yaml"].startswith("--- a/generated/dev/compose.yaml")


def test_stack_commands_json_shape() -> None:
    # up, scale and status need a running stack: their JSON is built by one function.
    states = [ServiceState("api", 1, "app", "churn-dev-api-1", "running", "healthy", "8000"),
              ServiceState("db", 1, "datastore", "churn-dev-db-1", "running", "starting", "")]
    data = json.loads(json.dumps(states_json("dev", states, seconds={"up": 1.5})))
    assert set(data) == {"environment", "healthy", "services", "seconds"}
    assert data["healthy"] is False  # db is still starting
    assert data["services"][0] == {"service": "api", "replica": 1, "kind": "app",
                                   "container": "churn-dev-api-1", "state": "running",
                                   "health": "healthy", "ports": "8000"}


@pytest.mark.parametrize(("fmt", "on_stdout"), [(Format.json, False), (Format.text, True)])
def test_json_mode_moves_progress_and_child_output_off_stdout(
    capfd: pytest.CaptureFixture[str], fmt: Format, on_stdout: bool
) -> None:
    # up and scale run docker commands that inherit stdout: under --format json their
    # output (and the ==> lines) must not land inside the JSON document.
    with progress_off_stdout(fmt):
        print("==> building", flush=True)
        subprocess.run(["echo", "docker says"], check=True)
    write_json({"ok": True})
    out, err = capfd.readouterr()
    moved = "==> building\ndocker says\n"
    if on_stdout:
        assert out.startswith(moved) and err == ""
    else:
        assert (json.loads(out), err) == ({"ok": True}, moved)
