"""The generated GitHub workflow (ci/github-workflow.yml) and this repository's own
CI files (.github/workflows/ci.yml, .pre-commit-hooks.yaml)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra_gen.project import Project
from infra_gen.render import render_environment

ROOT = Path(__file__).parents[2]
PROJECT = Project(ROOT)
VERSION = (ROOT / "VERSION").read_text(encoding="utf-8").strip()


def _steps(env: str) -> list[dict[str, Any]]:
    text = render_environment(PROJECT, env)["ci/github-workflow.yml"].content.decode()
    return list(yaml.safe_load(text)["jobs"]["validate"]["steps"])


def _first(runs: list[str], needle: str) -> int:
    return next(i for i, r in enumerate(runs) if needle in r)


@pytest.mark.parametrize("env", PROJECT.environment_names)
def test_check_runs_first_and_nothing_renders(env: str) -> None:
    runs = [s.get("run", "") for s in _steps(env)]
    install, check = _first(runs, "pip install"), _first(runs, "infra-gen check")
    validate = _first(runs, f"infra-gen validate {env} --strict")
    assert install < check < validate
    # Every infra-gen command before check is only its installation.
    assert not any("infra-gen " in r and "pip install" not in r for r in runs[:check])
    # Rendering in CI would compare generated/ with itself: no step renders.
    assert not any("infra-gen render" in r for r in runs)
    # Validation reads the tree as committed, not a fresh render.
    assert all("--generated" in r for r in runs if "infra-gen validate" in r)


@pytest.mark.parametrize("env", PROJECT.environment_names)
def test_infra_gen_is_pinned_to_this_version_from_git(env: str) -> None:
    runs = [s.get("run", "") for s in _steps(env)]
    args = shlex.split(runs[_first(runs, "pip install")])
    repository = PROJECT.load(env).ci.infra_gen_repository
    assert f"infra-gen[validate] @ git+{repository}@v{VERSION}" in args
    assert repository.startswith("https://")
    # Never by bare name from a package index, where infra-gen is not published.
    assert not any(a.startswith("infra-gen") and "@ git+" not in a for a in args)


def test_the_repository_is_the_models(tmp_path: Path) -> None:
    """ci.infra_gen_repository (a fork, a mirror) is where the workflow installs from."""
    shutil.copytree(ROOT / "environments", tmp_path / "environments")
    base = tmp_path / "environments" / "base.yaml"
    base.write_text(base.read_text() + "ci: {infra_gen_repository: 'ssh://git@git.acme.test/ops/infra-gen'}\n")
    text = render_environment(Project(tmp_path), "prod")["ci/github-workflow.yml"].content.decode()
    assert "infra-gen[validate] @ git+ssh://git@git.acme.test/ops/infra-gen@v" in text
    assert "github.com" not in text


def test_own_workflow_runs_make_test_as_root_on_debian() -> None:
    doc = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text(encoding="utf-8"))
    (job,) = doc["jobs"].values()
    # scripts/install-tools.sh installs on Debian 12/13 as root only; the stack
    # tests start a Docker engine inside the container, which needs --privileged.
    assert job["container"]["image"] == "debian:bookworm"
    assert "--privileged" in job["container"]["options"]
    assert job["env"]["CI"] == "true"
    runs = [s.get("run", "").strip() for s in job["steps"]]
    assert runs[-1] == ".ci/run"
    assert (ROOT / ".ci/run").read_text(encoding="utf-8").rstrip().endswith("make test")


def test_pre_commit_hooks() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    by_id = {h["id"]: h for h in hooks}
    assert set(by_id) == {"infra-gen-check", "infra-gen-validate"}
    for hook in hooks:
        assert hook["language"] == "python"
        assert hook["pass_filenames"] is False
        assert hook["entry"].split()[0] == "infra-gen"
    assert by_id["infra-gen-check"]["entry"] == "infra-gen check"
    assert by_id["infra-gen-validate"]["entry"].startswith("infra-gen validate --all")


def test_own_workflow_passes_the_github_workflows_schema() -> None:
    tool = Path(sys.executable).parent / "check-jsonschema"
    out = subprocess.run([str(tool), "--builtin-schema", "vendor.github-workflows",
                          str(ROOT / ".github/workflows/ci.yml")],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
