"""firewall/ufw.sh: the host's UFW rules, including Docker's published ports.

Host rules come from topo.firewall_rules (public ports from anyone; SSH, PostgreSQL
and Redis from the private network only). Docker publishes container ports with
DNAT in its own iptables chains, so forwarded traffic never meets UFW's INPUT
rules. The ufw-docker approach (https://github.com/chaifeng/ufw-docker) closes
that: a block in /etc/ufw/after.rules makes Docker's DOCKER-USER chain jump to
ufw-user-forward, where `ufw route allow` rules let through only the container
ports behind the allowed host ports, and drops every other new connection to a
container address.

Every value is checked here (strict IPv4 network, port range, comment alphabet)
and shell-quoted by the template (the `sh` and `token` filters); the script checks each rule
again before it changes anything, and puts the previous rules back if applying
fails (a half-applied ufw reset would leave the host with no firewall).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from ..contract import UFW
from ..errors import ConfigError, Problem
from ..topology import Topology
from ..topology.facts import DOCKER_NETWORK_RANGES
from .base import ArtifactKind, Output

DOCKER_BRIDGES = ("docker0", "br-+", "docker_gwbridge")
"""Interfaces traffic from containers arrives on (default bridge, compose/user
networks, swarm's gateway bridge)."""
BLOCK_BEGIN = "# BEGIN UFW AND DOCKER (infra-gen)"
BLOCK_END = "# END UFW AND DOCKER (infra-gen)"
COMMENT = re.compile(r"^[A-Za-z0-9 ,.:()_/>+-]{1,120}$")
"""What a rule comment may hold; ufw.sh checks the same alphabet again."""


@dataclass(frozen=True)
class UfwRule:
    port: int
    source: str
    """"any" or a CIDR."""
    comment: str
    proto: str = "tcp"


def host_rules(topo: Topology) -> list[UfwRule]:
    """`ufw allow` rules: traffic to the host itself."""
    return [UfwRule(r.port, _source(r.source), r.comment, r.proto) for r in topo.firewall_rules]


def _source(source: object) -> str:
    # str(): the model may hand over an ipaddress network rather than its text
    return "any" if source is None else str(source)


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
        rule = UfwRule(port, _source(r.source), comment, r.proto)
        if rule not in out:
            out.append(rule)
    return out


def ipv4_network(value: str) -> str:
    """value itself when it is an IPv4 network written the canonical way (no host bits,
    no leading zeros, prefix 0-32); else ValueError saying what was expected."""
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IPv4 network a.b.c.d/len with the host bits "
                         f"zero ({exc})") from None
    if str(net) != value:
        raise ValueError(f"{value!r} is not written as the network {str(net)!r}")
    return value


def rule_problems(rule: UfwRule) -> list[str]:
    """What is wrong with one rule's values (empty when ufw.sh may carry it)."""
    out = []
    if rule.source != "any":
        try:
            ipv4_network(rule.source)
        except ValueError as exc:
            out.append(f"firewall.private_cidr: {exc}")
    if not 1 <= rule.port <= 65535:
        out.append(f"firewall: port {rule.port} is outside 1-65535")
    if rule.proto not in ("tcp", "udp"):
        out.append(f"firewall: protocol {rule.proto!r} of port {rule.port} is not tcp or udp")
    if not COMMENT.match(rule.comment):
        out.append(f"firewall: rule comment {rule.comment!r} has characters outside "
                   f"{COMMENT.pattern}")
    return out


def checked(rules: list[UfwRule]) -> list[UfwRule]:
    """The rules, or ConfigError (exit 2) naming every bad value; the model's types
    should already have refused them, this keeps a bad value out of a root script."""
    problems = [p for r in rules for p in rule_problems(r)]
    if problems:
        raise ConfigError([Problem(p) for p in dict.fromkeys(problems)])
    return rules


def checked_network(value: str) -> str:
    """The private network, or ConfigError: never "any", which would open the private ports."""
    try:
        return ipv4_network(value)
    except ValueError as exc:
        raise ConfigError([Problem(f"firewall.private_cidr: {exc}")]) from None


@dataclass(frozen=True)
class ScriptRule:
    """One `rule KIND SOURCE PORT[/udp] COMMENT` line of ufw.sh (the template shell-quotes it)."""

    kind: str
    """allow (to the host) or route (forwarded to a container)."""
    source: str
    port: int
    comment: str
    proto: str = "tcp"

    @property
    def port_word(self) -> str:
        """PORT for tcp (ufw.sh's default), PORT/udp otherwise."""
        return str(self.port) if self.proto == "tcp" else f"{self.port}/{self.proto}"


def script_rules(host: list[UfwRule], route: list[UfwRule]) -> list[ScriptRule]:
    return [ScriptRule(kind, r.source, r.port, r.comment, r.proto)
            for kind, rules in (("allow", host), ("route", route)) for r in rules]


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
        f"--tcp-flags FIN,SYN,RST,ACK SYN -d {ipv4_network(net)}"
        for net in DOCKER_NETWORK_RANGES
    ]
    lines += [
        f"-A DOCKER-USER -j ufw-docker-logging-deny -p udp -m udp --dport 0:32767 "
        f"-d {ipv4_network(net)}"
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


def context(topo: Topology, host: list[UfwRule], route: list[UfwRule]) -> dict[str, object]:
    """The template's context: checked values (the template shell-quotes each with `sh`)."""
    checked_network(str(topo.env.firewall.private_cidr))
    return {
        "rules": script_rules(checked(host), checked(route)),
        "after_rules": after_rules_block(),
        "block_begin": BLOCK_BEGIN,
        "block_end": BLOCK_END,
    }


def outputs(topo: Topology) -> list[Output]:
    ctx = context(topo, host_rules(topo), route_rules(topo))
    return [Output(UFW, "firewall/ufw.sh.j2", ctx, executable=True)]


ARTIFACT = ArtifactKind(
    "firewall", "UFW rules script, including Docker's published ports (DOCKER-USER)", outputs
)
