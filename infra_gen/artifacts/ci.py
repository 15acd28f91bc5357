"""ci/github-workflow.yml: a GitHub Actions workflow for a project that uses infra-gen.

It renders, fails when generated/ is stale (`infra-gen check`) and runs
`infra-gen validate --strict` on the environment with the real tools, installed
from the runner's Debian/Ubuntu packages. Copy it to .github/workflows/.
"""

from __future__ import annotations

from ..topology import Topology
from .base import ArtifactKind, Output

PYTHON = "3.11"
APT_PACKAGES = ("nginx", "prometheus", "prometheus-alertmanager", "logrotate", "shellcheck", "ufw")
"""The validation tools (their daemons are stopped right after install)."""
PIP_PACKAGES = ("infra-gen", "check-jsonschema", "gixy-ng")


def context(topo: Topology) -> dict[str, object]:
    env = topo.name
    return {
        "workflow_name": f"infra-gen {env}",
        "concurrency_group": f"infra-gen-{env}-${{{{ github.ref }}}}",
        "report_name": f"validate-{env}",
        "python": PYTHON,
        "apt_packages": " ".join(APT_PACKAGES),
        "stop_services": " ".join(("nginx", "prometheus", "prometheus-alertmanager")),
        "pip_packages": " ".join(PIP_PACKAGES),
        "render": f"infra-gen render {env}",
        "check": "infra-gen check",
        "validate": f"infra-gen validate {env} --strict --format json > validate-{env}.json",
        "show": f"infra-gen validate {env} --strict",
        "report": f"validate-{env}.json",
        "paths": ["environments/**", "templates/**", "generated/**"],
    }


def outputs(topo: Topology) -> list[Output]:
    return [Output("ci/github-workflow.yml", "ci/github-workflow.yml.j2", context(topo))]


ARTIFACT = ArtifactKind(
    "ci", "GitHub Actions workflow: render, check, validate --strict with the real tools", outputs
)
