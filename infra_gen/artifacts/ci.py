"""ci/github-workflow.yml: a GitHub Actions workflow for a project that uses infra-gen.

It renders, fails when generated/ is stale (`infra-gen check`) and runs
`infra-gen validate --strict` on the environment with the real tools, installed
from the runner's Debian/Ubuntu packages. Copy it to .github/workflows/.
The workflow is data dumped as YAML; its `run` lines are shell, quoted here.
"""

from __future__ import annotations

from typing import Any

from ..escaping import sh
from ..topology import Topology
from .base import ArtifactKind, Output

PYTHON = "3.11"
APT_PACKAGES = ("nginx", "prometheus", "prometheus-alertmanager", "logrotate", "shellcheck", "ufw")
"""The validation tools (their daemons are stopped right after install)."""
STOP_SERVICES = ("nginx", "prometheus", "prometheus-alertmanager")
PIP_PACKAGES = ("infra-gen", "check-jsonschema", "gixy-ng")
PATHS = ["environments/**", "templates/**", "generated/**"]
AS_ROOT = "sudo --preserve-env=CI,PATH"


def _words(*words: str) -> str:
    return " ".join(sh(w) for w in words)


def workflow(topo: Topology) -> dict[str, Any]:
    env = topo.name
    report = f"validate-{env}.json"
    validate = f"{_words('infra-gen', 'validate', env, '--strict', '--format', 'json')} > {sh(report)}"
    return {
        "name": f"infra-gen {env}",
        "on": {
            "push": {"paths": list(PATHS)},
            "pull_request": {"paths": list(PATHS)},
            "workflow_dispatch": None,
        },
        "permissions": {"contents": "read"},
        # ${{ github.ref }} is a GitHub expression, meant as such.
        "concurrency": {"group": f"infra-gen-{env}-${{{{ github.ref }}}}",
                        "cancel-in-progress": True},
        "jobs": {"validate": {
            "runs-on": "ubuntu-latest",
            "timeout-minutes": 30,
            "env": {"CI": "true"},
            "steps": [
                {"uses": "actions/checkout@v4"},
                {"uses": "actions/setup-python@v5", "with": {"python-version": PYTHON}},
                {"name": "Install the validation tools", "run": "\n".join((
                    "sudo apt-get update",
                    f"sudo apt-get install -y --no-install-recommends {_words(*APT_PACKAGES)}",
                    f"sudo systemctl stop {_words(*STOP_SERVICES)} || true",
                )) + "\n"},
                {"name": "Install infra-gen",
                 "run": f"python -m pip install {_words(*PIP_PACKAGES)}"},
                {"name": "Render", "run": _words("infra-gen", "render", env)},
                {"name": "generated/ is up to date", "run": "infra-gen check"},
                {"name": "Validate (strict)",
                 "run": f"{AS_ROOT} {_words('infra-gen', 'validate', env, '--strict')}"},
                {"name": "Validation report (JSON)", "if": "always()",
                 "run": f"{AS_ROOT} sh -c {sh(validate)} || true"},
                {"uses": "actions/upload-artifact@v4", "if": "always()",
                 "with": {"name": f"validate-{env}", "path": report}},
            ],
        }},
    }


def outputs(topo: Topology) -> list[Output]:
    return [Output("ci/github-workflow.yml", "ci/github-workflow.yml.j2",
                   {"workflow": workflow(topo)})]


ARTIFACT = ArtifactKind(
    "ci", "GitHub Actions workflow: render, check, validate --strict with the real tools", outputs
)
