"""ci/github-workflow.yml: a GitHub Actions workflow for a project that uses infra-gen.

It renders, fails when generated/ is stale (`infra-gen check`) and runs
`infra-gen validate --strict` on the environment with the real tools, installed
from the runner's Debian/Ubuntu packages. Copy it to .github/workflows/.
"""

from __future__ import annotations

from .. import contract
from ..contract import CI_WORKFLOW
from ..topology import Topology
from .base import ArtifactKind, Output

PYTHON = "3.11"
PIP_PACKAGES = ("infra-gen", *contract.LISTS["pip-packages"])


def context(topo: Topology) -> dict[str, object]:
    env = topo.name
    return {
        "workflow_name": f"infra-gen {env}",
        "concurrency_group": f"infra-gen-{env}-${{{{ github.ref }}}}",
        "report_name": f"validate-{env}",
        "python": PYTHON,
        "apt_packages": " ".join(contract.apt_packages()),
        # The packages start their daemons; only the binaries are wanted.
        "stop_services": " ".join(contract.HOST_DAEMONS),
        "pip_packages": " ".join(PIP_PACKAGES),
        "render": f"infra-gen render {env}",
        "check": "infra-gen check",
        "validate": f"infra-gen validate {env} --strict --format json > validate-{env}.json",
        "show": f"infra-gen validate {env} --strict",
        "report": f"validate-{env}.json",
        "paths": ["environments/**", "templates/**", "generated/**"],
    }


def outputs(topo: Topology) -> list[Output]:
    return [Output(CI_WORKFLOW, "ci/github-workflow.yml.j2", context(topo))]


ARTIFACT = ArtifactKind(
    "ci", "GitHub Actions workflow: render, check, validate --strict with the real tools", outputs
)
