"""infra_gen/contract.py is the one place: the artifacts render its paths, the validators,
the CI template and the install script use its tool lists, and the reference app
declares its metric and task names. Each test fails when one of them disagrees."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from infra_gen import contract
from infra_gen.validate.registry import CHECKS

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "generated"
PATHS = {name: value for name, value in vars(contract).items()
         if name.isupper() and isinstance(value, str) and ("/" in value or value.endswith((".yaml", ".example")))}
PROGRAMS_NOT_PACKAGED = {"docker"}
"""Docker comes with the engine (scripts/install-tools.sh installs it separately)."""


def contract_list(name: str) -> list[str]:
    # -S: no site-packages, so the list is readable with nothing but python3 installed.
    proc = subprocess.run([sys.executable, "-S", "-m", "infra_gen.contract", name],
                          cwd="/", env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


@pytest.mark.parametrize("name", sorted(PATHS))
def test_every_contract_path_is_rendered(name: str) -> None:
    pattern = PATHS[name]
    found = [p for env in GENERATED.iterdir() if env.is_dir() for p in env.glob(pattern)]
    assert found, f"contract.{name} = {pattern!r} matches nothing under generated/*/"


def test_validators_restate_no_artifact_path() -> None:
    literals = set(PATHS.values()) | {v.split("*")[0] for v in PATHS.values() if "*" in v}
    for source in (ROOT / "infra_gen/validate").glob("*.py"):
        strings = set(re.findall(r'"([^"\n]+)"', source.read_text()))
        assert not strings & literals, f"{source.name} restates {strings & literals}: use infra_gen.contract"


def test_every_program_a_check_runs_is_installed_by_the_contract() -> None:
    programs = {t for c in CHECKS for t in c.tools} - PROGRAMS_NOT_PACKAGED
    assert programs
    assert programs <= set(contract.APT_TOOLS) | set(contract.PIP_TOOLS)


def test_pip_tools_are_the_validate_extra_and_the_test_extra_has_it() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {re.split(r"[<>=\[ ]", req, maxsplit=1)[0] for req in extras["validate"]}
    assert names == set(contract.PIP_TOOLS.values())  # `pip install 'infra-gen[validate]'`
    assert "infra-gen[validate]" in extras["test"]


def test_ci_template_installs_the_contract_tools() -> None:
    workflow = yaml.safe_load((GENERATED / "prod" / contract.CI_WORKFLOW).read_text())
    run = "\n".join(s.get("run", "") for job in workflow["jobs"].values() for s in job["steps"])
    (apt,) = re.findall(r"apt-get install -y --no-install-recommends (.*)", run)
    assert apt.split() == contract.apt_packages()
    (stop,) = re.findall(r"systemctl stop (.*?) \|\|", run)
    assert stop.split() == list(contract.HOST_DAEMONS)
    (pip,) = re.findall(r"pip install (.*)", run)
    assert set(contract.PIP_TOOLS.values()) <= set(pip.split())


def test_install_script_reads_the_lists_from_the_contract() -> None:
    script = (ROOT / "scripts/install-tools.sh").read_text()
    code = "\n".join(line.split("#", 1)[0] for line in script.splitlines())
    for name in ("apt-packages", "apt-tools", "host-daemons"):
        assert f"contract_list {name}" in code
        assert contract_list(name) == contract.LISTS[name]
    base = code[code.index("BASE_PKGS=("):].split(")", 1)[0]
    checked = re.search(r"for tool in (.*); do", code)
    assert checked and "VALIDATION_TOOLS" in checked.group(1)
    for package in contract.apt_packages():
        assert not re.search(rf"(?<![\w-]){re.escape(package)}(?![\w-])", base), package
        assert package not in checked.group(1).split()


def test_contract_cli_rejects_an_unknown_list() -> None:
    proc = subprocess.run([sys.executable, "-S", "-m", "infra_gen.contract", "nope"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "usage:" in proc.stderr


def _base(series: str) -> str:
    return re.sub(r"_(bucket|count|sum)$", "", series)


def test_the_app_declares_every_contract_metric() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "services/app/churn").rglob("metrics.py"))
    declared = set(re.findall(r'"(churn_[a-z_]+)"', source))
    assert {_base(m) for m in contract.METRICS} <= declared


def test_the_app_queues_and_runs_the_contract_task() -> None:
    app = ROOT / "services/app/churn"
    assert f'SCORE_TASK_NAME = "{contract.SCORE_TASK}"' in (app / "api/queue.py").read_text()
    assert f'name="{contract.SCORE_TASK}"' in (app / "worker/tasks.py").read_text()


def test_no_artifact_restates_a_metric_or_task_name() -> None:
    for source in (ROOT / "infra_gen").rglob("*.py"):
        if source.name == "contract.py":
            continue
        names = re.findall(r'"(churn_[a-z_]+|churn\.[a-z_]+)"', source.read_text())
        assert not names, f"{source.relative_to(ROOT)} restates {names}: use infra_gen.contract"
