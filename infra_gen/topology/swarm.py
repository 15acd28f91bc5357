"""Where each swarm service runs: node labels from deploy.nodes, placement per container.

Volumes on swarm are local to a node, so a service with one is pinned to a single
labelled node (its data is there); the PostgreSQL primary and replica are pinned to
the first and second db nodes. The load balancer runs one task per edge node (its
ports are published on the node, host mode), certbot on the first edge node; app
services are spread over the app nodes. With no deploy.nodes there is no placement at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Environment
from ..model.swarm import NodeRole
from .facts import Container

LABEL_PREFIX = "infra-gen"
NODE_LABEL = f"{LABEL_PREFIX}.node"
"""Carries the node's alias (deploy.nodes key): what a pinned service names."""


def role_label(role: NodeRole) -> str:
    return f"{LABEL_PREFIX}.{role.value}"


@dataclass(frozen=True)
class Placement:
    constraints: tuple[str, ...]
    """docker service constraints (`node.labels.<label> == <value>`)."""
    spread: str | None = None
    """A node label to spread tasks over (placement preference)."""
    max_replicas_per_node: int | None = None
    replicas: int | None = None
    """Tasks on swarm when not the topology's replicas (one lb per edge node)."""
    pinned_to: str | None = None
    """The one node a stateful service runs on (its volumes live there)."""


def node_labels(env: Environment) -> dict[str, dict[str, str]]:
    """alias -> the labels `swarm-up` / a user puts on that node."""
    return {
        alias: {NODE_LABEL: alias, **{role_label(r): "true" for r in sorted(node.roles)}}
        for alias, node in sorted(env.deploy.nodes.items())
    }


def nodes_with(env: Environment, role: NodeRole) -> list[str]:
    """Aliases of the nodes with a role, in the model's order (the first db node holds
    the primary)."""
    return [alias for alias, node in env.deploy.nodes.items() if role in node.roles]


def manager(env: Environment) -> str | None:
    """The node `infra-gen deploy` talks to: the first manager."""
    return next((a for a, n in env.deploy.nodes.items() if n.manager), None)


def _on(alias: str) -> Placement:
    return Placement((f"node.labels.{NODE_LABEL} == {alias}",), pinned_to=alias)


def _with(role: NodeRole) -> str:
    return f"node.labels.{role_label(role)} == true"


def placement(env: Environment, c: Container) -> Placement | None:
    if not env.deploy.nodes:
        return None
    db, app = nodes_with(env, NodeRole.db), nodes_with(env, NodeRole.app)
    if c.kind in ("lb", "lb-log-exporter"):
        edges = nodes_with(env, NodeRole.edge)
        # Host-mode ports: two tasks on one node would fight over the port. The log
        # exporter shares a node-local volume with the lb: one beside each lb task.
        return Placement((_with(NodeRole.edge),), max_replicas_per_node=1, replicas=len(edges))
    if c.kind == "certbot":
        # Its volumes are the first edge node's load balancer's (the ACME challenge
        # reaches whichever edge answers the domain: more than one edge node needs
        # the two volumes on shared storage, docs/swarm.md).
        return _on(nodes_with(env, NodeRole.edge)[0])
    if c.kind == "postgres":
        return _on(db[0])
    if c.kind == "postgres-replica":
        return _on(db[1] if len(db) > 1 else db[0])
    stateful = any(m.named for m in c.mounts)
    if c.scalable:
        if stateful:
            return _on(app[0])
        return Placement((_with(NodeRole.app),), spread=f"node.labels.{NODE_LABEL}")
    if stateful:
        return _on(db[0])
    return Placement((_with(NodeRole.app),))


__all__ = ["NODE_LABEL", "Placement", "manager", "node_labels", "nodes_with", "placement",
           "role_label"]
