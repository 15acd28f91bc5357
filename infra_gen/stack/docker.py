"""The Docker engine and Compose v2 that `infra-gen up` needs: find, install, start.

On Debian 12/13 as root, a missing engine is installed by scripts/install-tools.sh
(Docker 26 + Compose v2 from trixie, pinned low) and started by
scripts/start-docker.sh (no systemd needed). Anywhere else a missing engine is a
one-line error that says what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import StackError

# Debian's client finds the compose/buildx plugins of the same release; an older
# or plugin-less docker earlier in PATH (/usr/local/bin/docker) is bypassed.
DEBIAN_DOCKER = "/usr/bin/docker"

Say = Callable[[str], None]
"""Where progress lines go (the CLI's console)."""

INSTALL_HINT = (
    "install Docker Engine >= 24 with the Compose v2 plugin (`docker compose version` must "
    "answer) and start it; on Debian 12/13 as root `scripts/install-tools.sh && "
    "scripts/start-docker.sh` does both"
)


def docker_binary() -> str:
    if os.access(DEBIAN_DOCKER, os.X_OK):
        return DEBIAN_DOCKER
    return shutil.which("docker") or "docker"


def _answers(args: Sequence[str], timeout: float = 15) -> bool:
    try:
        return subprocess.run(
            list(args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=timeout, check=False,
        ).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def compose_works() -> bool:
    return _answers([docker_binary(), "compose", "version"])


def engine_answers() -> bool:
    return _answers([docker_binary(), "info"])


def _debian_root() -> bool:
    if os.geteuid() != 0:
        return False
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return False
    fields = dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line
    )
    codename = fields.get("VERSION_CODENAME", "").strip('"')
    return fields.get("ID", "").strip('"') == "debian" and codename in ("bookworm", "trixie")


def run_script(root: Path, name: str, *args: str, env: dict[str, str] | None = None) -> None:
    """Run scripts/NAME with its output shown; a failure is a StackError."""
    script = root / "scripts" / name
    if not script.is_file():
        # A project of your own has none of this repository's scripts: Docker is yours
        # to install and start.
        if name in ("install-tools.sh", "start-docker.sh"):
            raise StackError(f"Docker is not ready and {root} has no scripts/{name}: {INSTALL_HINT}")
        raise StackError(f"{script} is missing")
    code = subprocess.run(
        ["bash", str(script), *args], cwd=root, check=False,
        env={**os.environ, **(env or {})},
    ).returncode
    if code != 0:
        raise StackError(f"scripts/{name} failed (exit {code})")


def ensure_docker(root: Path, say: Say) -> None:
    """A Docker engine with Compose v2 answers, or a StackError says what to do."""
    if compose_works() and engine_answers():
        return
    if not compose_works():
        if not _debian_root():
            raise StackError(f"Docker Compose v2 is not available: {INSTALL_HINT}")
        say("Docker Compose v2 is missing: installing it (scripts/install-tools.sh)")
        run_script(root, "install-tools.sh")
    if not engine_answers():
        if os.geteuid() != 0:
            raise StackError(
                "the Docker daemon does not answer and only root can start it: start it "
                "(e.g. `sudo systemctl start docker`) and retry"
            )
        say("the Docker daemon does not answer: starting it (scripts/start-docker.sh)")
        run_script(root, "start-docker.sh")
    if not (compose_works() and engine_answers()):
        raise StackError(f"Docker still does not answer: {INSTALL_HINT}")


def image_exists(image: str) -> bool:
    return _answers([docker_binary(), "image", "inspect", image])
