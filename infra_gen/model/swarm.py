"""Swarm nodes and rolling-update policy (deploy.nodes, deploy.update).

A node's roles become node labels (`docker node update --label-add`) and the
services' placement constraints; the checks that need the rest of the model
(ssh hosts, a db node per PostgreSQL server) are on the Environment.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from .common import Duration, StrictModel, duration_seconds, located


class NodeRole(StrEnum):
    edge = "edge"
    """Runs the load balancer, which publishes its ports on the node itself (host mode)."""
    app = "app"
    """Runs the app services (spread over every app node) and the stateless platform."""
    db = "db"
    """Runs PostgreSQL: the primary on the first db node, the replica on the second;
    the other stateful services (Redis, Prometheus, Alertmanager, Grafana) live on the
    first db node too, beside their volumes."""


class SwarmNode(StrictModel):
    roles: list[NodeRole] = Field(min_length=1, max_length=len(NodeRole))
    """What runs on the node (edge, app, db); each becomes the node label
    `infra-gen.<role>=true`."""
    manager: bool = False
    """A swarm manager (a Raft member, where `infra-gen deploy` connects). Use an odd
    number of managers: 1, or 3 to survive the loss of one."""

    @model_validator(mode="after")
    @located
    def _roles_once(self) -> SwarmNode:
        if len(set(self.roles)) != len(self.roles):
            raise ValueError(f"roles: {[r.value for r in self.roles]} names a role twice")
        return self


class UpdatePolicy(StrictModel):
    delay: Duration = "5s"
    """Pause between two tasks of a rolling update (or rollback)."""
    monitor: Duration = "20s"
    """How long each updated task is watched; a task failing in that time fails the
    update, which then rolls back (failure_action: rollback)."""
    timeout: Duration = "10m"
    """How long `infra-gen deploy` waits for every service to converge and be healthy."""

    @model_validator(mode="after")
    @located
    def _monitor_in_timeout(self) -> UpdatePolicy:
        if duration_seconds(self.monitor) >= duration_seconds(self.timeout):
            raise ValueError(f"monitor: {self.monitor} must be shorter than timeout "
                             f"{self.timeout} (deploy would give up before a failure shows)")
        return self


__all__ = ["NodeRole", "SwarmNode", "UpdatePolicy"]
