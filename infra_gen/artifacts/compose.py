"""compose.yaml (docker compose, one host) and stack.yaml (docker stack deploy, prod).

Both documents are built from the same containers of the topology; the stack file
only adds what swarm needs (deploy policies, overlay networks) and drops what swarm
ignores (depends_on conditions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from ..model import Resources
from ..overrides import apply
from ..topology import (
    BACKEND_NET,
    WRITABLE_ROOT_LABEL,
    Container,
    Mount,
    Published,
    Topology,
)
from ..topology.swarm import placement
from .base import ArtifactKind, Output

# Docker's own log files rotate too; this keeps a runaway service from filling the disk.
LOG_MAX_SIZE = "10m"


class Interpolated(str):
    """A string in which compose is meant to substitute variables (`${NAME:-1}`):
    the one kind of value no_interpolation leaves as it is."""


def no_interpolation(value: Any) -> Any:
    """The document with every `$` of a string value doubled (`$$`, compose's escape),
    except in Interpolated strings: a `${HOME}` or `$(...)` in an environment value,
    a command or a path reaches the container as written instead of being expanded
    by compose on the host. Keys are names, not interpolated by compose."""
    if isinstance(value, Interpolated):
        return str(value)
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: no_interpolation(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [no_interpolation(v) for v in value]
    return value


def _resources(res: Resources) -> dict[str, Any]:
    limits: dict[str, Any] = {
        "cpus": f"{res.limits.cpus:g}",
        "memory": res.limits.memory,
        "pids": res.pids,
    }
    out: dict[str, Any] = {"limits": limits}
    if res.reservations is not None:
        out["reservations"] = {
            "cpus": f"{res.reservations.cpus:g}",
            "memory": res.reservations.memory,
        }
    return out


def _volume(m: Mount) -> dict[str, Any]:
    return {
        "type": "volume" if m.named else "bind",
        "source": m.source,
        "target": m.target,
        "read_only": m.read_only,
    }


def on(m: Mount, swarm: bool) -> Mount:
    """The mount as the given platform sees it (swarm may ship another generated file)."""
    return replace(m, source=m.swarm_source) if swarm and m.swarm_source else m


def shipped_as_config(m: Mount) -> bool:
    """A generated file: on one host a bind mount, in a swarm a config that reaches
    every node (bind mounts of host paths, volumes and tmpfs stay what they are)."""
    return not m.named and m.source.startswith("./")


@dataclass(frozen=True)
class Versioned:
    """A swarm config or secret; swarm objects are immutable, so each is named with a
    version the deploy script computes from its file (deploy-stack.sh)."""

    key: str
    file: str
    variable: str

    def name(self, project: str) -> str:
        # Swarm object names hold 64 characters: the project is shortened first.
        room = SWARM_NAME_MAX - VERSION_MAX - 2 - len(self.key)
        # The version variable is set by deploy-stack.sh: compose substitutes it.
        return Interpolated(f"{project[:room].rstrip('-_.')}_{self.key}_${{{self.variable}:-1}}")


SWARM_NAME_MAX = 64
VERSION_MAX = 12
"""Digest characters (or the 10 digits of a modification time) in a name."""


def _versioned(path: str, prefix: str) -> Versioned:
    # The file and its directory say what it is (rules/alerts.yml); globally unique
    # paths would not fit in a swarm name.
    tail = "_".join(path.removeprefix("./").split("/")[-2:])
    key = re.sub(r"[^A-Za-z0-9.]+", "_", tail).strip("_.")[-32:]
    variable = prefix + re.sub(r"[^A-Z0-9]+", "_", path.removeprefix("./").upper()).strip("_")
    return Versioned(key, path, variable)


def swarm_configs(topo: Topology) -> list[Versioned]:
    paths = sorted({on(m, True).source for c in topo.containers for m in c.mounts
                    if shipped_as_config(m)})
    return [_versioned(p, "CONFIG_") for p in paths]


def swarm_secrets(topo: Topology) -> list[Versioned]:
    return [
        Versioned(s, f"{topo.secrets_dir}/{s}", _versioned(s, "SECRET_").variable)
        for s in topo.secrets
    ]


def _tmpfs(target: str, user: str) -> str:
    """A tmpfs other than /tmp (mode 1777) is root's, mode 755: given to a numeric user,
    or that user could not write it."""
    uid, _, gid = user.partition(":")
    if target == "/tmp" or not uid.isdigit():
        return target
    return f"{target}:uid={uid},gid={gid or uid}"


def _port(p: Published, swarm: bool) -> dict[str, Any]:
    port: dict[str, Any] = {"target": p.container_port, "published": p.host_port, "protocol": "tcp"}
    if swarm:
        # Swarm knows no host_ip; mode host keeps the client's address, which the
        # routing mesh would hide from nginx's rate limits and allow lists.
        port["mode"] = "host"
    else:
        port["host_ip"] = p.host_ip
    return port


def swarm_policies(c: Container, topo: Topology) -> dict[str, Any]:
    """placement, update_config and rollback_config of one swarm service."""
    policy = topo.env.deploy.update
    # A second task cannot share a data volume or a host-mode port.
    order = "stop-first" if c.published or any(m.named for m in c.mounts) else "start-first"
    roll = {"parallelism": 1, "delay": policy.delay, "order": order, "monitor": policy.monitor}
    out: dict[str, Any] = {
        "update_config": {**roll, "failure_action": "rollback", "max_failure_ratio": 0},
        # A rollback that fails too stops where it is, for a person to look at.
        "rollback_config": {**roll, "failure_action": "pause"},
    }
    where = placement(topo.env, c)
    if where is not None:
        spec: dict[str, Any] = {"constraints": list(where.constraints)}
        if where.spread:
            spec["preferences"] = [{"spread": where.spread}]
        if where.max_replicas_per_node:
            spec["max_replicas_per_node"] = where.max_replicas_per_node
        out["placement"] = spec
        if where.replicas is not None:
            out["replicas"] = where.replicas
    return out


def service(c: Container, topo: Topology, swarm: bool) -> dict[str, Any]:
    """One compose service; the keys every hardened service carries come first."""
    svc: dict[str, Any] = {"image": c.image}
    if c.command:
        svc["command"] = list(c.command)
    if not c.scalable:
        svc["hostname"] = c.name
    elif swarm:
        # Each task names itself (the app's X-Served-By, logs): api-2, not a task id.
        svc["hostname"] = "{{.Service.Name}}-{{.Task.Slot}}"
    svc["user"] = c.user
    if c.environment:
        svc["environment"] = dict(c.environment)
    if c.secrets:
        svc["secrets"] = list(c.secrets)
    if c.published:
        svc["ports"] = [_port(p, swarm) for p in c.published]
    mounts = [on(m, swarm) for m in c.mounts]
    shipped = [m for m in mounts if swarm and shipped_as_config(m)]
    kept = [m for m in mounts if m not in shipped]
    if shipped:
        svc["configs"] = [
            {"source": _versioned(m.source, "").key, "target": m.target, "mode": 0o444}
            for m in shipped
        ]
    if kept:
        svc["volumes"] = [_volume(m) for m in kept]
    expose = sorted(set(c.expose) | ({c.port} if c.port else set()))
    if expose:
        svc["expose"] = [str(p) for p in expose]
    svc["networks"] = list(c.networks)
    if c.depends_on and not swarm:
        svc["depends_on"] = {name: {"condition": cond} for name, cond in c.depends_on}
    hc = c.healthcheck
    svc["healthcheck"] = {
        "test": list(hc.test),
        "interval": hc.interval,
        "timeout": hc.timeout,
        "retries": hc.retries,
        "start_period": hc.start_period,
    }
    svc["security_opt"] = ["no-new-privileges:true"]
    svc["cap_drop"] = ["ALL"]
    if c.cap_add:
        svc["cap_add"] = list(c.cap_add)
    if c.sysctls:
        svc["sysctls"] = dict(c.sysctls)
    if c.writable_root is None:
        svc["read_only"] = True
    else:
        # Where `docker inspect` shows it: the stack test accepts a writable root only
        # with this label.
        svc["labels"] = {WRITABLE_ROOT_LABEL: c.writable_root}
    if c.tmpfs and swarm:
        # Swarm ignores the service-level `tmpfs:`; a tmpfs mount it does make.
        svc.setdefault("volumes", []).extend({"type": "tmpfs", "target": t} for t in c.tmpfs)
    elif c.tmpfs:
        svc["tmpfs"] = [_tmpfs(t, c.user) for t in c.tmpfs]
    svc["stop_grace_period"] = c.stop_grace_period
    svc["logging"] = {
        "driver": "json-file",
        "options": {
            "max-size": LOG_MAX_SIZE,
            "max-file": str(topo.env.logging.logrotate.rotate),
        },
    }
    deploy: dict[str, Any] = {"replicas": c.replicas, "resources": _resources(c.resources)}
    if swarm:
        deploy = {
            "mode": "replicated",
            # dnsrr: the name resolves to every task (no IPVS needed); vip: one address.
            "endpoint_mode": topo.env.deploy.endpoint_mode.value,
            **deploy,
            "restart_policy": {"condition": "any", "delay": "5s", "max_attempts": 10},
            **swarm_policies(c, topo),
        }
        if c.one_shot:
            # Swarm ignores depends_on: the task runs once per deploy and is never
            # restarted; deploy-stack.sh runs it again and waits for its exit
            # (infra_gen.stack.migrations.swarm_migrate does the same from Python).
            deploy["restart_policy"] = {"condition": "none"}
            del deploy["update_config"]
    else:
        svc["restart"] = "no" if c.one_shot else "unless-stopped"
    svc["deploy"] = deploy
    return svc


def document(topo: Topology, swarm: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if not swarm:
        doc["name"] = topo.compose_project
    doc["services"] = {c.name: service(c, topo, swarm) for c in topo.containers}
    networks: dict[str, Any] = {}
    for net in topo.networks:
        spec: dict[str, Any] = {"driver": "overlay" if swarm else "bridge"}
        if net == BACKEND_NET:
            # The data tier has no route out: only services on frontend-net reach outside.
            spec["internal"] = True
        if swarm:
            spec["attachable"] = True
        networks[net] = spec
    for net in topo.external_networks:
        # Made and kept by whoever runs what is on it (the log sink): never ours to create.
        networks[net] = {"external": True, "name": net}
    doc["networks"] = networks
    doc["volumes"] = {v: {} for v in topo.volumes}
    if swarm:
        project = topo.compose_project
        doc["configs"] = {c.key: {"name": c.name(project), "file": c.file}
                          for c in swarm_configs(topo)}
        doc["secrets"] = {s.key: {"name": s.name(project), "file": s.file}
                          for s in swarm_secrets(topo)}
    else:
        doc["secrets"] = {s: {"file": f"{topo.secrets_dir}/{s}"} for s in topo.secrets}
    return doc


def outputs(topo: Topology) -> list[Output]:
    # The model's overrides first, then $ -> $$: a patched value is never
    # interpolated by compose either.
    compose = apply(topo.env, ("compose",), document(topo, swarm=False))
    files = [Output("compose.yaml", "compose/compose.yaml.j2",
                    {"document": no_interpolation(compose), "swarm": False})]
    if topo.env.deploy.swarm:
        stack = apply(topo.env, ("stack",), document(topo, swarm=True))
        files.append(Output("stack.yaml", "compose/compose.yaml.j2",
                            {"document": no_interpolation(stack), "swarm": True}))
        files.append(Output("deploy-stack.sh", "compose/deploy-stack.sh.j2",
                            {"configs": swarm_configs(topo), "secrets": swarm_secrets(topo),
                             "one_shot": [c.name for c in topo.containers if c.one_shot]},
                            executable=True))
    return files


ARTIFACT = ArtifactKind(
    "compose",
    "docker compose file (and a swarm stack file where deploy.swarm is set)",
    outputs,
)
