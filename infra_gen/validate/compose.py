"""compose.yaml (and the swarm stack file): the compose-spec schema and `docker compose config`."""

from __future__ import annotations

import json
import re

from ..contract import COMPOSE, STACK
from .base import Check, Context, Finding, Skip, docker_available, run
from .locate import split_path, yaml_line


def _compose_files(ctx: Context) -> list[str]:
    files = [f for f in (COMPOSE, STACK) if ctx.exists(f)]
    if COMPOSE not in files:
        ctx.need(COMPOSE)
    if ctx.topo.env.deploy.swarm and STACK not in files:
        files.append(STACK)  # reported as missing below
    return files


def jsonschema_findings(ctx: Context, rel: str, schema: str) -> list[Finding]:
    """check-jsonschema with a builtin schema; each error located in the file."""
    if not ctx.exists(rel):
        return [Finding(f"{rel} is missing: the model asks for it", rel)]
    out = run(["check-jsonschema", "--builtin-schema", schema, "-o", "json", str(ctx.path(rel))])
    if out.returncode == 0:
        return []
    try:
        report = json.loads(out.stdout)
    except json.JSONDecodeError:
        return [Finding(out.output or f"check-jsonschema exited {out.returncode}", rel)]
    text = ctx.path(rel).read_text()
    findings = [Finding(f"{schema}: {e['path']}: {e['message']}", rel,
                        yaml_line(text, split_path(e["path"])))
                for e in report.get("errors", [])]
    findings += [Finding(f"{schema}: {e.get('message', e)}", rel)
                 for e in report.get("parse_errors", [])]
    return findings or [Finding(out.output, rel)]


def compose_schema(ctx: Context) -> list[Finding]:
    findings: list[Finding] = []
    for rel in _compose_files(ctx):
        findings += jsonschema_findings(ctx, rel, "vendor.compose-spec")
    return findings


_PATH_IN_MESSAGE = re.compile(r"\b(services|networks|volumes|secrets|configs)\.([\w.\-]+)")


def compose_config(ctx: Context) -> list[Finding]:
    """`docker compose config -q` (compose.yaml) and `docker stack config` (stack.yaml)."""
    ctx.need(COMPOSE)
    why = docker_available()
    if why:
        raise Skip(why)
    findings: list[Finding] = []
    commands = {COMPOSE: ["docker", "compose", "-f", COMPOSE, "config", "-q"]}
    if ctx.topo.env.deploy.swarm:
        commands[STACK] = ["docker", "stack", "config", "-c", STACK]
    for rel, argv in commands.items():
        if not ctx.exists(rel):
            findings.append(Finding(f"{rel} is missing: deploy.swarm asks for it", rel))
            continue
        out = run(argv, cwd=ctx.root, timeout=60)
        if out.returncode == 0:
            continue
        message = out.stderr.strip() or out.stdout.strip()
        message = message.replace(str(ctx.path(rel)), rel)
        match = _PATH_IN_MESSAGE.search(message)
        line = None
        if match:
            line = yaml_line(ctx.path(rel).read_text(), [match.group(1), *match.group(2).split(".")])
        findings.append(Finding(f"{' '.join(argv[:3])}: {message}", rel, line))
    return findings


CHECKS = (
    Check("compose-spec schema", "compose", compose_schema, ("check-jsonschema",),
          inputs=(COMPOSE, STACK)),
    # `docker compose config` reads the project directory (.env, files a config: names).
    Check("docker compose config", "compose", compose_config, ("docker",)),
)
