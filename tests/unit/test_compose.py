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
    assert stack["api"]["deploy"]["update_config"]["order"] == "start-first"
    assert "depends_on" not in stack["api"]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_one_service_per_group_with_its_replicas(env: str) -> None:
    """`docker compose up --scale api=4` and `docker service scale` work on the files:
    one service per group, never api-1/api-2 copies, no fixed name or hostname."""
    files = render_environment(PROJECT, env)
    model = PROJECT.load(env)
    docs = [("compose.yaml", False)] + ([("stack.yaml", True)] if model.deploy.swarm else [])
    for rel, swarm in docs:
        services = yaml.safe_load(files[rel].content)["services"]
        for group, spec in model.services.items():
            svc = services[group]
            assert svc["deploy"]["replicas"] == spec.replicas, (rel, group)
            assert "container_name" not in svc
            assert not [n for n in services if re.fullmatch(rf"{group}-\d+", n)]
            # A fixed hostname would be shared by every replica; swarm names each task.
            assert svc.get("hostname") == ("{{.Service.Name}}-{{.Task.Slot}}" if swarm else None)
            if swarm:
                assert svc["deploy"]["endpoint_mode"] == model.deploy.endpoint_mode.value


def test_swarm_prometheus_finds_tasks(prod: dict[str, str]) -> None:
    stack = yaml.safe_load(prod["stack.yaml"])
    (conf,) = [c for c in stack["services"]["prometheus"]["configs"]
               if c["target"] == "/etc/prometheus/prometheus.yml"]
    assert stack["configs"][conf["source"]]["file"] == "./prometheus/prometheus.swarm.yml"
    swarm = yaml.safe_load(prod["prometheus/prometheus.swarm.yml"])
    names = {j["job_name"]: j["dns_sd_configs"][0]["names"]
             for j in swarm["scrape_configs"] if "dns_sd_configs" in j}
    assert names == {"api": ["tasks.api"], "worker": ["tasks.worker"], "ml": ["tasks.ml"],
                     "lb-log": ["tasks.lb-log-exporter"]}
