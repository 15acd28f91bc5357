"""What a check is, what it reports, and how a check runs a real tool."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from ..contract import install_hint
from ..topology import Topology


class Status(StrEnum):
    passed = "passed"
    failed = "failed"
    skipped = "skipped"


@dataclass(frozen=True)
class Finding:
    """One thing wrong, in the words of the tool or the check that found it."""

    message: str
    file: str | None = None
    """Path relative to the environment's rendered directory."""
    line: int | None = None

    def where(self, env: str) -> str:
        if self.file is None:
            return ""
        loc = f"generated/{env}/{self.file}"
        return f"{loc}:{self.line}" if self.line else loc


class Skip(Exception):
    """Raised by a check that cannot run here; the message says why."""


class NotApplicable(Exception):
    """Raised by a check with nothing to check in this environment (it passes, saying why)."""


@dataclass
class Context:
    """One environment to check: its topology and the directory of its rendered files."""

    topo: Topology
    root: Path
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def env(self) -> str:
        return self.topo.name

    def path(self, rel: str) -> Path:
        return self.root / rel

    def exists(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def need(self, *rels: str) -> list[Path]:
        """The files a check reads; Skip when one was not rendered."""
        missing = [r for r in rels if not self.exists(r)]
        if missing:
            raise Skip(f"{', '.join(missing)} not rendered (its artifact is missing)")
        return [self.root / r for r in rels]

    def text(self, rel: str) -> str:
        return self.need(rel)[0].read_text()

    def yaml(self, rel: str) -> Any:
        key = f"yaml:{rel}"
        if key not in self._cache:
            self._cache[key] = load_yaml(self.text(rel))
        return self._cache[key]

    def glob(self, pattern: str) -> list[str]:
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.glob(pattern)
                      if p.is_file())

    @cached_property
    def scripts(self) -> list[str]:
        """Every generated shell script (by shebang or .sh suffix)."""
        found = []
        for p in sorted(self.root.rglob("*")):
            if not p.is_file():
                continue
            rel = p.relative_to(self.root).as_posix()
            if p.suffix == ".sh" or p.read_bytes()[:64].startswith((b"#!/bin/sh", b"#!/bin/bash",
                                                                     b"#!/usr/bin/env bash")):
                found.append(rel)
        return found


def load_yaml(text: str) -> Any:
    """yaml.safe_load, with libyaml when present (compose files are long)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)


CheckFn = Callable[[Context], list[Finding]]


@dataclass(frozen=True)
class Check:
    name: str
    """Short name shown in the report (e.g. `nginx -t`)."""
    artifact: str
    """The artifact it covers (compose, nginx, ...)."""
    fn: CheckFn
    tools: tuple[str, ...] = ()
    """External programs it runs (skipped with the reason when one is missing)."""
    slow: bool = False
    """Needs Docker containers (run first, so the wall time overlaps the rest)."""
    inputs: tuple[str, ...] = ("**",)
    """The rendered files it reads (`**` every file, `dir/**`, or a glob): their bytes key
    its cached result (validate/cache.py). tests/unit/test_validate_cache.py checks a run
    reads nothing else."""
    topology: bool = True
    """Reads ctx.topo: the environment model keys its cached result too."""
    versions: tuple[str, ...] = ()
    """Programs it may run besides `tools` (optional ones): their versions key the result."""
    images: Callable[[Context], tuple[str, ...]] | None = None
    """Docker images it may run in: their ids key the result."""


@dataclass(frozen=True)
class Result:
    env: str
    check: str
    artifact: str
    status: Status
    findings: tuple[Finding, ...] = ()
    reason: str = ""
    seconds: float = 0.0
    cached: bool = False
    """Served from the result cache (seconds is then the run that produced it)."""

    def messages(self) -> list[str]:
        if self.status is Status.skipped or (self.reason and not self.findings):
            return [self.reason]
        out = []
        for f in self.findings:
            where = f.where(self.env)
            out.append(f"{where}: {f.message}" if where else f.message)
        return out


class ToolFailed(Exception):
    """A tool could not be run at all (not a finding in the artifact)."""


@dataclass(frozen=True)
class ToolOutput:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return (self.stdout + ("\n" if self.stdout and self.stderr else "") + self.stderr).strip()


def venv_tool(name: str) -> str | None:
    """A tool from the running interpreter's venv first (check-jsonschema, gixy), then PATH."""
    import sys

    candidate = Path(sys.executable).parent / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which(name)


def missing_tools(tools: Sequence[str]) -> list[str]:
    return [t for t in tools if venv_tool(t) is None]


def run(argv: Sequence[str], timeout: float = 120, cwd: Path | None = None,
        input_text: str | None = None) -> ToolOutput:
    exe = venv_tool(argv[0])
    if exe is None:
        raise Skip(f"{argv[0]} not installed — {install_hint(argv[0])}")
    try:
        proc = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=timeout,
                              cwd=cwd, input=input_text, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ToolFailed(f"{' '.join(argv)} timed out after {timeout:.0f}s") from exc
    return ToolOutput(proc.returncode, proc.stdout, proc.stderr)


def docker_available() -> str | None:
    """None when the Docker daemon answers, else why not."""
    if shutil.which("docker") is None:
        return f"docker not installed — {install_hint('docker')}"
    try:
        proc = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                              capture_output=True, text=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        return "the Docker daemon does not answer (scripts/start-docker.sh)"
    if proc.returncode != 0:
        return "the Docker daemon is not running — run scripts/start-docker.sh"
    return None


def image_exists(ref: str) -> bool:
    proc = subprocess.run(["docker", "image", "inspect", ref], capture_output=True, timeout=30,
                          check=False)
    return proc.returncode == 0
