"""`infra-gen doctor`: every external tool validate runs, found or not, its version and
how to install it.

The tools are contract.py's lists (the ones scripts/install-tools.sh installs and the
missing-tool messages name); a tool is required when a check declares it
(Check.tools in the validate registry): without it that check is skipped, which
`validate --strict` and CI count as a failure. The others have a fallback.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .contract import APT_TOOLS, DOCKER_TOOLS, PIP_TOOLS, install_hint

VERSION_ARGS: dict[str, list[str]] = {
    "nginx": ["nginx", "-v"],
    "promtool": ["promtool", "--version"],
    "amtool": ["amtool", "--version"],
    "logrotate": ["logrotate", "--version"],
    "shellcheck": ["shellcheck", "--version"],
    "ufw": ["ufw", "--version"],
    "mtail": ["mtail", "--version"],
    "check-jsonschema": ["check-jsonschema", "--version"],
    "gixy": ["gixy", "--version"],
    "docker": ["docker", "--version"],
    "docker compose": ["docker", "compose", "version", "--short"],
}
"""How each tool prints its version (a tool missing here shows no version)."""

FALLBACKS: dict[str, str] = {
    "nginx": "nginx -t runs in the lb image when Docker has it; the host nginx otherwise",
    "ufw": "the firewall check runs ufw in a throw-away container; the host copy is not run",
}
"""Why a listed tool is optional (no check declares it)."""

_VERSION = re.compile(r"\bv?(\d+\.\d+(?:\.\d+)?(?:[-+~][\w.+~-]*)?)")


@dataclass(frozen=True)
class Tool:
    name: str
    source: str
    """apt, pip or docker: where it comes from."""
    package: str
    required: bool
    checks: tuple[str, ...]
    """The validate checks that run it."""
    path: str | None = None
    version: str | None = None
    note: str = ""

    @property
    def found(self) -> bool:
        return self.path is not None

    @property
    def install(self) -> str:
        return install_hint(self.name)

    def as_json(self) -> dict[str, Any]:
        return {"tool": self.name, "found": self.found, "required": self.required,
                "path": self.path, "version": self.version, "source": self.source,
                "package": self.package, "install": self.install, "checks": list(self.checks),
                "note": self.note}


@dataclass(frozen=True)
class Diagnosis:
    tools: list[Tool]

    @property
    def missing(self) -> list[Tool]:
        """Required tools that were not found (exit 1 when any)."""
        return [t for t in self.tools if t.required and not t.found]

    @property
    def ok(self) -> bool:
        return not self.missing

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "missing": [t.name for t in self.missing],
                "tools": [t.as_json() for t in self.tools]}

    def print_table(self, console: Console) -> None:
        table = Table("tool", "found", "version", "required", "install", "used by")
        for t in self.tools:
            mark = ("[green]yes[/green]" if t.found
                    else "[bold red]no[/bold red]" if t.required else "[yellow]no[/yellow]")
            table.add_row(t.name, mark, escape(t.version or "-"), "yes" if t.required else "no",
                          escape(t.install), escape(", ".join(t.checks) or "-"))
        console.print(table)
        for t in self.tools:
            if t.found and t.note:
                console.print(f"note: {t.name}: {t.note}", markup=False)


def listed() -> list[tuple[str, str, str]]:
    """(tool, source, package) for every tool of contract.py's lists."""
    return ([(t, "apt", p) for t, p in APT_TOOLS.items()]
            + [(t, "pip", p) for t, p in PIP_TOOLS.items()]
            + [(t, "docker", p) for t, p in DOCKER_TOOLS.items()])


def checks_by_tool() -> dict[str, list[str]]:
    """Tool -> the checks that declare it, read from the validate registry."""
    from .validate.registry import CHECKS

    out: dict[str, list[str]] = {}
    for check in CHECKS:
        for tool in check.tools:
            out.setdefault(tool, []).append(check.name)
    # `docker compose config` runs the Compose plugin, which the check declares as docker.
    out["docker compose"] = [c.name for c in CHECKS if "docker compose" in c.name]
    out.setdefault("nginx", []).extend(c.name for c in CHECKS if c.name == "nginx -t")
    return out


def locate(tool: str) -> str | None:
    """Where validate would find the tool (its venv first, then PATH)."""
    from .validate.base import venv_tool

    if tool in DOCKER_TOOLS and tool != "docker":
        docker = shutil.which("docker")
        if docker is None or _run([docker, *VERSION_ARGS[tool][1:]]) is None:
            return None
        return f"{docker} {tool.split(' ', 1)[1]}"
    return venv_tool(tool)


def _run(argv: list[str]) -> str | None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout + proc.stderr


def version_of(tool: str, path: str) -> str | None:
    args = VERSION_ARGS.get(tool)
    if args is None:
        return None
    output = _run([path.split(" ", 1)[0], *args[1:]])
    match = _VERSION.search(output or "")
    return match.group(1) if match else None


def _diagnose_one(tool: str, source: str, package: str, uses: list[str]) -> Tool:
    required = bool(uses) and tool not in FALLBACKS
    path = locate(tool)
    version = version_of(tool, path) if path else None
    note = FALLBACKS.get(tool, "")
    if tool == "docker" and path:
        from .validate.base import docker_available

        note = docker_available() or ""
    return Tool(tool, source, package, required, tuple(uses), path, version, note)


def diagnose() -> Diagnosis:
    """Look every tool up (in parallel: docker can take seconds to answer)."""
    uses = checks_by_tool()
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(_diagnose_one, tool, source, package, uses.get(tool, []))
                   for tool, source, package in listed()]
        tools = [f.result() for f in futures]
    return Diagnosis(tools)
