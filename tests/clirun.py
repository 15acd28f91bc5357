"""Running the console script's entry point in-process, for the CLI tests."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from infra_gen.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
            *args: str) -> tuple[int, str, str]:
    """`infra-gen ARGS`: (exit code, stdout, stderr). Any exception other than
    SystemExit (a traceback for the user) fails the test."""
    monkeypatch.setattr(sys, "argv", ["infra-gen", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    out, err = capfd.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err


def copy_project(root: Path) -> Path:
    """This repository's environments/ and templates/ under root (a project to edit)."""
    for part in ("environments", "templates"):
        shutil.copytree(ROOT / part, root / part)
    return root
