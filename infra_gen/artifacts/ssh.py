"""ssh/config: reach the private hosts through the bastion (when ssh.bastion is set).

Use it as `ssh -F generated/<env>/ssh/config <alias>`, or Include it from
~/.ssh/config (the aliases are per environment).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..topology import Topology
from .base import ArtifactKind, Output

SERVER_ALIVE_INTERVAL = 60
"""Seconds between keepalives, so idle sessions survive NAT and firewalls."""
SERVER_ALIVE_COUNT_MAX = 3
BASTION_ALIAS = "bastion"


@dataclass(frozen=True)
class SshHost:
    alias: str
    options: tuple[tuple[str, str], ...]


def hosts(topo: Topology) -> list[SshHost]:
    bastion = topo.env.ssh.bastion
    if bastion is None:
        return []
    common = (
        ("User", bastion.user),
        ("IdentityFile", bastion.identity_file),
        ("IdentitiesOnly", "yes"),
        ("StrictHostKeyChecking", "yes"),
        ("ServerAliveInterval", str(SERVER_ALIVE_INTERVAL)),
        ("ServerAliveCountMax", str(SERVER_ALIVE_COUNT_MAX)),
    )
    out = [SshHost(BASTION_ALIAS, (("HostName", bastion.hostname),
                                   ("Port", str(bastion.port)), *common))]
    for alias, address in sorted(topo.env.ssh.hosts.items()):
        out.append(SshHost(alias, (("HostName", address), *common,
                                   ("ProxyJump", BASTION_ALIAS))))
    return out


def outputs(topo: Topology) -> list[Output]:
    if topo.env.ssh.bastion is None:
        return []
    return [Output("ssh/config", "ssh/config.j2", {"hosts": hosts(topo)})]


ARTIFACT = ArtifactKind("ssh", "SSH client config: private hosts through the bastion", outputs)
