"""Every running container has a read-only root filesystem unless the model says why
(a writable_root reason, shown as a label), and no container holds the Redis password
in its environment (the configured one, or its first process's).
"""

from __future__ import annotations

import json

from stack_support import docker

from infra_gen.stack import Stack
from infra_gen.topology import WRITABLE_ROOT_LABEL, Topology


def _running(stack: Stack) -> list[dict]:  # type: ignore[type-arg]
    ids = stack.compose("ps", "-q", capture=True).stdout.split()
    assert ids, "no container running"
    return list(json.loads(docker("inspect", *ids)))


def test_every_root_filesystem_is_read_only_unless_the_model_says_why(stack: Stack,
                                                                     topo: Topology) -> None:
    planned = {c.name: c.writable_root for c in topo.containers}
    writable, seen = [], set()
    for c in _running(stack):
        labels = c["Config"]["Labels"] or {}
        service = labels["com.docker.compose.service"]
        seen.add(service)
        if c["HostConfig"]["ReadonlyRootfs"]:
            continue
        reason = labels.get(WRITABLE_ROOT_LABEL, "")
        if not reason or reason != planned.get(service):
            writable.append(f"{service} ({c['Name']}): label {reason!r}, "
                            f"model {planned.get(service)!r}")
    assert not writable, "writable root filesystem without the model's reason: " + \
        "; ".join(writable)
    # Every service running now was looked at (a one-shot job may have exited).
    running = {s.service for s in stack.status() if s.state == "running"}
    assert running and running <= seen, running - seen
    print(f"\n{len(seen)} services, read-only root filesystems except "
          f"{sorted(n for n, r in planned.items() if r) or 'none'}")


def test_no_container_environment_holds_the_redis_password(stack: Stack) -> None:
    password = (stack.secrets / "redis_password").read_text().strip()
    assert len(password) >= 8
    leaks = []
    for c in _running(stack):
        name = c["Name"].lstrip("/")
        if any(password in e for e in c["Config"]["Env"] or []):
            leaks.append(f"{name}: docker inspect Config.Env")
        # What the main process runs with: an entry point may export what it read.
        environ = docker("exec", c["Id"], "cat", "/proc/1/environ", check=False)
        if password in environ:
            leaks.append(f"{name}: /proc/1/environ")
    assert not leaks, leaks
