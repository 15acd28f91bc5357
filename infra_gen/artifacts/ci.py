"""ci/github-workflow.yml: a GitHub Actions workflow for a project that uses infra-gen.

First `infra-gen check`, before anything renders: generated/ as committed must be
what this infra-gen makes of environments/ (rendering first would only compare the
tree with itself). Then `infra-gen validate --strict --generated` on the committed
files, with the real tools from the runner's Debian/Ubuntu packages. infra-gen is
not on a package index: the workflow installs it from its git repository
(`ci.infra_gen_repository` of the model) at the tag of the version that rendered
the tree, so CI checks with the same generator. Copy it to .github/workflows/
(`infra-gen init` writes one for every environment there). The workflow is data
dumped as YAML; its `run` lines are shell, quoted here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import __version__
from ..contract import CI_WORKFLOW, HOST_DAEMONS, apt_packages
from ..escaping import sh
from ..topology import Topology
from .base import ArtifactKind, Output

PYTHON = "3.11"
APT_PACKAGES = tuple(apt_packages())
"""The validation tools (their daemons are stopped right after install)."""
STOP_SERVICES = HOST_DAEMONS
INFRA_GEN_TAG = f"v{__version__}"
"""The release the workflow pins: the version that rendered the tree."""
PATHS = ["environments/**", "templates/**", "generated/**"]
AS_ROOT = "sudo --preserve-env=CI,PATH"


def _words(*words: str) -> str:
    return " ".join(sh(w) for w in words)


def install_requirement(repository: str) -> str:
    """pip's requirement for this infra-gen with the PyPI validation tools (the
    `validate` extra): from its git repository (ci.infra_gen_repository), at the tag
    of this version. Never by bare name: infra-gen is not on a package index."""
    return f"infra-gen[validate] @ git+{repository}@{INFRA_GEN_TAG}"


def workflow(name: str, envs: Sequence[str], repository: str) -> dict[str, Any]:
    """The workflow document; the steps run in this order, `infra-gen check` first.
    envs: the environments to validate (["--all"] for every one)."""
    slug = "-".join(e.removeprefix("--") for e in envs)
    report = f"validate-{slug}.json"
    validate_args = ("infra-gen", "validate", *envs, "--strict", "--generated")
    validate_json = f"{_words(*validate_args, '--format', 'json')} > {sh(report)}"
    return {
        "name": name,
        "on": {
            "push": {"paths": list(PATHS)},
            "pull_request": {"paths": list(PATHS)},
            "workflow_dispatch": None,
        },
        "permissions": {"contents": "read"},
        # ${{ github.ref }} is a GitHub expression, meant as such.
        "concurrency": {"group": f"{name.replace(' ', '-')}-${{{{ github.ref }}}}",
                        "cancel-in-progress": True},
        "jobs": {"validate": {
            "runs-on": "ubuntu-latest",
            "timeout-minutes": 30,
            "env": {"CI": "true"},
            "steps": [
                {"uses": "actions/checkout@v4"},
                {"uses": "actions/setup-python@v5", "with": {"python-version": PYTHON}},
                {"name": f"Install infra-gen {INFRA_GEN_TAG}",
                 "run": f"python -m pip install {_words(install_requirement(repository))}"},
                {"name": "generated/ is what environments/ renders to", "run": "infra-gen check"},
                {"name": "Install the validation tools", "run": "\n".join((
                    "sudo apt-get update",
                    f"sudo apt-get install -y --no-install-recommends {_words(*APT_PACKAGES)}",
                    f"sudo systemctl stop {_words(*STOP_SERVICES)} || true",
                )) + "\n"},
                {"name": "Validate (strict)", "run": f"{AS_ROOT} {_words(*validate_args)}"},
                {"name": "Validation report (JSON)", "if": "always()",
                 "run": f"{AS_ROOT} sh -c {sh(validate_json)} || true"},
                {"uses": "actions/upload-artifact@v4", "if": "always()",
                 "with": {"name": f"validate-{slug}", "path": report}},
            ],
        }},
    }


def outputs(topo: Topology) -> list[Output]:
    env = topo.name
    document = workflow(f"infra-gen {env}", [env], topo.env.ci.infra_gen_repository)
    return [Output(CI_WORKFLOW, "ci/github-workflow.yml.j2", {"workflow": document})]


ARTIFACT = ArtifactKind(
    "ci", "GitHub Actions workflow: check generated/, then validate --strict with the real tools",
    outputs,
)
