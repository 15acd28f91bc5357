"""ci/github-workflow.yml: a GitHub Actions workflow for a project that uses infra-gen.

First `infra-gen check`, before anything renders: generated/ as committed must be
what this infra-gen makes of environments/ (rendering first would only compare the
tree with itself). Then `infra-gen validate --strict --generated` on the committed
files, with the real tools from the runner's Debian/Ubuntu packages. infra-gen is
not on a package index: the workflow installs it from its git repository at the tag
of the version that rendered the tree, so CI checks with the same generator.
Copy it to .github/workflows/.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..topology import Topology
from .base import ArtifactKind, Output

PYTHON = "3.11"
APT_PACKAGES = ("nginx", "prometheus", "prometheus-alertmanager", "logrotate", "shellcheck", "ufw")
"""The validation tools (their daemons are stopped right after install)."""
HOST_SERVICES = ("nginx", "prometheus", "prometheus-alertmanager")
INFRA_GEN_REPOSITORY = "https://github.com/infra-gen/infra-gen"
"""Git repository infra-gen's releases are tagged in (vX.Y.Z); pip installs from it."""
INFRA_GEN_TAG = f"v{__version__}"
"""The release the workflow pins: the version that rendered the tree."""
PIP_PACKAGES = (
    f"infra-gen @ git+{INFRA_GEN_REPOSITORY}@{INFRA_GEN_TAG}", "check-jsonschema", "gixy-ng",
)
WATCHED_PATHS = ("environments/**", "templates/**", "generated/**")
# sudo: the ufw check runs in a throw-away container (docker needs root on the runner).
AS_ROOT = "sudo --preserve-env=CI,PATH"


def _step(name: str, run: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, **extra, "run": run}


def workflow(env: str) -> dict[str, Any]:
    """The workflow document; the steps run in this order, `infra-gen check` first."""
    report = f"validate-{env}.json"
    validate = f"infra-gen validate {env} --strict --generated"
    pip = " ".join(f'"{p}"' if " " in p else p for p in PIP_PACKAGES)
    apt = " ".join(APT_PACKAGES)
    return {
        "name": f"infra-gen {env}",
        "on": {
            "push": {"paths": list(WATCHED_PATHS)},
            "pull_request": {"paths": list(WATCHED_PATHS)},
            "workflow_dispatch": None,
        },
        "permissions": {"contents": "read"},
        "concurrency": {"group": f"infra-gen-{env}-${{{{ github.ref }}}}",
                        "cancel-in-progress": True},
        "jobs": {"validate": {
            "runs-on": "ubuntu-latest",
            "timeout-minutes": 30,
            "env": {"CI": "true"},
            "steps": [
                {"uses": "actions/checkout@v4"},
                {"uses": "actions/setup-python@v5", "with": {"python-version": PYTHON}},
                _step(f"Install infra-gen {INFRA_GEN_TAG}", f"python -m pip install {pip}"),
                _step("generated/ is what environments/ renders to", "infra-gen check"),
                _step("Install the validation tools", "\n".join((
                    "sudo apt-get update",
                    f"sudo apt-get install -y --no-install-recommends {apt}",
                    f"sudo systemctl stop {' '.join(HOST_SERVICES)} || true",
                )) + "\n"),
                _step("Validate (strict)", f"{AS_ROOT} {validate}"),
                _step("Validation report (JSON)",
                      f"{AS_ROOT} sh -c '{validate} --format json > {report}' || true",
                      **{"if": "always()"}),
                {"uses": "actions/upload-artifact@v4", "if": "always()",
                 "with": {"name": f"validate-{env}", "path": report}},
            ],
        }},
    }


def outputs(topo: Topology) -> list[Output]:
    return [Output("ci/github-workflow.yml", "ci/github-workflow.yml.j2",
                   {"document": workflow(topo.name)})]


ARTIFACT = ArtifactKind(
    "ci", "GitHub Actions workflow: check generated/, then validate --strict with the real tools",
    outputs,
)
