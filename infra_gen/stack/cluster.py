"""The facts the cluster scripts need, from the model: `python -m infra_gen.stack.cluster ENV`.

scripts/swarm-up.sh (test scaffolding) reads them as shell assignments, so the node
addresses, roles, labels, managers and registry come from environments/<env>.yaml,
never from a second list in the script.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from ..project import Project
from ..topology.swarm import node_labels


def registry_host(image_prefix: str) -> str | None:
    """host[:port] of an image prefix's registry, or None for Docker Hub names."""
    first, slash, _ = image_prefix.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def facts(project: Project, name: str) -> list[tuple[str, str]]:
    env = project.load(name)
    if not env.deploy.nodes:
        raise SystemExit(f"cluster: environments/{name}.yaml has no deploy.nodes")
    bastion = env.ssh.bastion
    if bastion is None:
        raise SystemExit(f"cluster: environments/{name}.yaml has no ssh.bastion")
    nodes = list(env.deploy.nodes)
    labels = node_labels(env)
    out = [
        ("BASTION_ADDR", bastion.hostname),
        ("BASTION_USER", bastion.user),
        ("IDENTITY_FILE", bastion.identity_file),
        ("NODES", " ".join(nodes)),
        ("MANAGERS", " ".join(a for a in nodes if env.deploy.nodes[a].manager)),
        ("REGISTRY", registry_host(env.images.registry) or ""),
    ]
    for alias in nodes:
        var = alias.upper().replace("-", "_")
        out.append((f"ADDR_{var}", env.ssh.hosts[alias]))
        out.append((f"LABELS_{var}", " ".join(f"{k}={v}" for k, v in labels[alias].items())))
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m infra_gen.stack.cluster ENV", file=sys.stderr)
        return 2
    for key, value in facts(Project.find(Path.cwd()), argv[0]):
        print(f"{key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
