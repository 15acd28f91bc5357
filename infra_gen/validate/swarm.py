"""Cross-artifact checks of stack.yaml (the swarm stack), as compose.yaml has them.

Read from the rendered files and the model: every placement constraint names a label
some node carries (else the service stays pending for ever), the load balancer's
ports are published in host mode, only on edge nodes, and opened by ufw.sh; nothing
swarm ignores (build:, depends_on) is left in the file without its replacement.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from ..model.swarm import NodeRole
from ..topology.swarm import NODE_LABEL, node_labels, role_label
from . import parse
from .base import Check, Context, Finding, NotApplicable
from .parse import COMPOSE, STACK, finding

_CONSTRAINT = re.compile(r"^node\.labels\.([A-Za-z0-9._-]+)\s*(==|!=)\s*(\S+)$")


def _stack(ctx: Context) -> dict[str, dict[str, Any]]:
    if not ctx.exists(STACK):
        raise NotApplicable("no stack.yaml in this environment (deploy.swarm is off)")
    return parse.services(ctx, STACK)


def _constraints(svc: dict[str, Any]) -> list[str]:
    deploy = svc.get("deploy") or {}
    return list(((deploy.get("placement") or {}).get("constraints")) or [])


def _nodes_matching(ctx: Context, constraints: list[str]) -> set[str] | None:
    """The nodes (aliases) a service may run on; None when a constraint is not a label
    equality (checked by swarm, not here)."""
    labels = node_labels(ctx.topo.env)
    nodes = set(labels)
    for c in constraints:
        m = _CONSTRAINT.match(c.strip())
        if m is None:
            return None
        key, op, value = m.groups()
        if op == "==":
            nodes = {n for n in nodes if labels[n].get(key) == value}
        else:
            nodes = {n for n in nodes if labels[n].get(key) != value}
    return nodes


def placement_names_labels(ctx: Context) -> list[Finding]:
    """Every placement constraint is met by at least one node of deploy.nodes."""
    svcs = _stack(ctx)
    if not ctx.topo.env.deploy.nodes:
        raise NotApplicable("deploy.nodes is empty: no placement to check")
    out = []
    for name, svc in svcs.items():
        constraints = _constraints(svc)
        if not constraints:
            out.append(finding(ctx, f"services.{name}.deploy.placement: no constraint; with "
                                    "deploy.nodes every service is placed on labelled nodes",
                               STACK, parse.service_line(ctx, name, "deploy", STACK)))
            continue
        nodes = _nodes_matching(ctx, constraints)
        if nodes is not None and not nodes:
            out.append(finding(ctx, f"services.{name}.deploy.placement.constraints {constraints} "
                                    "match no node of deploy.nodes (the service would stay "
                                    "pending); node labels: "
                                    + "; ".join(f"{a}: {', '.join(sorted(ls))}"
                                                for a, ls in node_labels(ctx.topo.env).items()),
                               STACK, parse.service_line(ctx, name, "deploy", STACK)))
    return out


def published_on_edge(ctx: Context) -> list[Finding]:
    """A published port is host mode, on edge nodes only, and opened by ufw.sh."""
    svcs = _stack(ctx)
    ctx.need(parse.UFW)
    opened = {r.port for r in parse.ufw_rules(ctx) if r.source is None and not r.route}
    env = ctx.topo.env
    edge = {a for a, n in env.deploy.nodes.items() if NodeRole.edge in n.roles}
    out = []
    for name, svc in svcs.items():
        ports = svc.get("ports") or []
        if not ports:
            continue
        line = parse.service_line(ctx, name, "ports", STACK)
        for p in ports:
            if not isinstance(p, dict) or p.get("mode") != "host":
                out.append(finding(ctx, f"services.{name}.ports: {p!r} is not published in "
                                        "host mode (the routing mesh needs IPVS and hides the "
                                        "client's address from nginx)", STACK, line))
                continue
            if int(p.get("published", 0)) not in opened:
                out.append(finding(ctx, f"services.{name}.ports: {p.get('published')} is "
                                        f"published but ufw.sh opens only {sorted(opened)}",
                                   STACK, line))
        if env.deploy.nodes:
            nodes = _nodes_matching(ctx, _constraints(svc))
            if nodes is None or not nodes or not nodes <= edge:
                out.append(finding(ctx, f"services.{name}.deploy.placement: publishes ports but "
                                        f"may run on {sorted(nodes or []) or 'any node'}, not "
                                        f"only edge nodes {sorted(edge)} (constraint "
                                        f"node.labels.{role_label(NodeRole.edge)} == true)",
                                   STACK, line))
    return out


DEPLOY_SCRIPT = "deploy-stack.sh"
_ONE_SHOT = re.compile(r"^one_shot=\((.*)\)$", re.M)


def _run_by_deploy_script(ctx: Context) -> set[str]:
    """The run-once services deploy-stack.sh starts after `docker stack deploy` and
    waits for (the migrations): on swarm that step replaces their ordering."""
    if not ctx.exists(DEPLOY_SCRIPT):
        return set()
    found = _ONE_SHOT.search(ctx.text(DEPLOY_SCRIPT))
    return set(shlex.split(found.group(1))) if found else set()


def nothing_swarm_ignores(ctx: Context) -> list[Finding]:
    """No build: (swarm pulls, never builds) and no depends_on (swarm ignores it): a
    service that waits for another on one host restarts until it is up on swarm
    (restart_policy any) and has a healthcheck, so a deploy waits for it; a run-once
    service (restart_policy none) is run by deploy-stack.sh after the deploy instead."""
    svcs = _stack(ctx)
    run_once = _run_by_deploy_script(ctx)
    ctx.need(COMPOSE)
    composed = parse.services(ctx, COMPOSE)
    out = []
    for name, svc in svcs.items():
        for key, why in (("build", "swarm pulls images, it never builds: push the image to "
                                   "the registry the nodes pull from"),
                         ("depends_on", "swarm ignores it and starts everything at once")):
            if key in svc:
                out.append(finding(ctx, f"services.{name}.{key}: {why}", STACK,
                                   parse.service_line(ctx, name, key, STACK)))
        if (composed.get(name) or {}).get("depends_on"):
            restart = ((svc.get("deploy") or {}).get("restart_policy") or {}).get("condition")
            if restart == "none" and name in run_once:
                continue
            if restart not in ("any", "on-failure") or not svc.get("healthcheck"):
                out.append(finding(ctx, f"services.{name}: waits for "
                                        f"{sorted(composed[name]['depends_on'])} in compose.yaml; "
                                        "on swarm it needs deploy.restart_policy.condition any "
                                        "and a healthcheck instead (depends_on is ignored)",
                                   STACK, parse.service_line(ctx, name, "deploy", STACK)))
    return out


CHECKS = (
    Check("placement names node labels", "compose", placement_names_labels,
          inputs=parse.COMPOSE_INPUTS, versions=parse.COMPOSE_VERSIONS),
    Check("stack ports host mode on edge", "compose", published_on_edge,
          inputs=(*parse.COMPOSE_INPUTS, parse.UFW), versions=parse.COMPOSE_VERSIONS),
    Check("nothing swarm ignores", "compose", nothing_swarm_ignores,
          inputs=(*parse.COMPOSE_INPUTS, DEPLOY_SCRIPT), versions=parse.COMPOSE_VERSIONS),
)

__all__ = ["CHECKS", "NODE_LABEL"]
