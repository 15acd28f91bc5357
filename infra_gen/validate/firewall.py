"""firewall/ufw.sh run for real in a throw-away container (NET_ADMIN), then
`ufw status verbose` and `iptables -S` compared with the intended rules; then run
again with `ufw --force enable` failing once, which must leave those rules, the
DOCKER-USER chain and the rules files exactly as they were (the rollback).

The image (`infra-gen/ufw-check:<hash of its Dockerfile>`) is Debian's ufw,
iptables and procps on debian:bookworm-slim, built once (apt over http) and cached
by tag. Intended rules: default deny incoming; the load balancer's published
ports from anyone; the private ports only from the private CIDR; and, because
Docker's published ports bypass INPUT, DOCKER-USER jumping to ufw-user-forward
where only the load balancer's container ports are allowed from anyone and new
connections to other container addresses are dropped (the ufw-docker approach).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import threading

from ..contract import UFW
from ..topology.facts import DOCKER_NETWORK_RANGES
from . import parse
from .base import Check, Context, Finding, Skip, ToolFailed, docker_available, image_exists, run

DOCKERFILE = """FROM debian:bookworm-slim
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      ufw iptables procps \\
 && rm -rf /var/lib/apt/lists/*
"""
IMAGE = "infra-gen/ufw-check:" + hashlib.sha256(DOCKERFILE.encode()).hexdigest()[:12]
_BUILD_LOCK = threading.Lock()


def ensure_image() -> str:
    with _BUILD_LOCK:
        if image_exists(IMAGE):
            return IMAGE
        if not image_exists("debian:bookworm-slim"):
            raise Skip("image debian:bookworm-slim missing — run scripts/base-image.sh")
        proc = subprocess.run(["docker", "build", "-q", "-t", IMAGE, "-"], input=DOCKERFILE,
                              capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode != 0:
            raise ToolFailed(f"building {IMAGE} failed: {proc.stderr.strip()[-800:]}")
        return IMAGE


# Run ufw.sh, record the rules; then run it again with `ufw --force enable` failing once
# (a shim in front of the real ufw): the script must exit 1 and leave the rules as they were.
_SCRIPT = r"""
snap() { ufw status verbose; iptables -S DOCKER-USER; md5sum /etc/ufw/*.rules /etc/default/ufw; }
bash /ufw.sh >/tmp/ufw.out 2>&1 || { echo "ufw.sh exited $?"; cat /tmp/ufw.out; exit 3; }
echo '@@STATUS'; ufw status verbose; echo '@@IPTABLES'; iptables -S
snap >/tmp/before
mkdir /tmp/shim
printf '%s\n' '#!/bin/sh' \
  'if [ "$*" = "--force enable" ] && [ ! -e /tmp/failed ]; then' \
  '  touch /tmp/failed; echo "injected failure" >&2; exit 1; fi' \
  'exec /usr/sbin/ufw "$@"' >/tmp/shim/ufw
chmod +x /tmp/shim/ufw
PATH="/tmp/shim:$PATH" bash /ufw.sh >/tmp/fail.out 2>&1
rc=$?
snap >/tmp/after
echo '@@ROLLBACK'
echo "exit $rc"
if ! diff /tmp/before /tmp/after; then echo 'rules changed'; fi
cat /tmp/fail.out
"""


def run_in_container(ctx: Context) -> tuple[str, str, str]:
    """(`ufw status verbose`, `iptables -S`, the rollback run's report) after running
    ufw.sh in a fresh container, then once more with `ufw --force enable` failing."""
    script = ctx.need(UFW)[0]
    why = docker_available()
    if why:
        raise Skip(why)
    image = ensure_image()
    out = run(["docker", "run", "--rm", "--network", "bridge", "--cap-add", "NET_ADMIN",
               "-v", f"{script}:/ufw.sh:ro", image, "bash", "-c", _SCRIPT], timeout=180)
    if out.returncode != 0 or "@@ROLLBACK" not in out.stdout:
        raise _Failed(f"running ufw.sh in a container failed: {out.output[-1500:]}")
    status, rest = out.stdout.split("@@STATUS", 1)[1].split("@@IPTABLES", 1)
    iptables, rollback = rest.split("@@ROLLBACK", 1)
    return status, iptables, rollback


def rollback_findings(report: str) -> list[Finding]:
    """The failed run exited 1 and left ufw status, DOCKER-USER and the rules files as
    they were."""
    lines = report.strip().splitlines()
    out = []
    if not lines or lines[0] != "exit 1":
        out.append(Finding(f"ufw.sh with a failing `ufw --force enable` must exit 1 after "
                           f"restoring the previous rules; {lines[0] if lines else 'no report'}",
                           UFW))
    if "rules changed" in lines:
        out.append(Finding("ufw.sh with a failing `ufw --force enable` left other rules than "
                           "before (no rollback): " + " | ".join(lines[1:12]), UFW))
    return out


class _Failed(Exception):
    pass


_RULE = re.compile(r"^(?P<port>\d+)/(?P<proto>tcp|udp)\s+(?P<action>ALLOW|DENY|REJECT|LIMIT)"
                   r"\s+(?P<dir>IN|FWD|OUT)?\s+(?P<source>\S+)")


def status_rules(status: str) -> set[tuple[str, int, str, str]]:
    """(IN|FWD, port, proto, source) of every IPv4 ALLOW rule in `ufw status verbose`."""
    rules = set()
    for line in status.splitlines():
        if "(v6)" in line:
            continue
        m = _RULE.match(line.strip())
        if m and m.group("action") == "ALLOW":
            source = "any" if m.group("source") == "Anywhere" else m.group("source")
            rules.add((m.group("dir") or "IN", int(m.group("port")), m.group("proto"), source))
    return rules


def expected_rules(ctx: Context) -> set[tuple[str, int, str, str]]:
    _, lb = next(((n, s) for n, s in parse.services(ctx).items()
                  if n in {c.name for c in ctx.topo.of_kind("lb")}), ("", {}))
    published = parse.published(lb)
    want = {("IN", p.published, "tcp", "any") for p in published}
    want |= {("FWD", p.target, "tcp", "any") for p in published}
    cidr = str(ctx.topo.env.firewall.private_cidr)
    listening = {c.port for c in ctx.topo.containers if c.port is not None}
    for rule in ctx.topo.firewall_rules:
        if rule.source is not None:
            want.add(("IN", rule.port, rule.proto, cidr))
            if rule.port in listening:
                want.add(("FWD", rule.port, rule.proto, cidr))
    return want


def ufw_container(ctx: Context) -> list[Finding]:
    ctx.need(parse.COMPOSE)
    try:
        status, iptables, rollback = run_in_container(ctx)
    except _Failed as exc:
        return [Finding(str(exc), UFW)]
    out: list[Finding] = []
    if "Status: active" not in status:
        out.append(Finding("ufw is not active after ufw.sh: " + status.strip()[:300], UFW))
    if not re.search(r"Default:\s*deny \(incoming\)", status):
        out.append(Finding("ufw status shows no `Default: deny (incoming)`", UFW))
    have, want = status_rules(status), expected_rules(ctx)
    for d, port, proto, src in sorted(want - have):
        out.append(Finding(f"ufw status verbose lacks {port}/{proto} ALLOW {d} from {src}", UFW))
    for d, port, proto, src in sorted(have - want):
        out.append(Finding(f"ufw status verbose has an unintended rule {port}/{proto} ALLOW {d} "
                           f"from {src}", UFW))
    out += docker_user_findings(iptables)
    out += rollback_findings(rollback)
    return [parse.finding(ctx, f.message, f.file or UFW, f.line) for f in out]


def docker_user_findings(iptables: str) -> list[Finding]:
    """Published container ports go through UFW: DOCKER-USER starts by jumping to
    ufw-user-forward, and new connections to Docker's networks end in a DROP."""
    rules = [ln.strip() for ln in iptables.splitlines() if ln.startswith("-A DOCKER-USER")]
    out = []
    if not rules:
        return [Finding("iptables -S: no DOCKER-USER rules: Docker's published ports bypass UFW "
                        "(add the ufw-docker block to /etc/ufw/after.rules)", UFW)]
    if rules[0] != "-A DOCKER-USER -j ufw-user-forward":
        out.append(Finding(f"iptables -S: DOCKER-USER must first jump to ufw-user-forward, "
                           f"starts with {rules[0]!r}", UFW))
    for r in rules:
        if re.search(r"-s (10\.0\.0\.0/8|172\.16\.0\.0/12|192\.168\.0\.0/16) -j RETURN", r):
            out.append(Finding(f"iptables -S: {r!r} lets every private host past UFW to every "
                               "published port", UFW))
    chains = _drop_chains(iptables)
    # New connections to Docker's networks must be dropped unless ufw allowed them.
    for net in DOCKER_NETWORK_RANGES:
        if not any(f"-d {net}" in r and "SYN" in r and r.split(" -j ")[-1].split()[0] in chains
                   for r in rules):
            out.append(Finding(f"iptables -S: DOCKER-USER does not drop new TCP connections to "
                               f"{net} (Docker's networks) that ufw did not allow", UFW))
    return out


def _drop_chains(iptables: str) -> set[str]:
    chains = {"DROP", "REJECT"}
    for ln in iptables.splitlines():
        m = re.match(r"-A (\S+) .*-j (DROP|REJECT)\b", ln) or re.match(r"-A (\S+) -j (DROP|REJECT)",
                                                                        ln)
        if m:
            chains.add(m.group(1))
    return chains


CHECKS = (
    Check("ufw in a container", "firewall", ufw_container, ("docker",), slow=True,
          inputs=("firewall/**", *parse.COMPOSE_INPUTS), versions=parse.COMPOSE_VERSIONS,
          images=lambda ctx: (IMAGE, "debian:bookworm-slim")),
)
