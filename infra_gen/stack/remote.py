"""The swarm of an environment, reached over SSH through the bastion.

Every docker command runs here, with DOCKER_HOST=ssh://<node alias>: the client reads
the generated files locally and talks to the node's engine through `ssh`. Docker's
ssh helper takes no ssh options, so an `ssh` first in PATH adds the generated
generated/<env>/ssh/config (bastion, ProxyJump, keys, StrictHostKeyChecking) and a
shared connection per node (ControlMaster), so a poll costs no new handshake.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StackError
from ..topology import Topology
from ..topology.swarm import manager
from .docker import docker_binary

SSH_TIMEOUT = 20
"""Seconds to connect through the bastion before a node counts as unreachable."""


@dataclass
class Remote:
    topo: Topology
    env_dir: Path
    """generated/<env>/, where ssh/config and stack.yaml are."""
    _dir: Path | None = field(default=None, init=False)

    @property
    def manager(self) -> str:
        alias = manager(self.topo.env)
        if alias is None:
            raise StackError(f"{self.topo.name}: deploy.nodes names no manager "
                             "(set manager: true on one node)")
        return alias

    @property
    def ssh_config(self) -> Path:
        path = self.env_dir / "ssh" / "config"
        if not path.is_file():
            raise StackError(f"{path} is missing: ssh.bastion and ssh.hosts are needed to "
                             "reach the swarm (render the environment first)")
        return path

    def _wrapper_dir(self) -> Path:
        if self._dir is None:
            real = shutil.which("ssh")
            if real is None:
                raise StackError("ssh is not installed (Debian: apt-get install openssh-client)")
            self._dir = Path(tempfile.mkdtemp(prefix="infra-gen-ssh-"))
            script = self._dir / "ssh"
            opts = ["-F", str(self.ssh_config.resolve()), "-o", "BatchMode=yes",
                    "-o", f"ConnectTimeout={SSH_TIMEOUT}", "-o", "ControlMaster=auto",
                    "-o", f"ControlPath={self._dir}/cm-%C", "-o", "ControlPersist=120"]
            script.write_text(f"#!/bin/sh\nexec {shlex.quote(real)} "
                              + " ".join(shlex.quote(o) for o in opts) + ' "$@"\n')
            script.chmod(0o700)
        return self._dir

    def environ(self, node: str | None = None) -> dict[str, str]:
        wrapper = self._wrapper_dir()
        return {**os.environ, "PATH": f"{wrapper}{os.pathsep}{os.environ.get('PATH', '')}",
                "DOCKER_HOST": f"ssh://{node or self.manager}"}

    def docker(self, *args: str, node: str | None = None, check: bool = True,
               timeout: float = 300, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """docker ARGS against a node's engine (the manager unless named)."""
        cmd = [docker_binary(), *args]
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, check=False,
                                    timeout=timeout, env=self.environ(node), cwd=cwd)
        except subprocess.TimeoutExpired as exc:
            raise StackError(f"docker {' '.join(args[:3])} on {node or self.manager} took "
                             f"more than {timeout:.0f} s") from exc
        if check and result.returncode != 0:
            detail = (result.stderr.strip() or result.stdout.strip()
                      or f"exit {result.returncode}").splitlines()[-1]
            raise StackError(f"docker {' '.join(args[:3])} on {node or self.manager} failed: "
                             f"{detail}")
        return result

    def run_here(self, cmd: list[str], node: str | None = None, cwd: Path | None = None,
                 timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """A local program (deploy-stack.sh) with DOCKER_HOST pointing at the node."""
        return subprocess.run(cmd, capture_output=True, text=True, check=False,
                              timeout=timeout, env=self.environ(node), cwd=cwd)

    def close(self) -> None:
        if self._dir is not None:
            for sock in self._dir.glob("cm-*"):
                subprocess.run([shutil.which("ssh") or "ssh", "-o", f"ControlPath={sock}",
                                "-O", "exit", "x"], capture_output=True, check=False)
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


__all__ = ["Remote"]
