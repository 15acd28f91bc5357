"""compose.yaml and the swarm stack: what each host or node needs is in the files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from infra_gen.artifacts.compose import SWARM_NAME_MAX, VERSION_MAX
from infra_gen.project import Project
from infra_gen.render import render_environment

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Project(ROOT)


@pytest.fixture(scope="module")
def prod() -> dict[str, str]:
    return {p: f.content.decode() for p, f in render_environment(PROJECT, "prod").items()}


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_generated_file_compose_mounts_is_rendered(env: str) -> None:
    files = render_environment(PROJECT, env)
    services = yaml.safe_load(files["compose.yaml"].content)["services"]
    sources = {v["source"] for s in services.values() for v in s.get("volumes", [])
               if v["type"] == "bind" and v["source"].startswith("./")}
    assert sources, "no generated file is mounted"
    assert {s.removeprefix("./") for s in sources} <= set(files)


def test_swarm_ships_generated_files_as_versioned_configs(prod: dict[str, str]) -> None:
    stack = yaml.safe_load(prod["stack.yaml"])
    for name, svc in stack["services"].items():
        binds = [v["source"] for v in svc.get("volumes", []) if v["type"] == "bind"]
        assert not [b for b in binds if b.startswith("./")], f"{name} bind-mounts a generated file"
    configs = stack["configs"]
    used = {c["source"] for s in stack["services"].values() for c in s.get("configs", [])}
    assert used == set(configs)
    script = prod["deploy-stack.sh"]
    for key, spec in {**configs, **stack["secrets"]}.items():
        variable = re.search(r"\$\{(\w+):-1\}", spec["name"]).group(1)  # type: ignore[union-attr]
        assert f'{variable}="$(' in script, f"deploy-stack.sh does not version {key}"
        expanded = spec["name"].replace(f"${{{variable}:-1}}", "x" * VERSION_MAX)
        assert len(expanded) <= SWARM_NAME_MAX, expanded
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9]", expanded), expanded
    for spec in configs.values():
        assert spec["file"].removeprefix("./") in prod
    assert "grafana_admin_password" in stack["secrets"]


def test_swarm_keeps_client_addresses_and_rolls_safely(prod: dict[str, str]) -> None:
    stack = yaml.safe_load(prod["stack.yaml"])["services"]
    lb = stack["lb"]
    assert {p["mode"] for p in lb["ports"]} == {"host"}
    assert all("host_ip" not in p for p in lb["ports"])
    # A second lb task could not bind the host port, a second postgres not share its data.
    assert lb["deploy"]["update_config"]["order"] == "stop-first"
    assert stack["postgres"]["deploy"]["update_config"]["order"] == "stop-first"
    assert stack["api-1"]["deploy"]["update_config"]["order"] == "start-first"
    assert "depends_on" not in stack["api-1"]
