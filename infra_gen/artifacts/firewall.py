"""firewall/ufw.sh: the host's UFW rules, including Docker's published ports.

Host rules come from topo.firewall_rules (public ports from anyone; SSH, PostgreSQL
and Redis from the private network only). Docker publishes container ports with
DNAT in its own iptables chains, so forwarded traffic never meets UFW's INPUT
rules. The ufw-docker approach (https://github.com/chaifeng/ufw-docker) closes
that: a block in /etc/ufw/after.rules makes Docker's DOCKER-USER chain jump to
ufw-user-forward, where `ufw route allow` rules let through only the container
ports behind the allowed host ports, and drops every other new connection to a
container address.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..contract import UFW
from ..topology import Topology
from ..topology.facts import DOCKER_NETWORK_RANGES
from .base import ArtifactKind, Output

DOCKER_BRIDGES = ("docker0", "br-+", "docker_gwbridge")
"""Interfaces traffic from containers arrives on (default bridge, compose/user
networks, swarm's gateway bridge)."""
BLOCK_BEGIN = "# BEGIN UFW AND DOCKER (infra-gen)"
BLOCK_END = "# END UFW AND DOCKER (infra-gen)"


@dataclass(frozen=True)
class UfwRule:
    port: int
    source: str
    """"any" or a CIDR."""
    comment: str


def host_rules(topo: Topology) -> list[UfwRule]:
    """`ufw allow` rules: traffic to the host itself."""
    return [UfwRule(r.port, r.source or "any", r.comment) for r in topo.firewall_rules]


def route_rules(topo: Topology) -> list[UfwRule]:
    """`ufw route allow` rules: traffic Docker forwards to containers.

    DOCKER-USER sees packets after Docker's DNAT, so the rule names the container
    port behind a published host port (prod: host 443 -> lb:8443). A private rule
    for a port a container listens on (postgres 5432, redis 6379) is kept as a
    route rule too, so publishing that port later still only opens it to the
    private network. SSH is the host's own and gets no route rule.
    """
    published = {p.host_port: p.container_port for c in topo.containers for p in c.published}
    listening = {c.port for c in topo.containers if c.port is not None}
    out: list[UfwRule] = []
    for r in topo.firewall_rules:
        if r.port in published:
            port = published[r.port]
            comment = f"{r.comment}: host port {r.port} -> container port {port}"
        elif r.source is not None and r.port in listening:
            port, comment = r.port, f"{r.comment} (if ever published)"
        else:
            continue
        rule = UfwRule(port, r.source or "any", comment)
        if rule not in out:
            out.append(rule)
    return out


def after_rules_block() -> list[str]:
    """The block appended to /etc/ufw/after.rules (ufw loads it before user.rules,
    so declaring ufw-user-forward here does not flush the route rules)."""
    lines = [
        BLOCK_BEGIN,
        "*filter",
        ":ufw-user-forward - [0:0]",
        ":ufw-docker-logging-deny - [0:0]",
        ":DOCKER-USER - [0:0]",
        "-A DOCKER-USER -j ufw-user-forward",
    ]
    # ufw-docker returns for every RFC 1918 source, which would open every published
    # port to any private host; only the containers' own traffic returns here.
    lines += [f"-A DOCKER-USER -i {i} -j RETURN" for i in DOCKER_BRIDGES]
    lines.append("-A DOCKER-USER -p udp -m udp --sport 53 --dport 1024:65535 -j RETURN")
    lines += [
        "-A DOCKER-USER -j ufw-docker-logging-deny -p tcp -m tcp "
        f"--tcp-flags FIN,SYN,RST,ACK SYN -d {net}"
        for net in DOCKER_NETWORK_RANGES
    ]
    lines += [
        f"-A DOCKER-USER -j ufw-docker-logging-deny -p udp -m udp --dport 0:32767 -d {net}"
        for net in DOCKER_NETWORK_RANGES
    ]
    lines += [
        "-A DOCKER-USER -j RETURN",
        "-A ufw-docker-logging-deny -m limit --limit 3/min --limit-burst 10 "
        '-j LOG --log-prefix "[UFW DOCKER BLOCK] "',
        "-A ufw-docker-logging-deny -j DROP",
        "COMMIT",
        BLOCK_END,
    ]
    return lines


def outputs(topo: Topology) -> list[Output]:
    ctx = {
        "host_rules": host_rules(topo),
        "route_rules": route_rules(topo),
        "after_rules": after_rules_block(),
        "block_begin": BLOCK_BEGIN,
        "block_end": BLOCK_END,
    }
    return [Output(UFW, "firewall/ufw.sh.j2", ctx, executable=True)]


ARTIFACT = ArtifactKind(
    "firewall", "UFW rules script, including Docker's published ports (DOCKER-USER)", outputs
)
