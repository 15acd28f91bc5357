"""Swarm nodes in the model -> node labels, placement, update policy, and the stack.yaml
cross-artifact checks (each broken once, with the message it must give)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from mutations import edit_yaml, sub

from infra_gen.errors import ConfigError
from infra_gen.loader import load_environment
from infra_gen.project import Project
from infra_gen.render import render_environment, write_tree
from infra_gen.topology import plan
from infra_gen.topology.swarm import manager, node_labels
from infra_gen.validate import Context, Status, run_check
from infra_gen.validate.swarm import CHECKS

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Project(ROOT)
BY_NAME = {c.name: c for c in CHECKS}

SWARM = """
name: bad
deploy:
  swarm: true
  nodes:
    n1: {manager: true, roles: [edge, app]}
    n2: {roles: [app, db]}
    n3: {roles: [db]}
ssh:
  bastion: {hostname: bastion.example.com}
  hosts: {n1: 10.0.0.1, n2: 10.0.0.2, n3: 10.0.0.3}
"""


def _env(tmp_path: Path, body: str) -> Path:
    d = tmp_path / "environments"
    d.mkdir(exist_ok=True)
    shutil.copy(ROOT / "environments" / "base.yaml", d / "base.yaml")
    path = d / "bad.yaml"
    path.write_text("extends: base\n" + body)
    return path


def _errors(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_environment(path)
    return [str(p) for p in info.value.problems]


BAD_NODES = [
    ("not an ssh host", SWARM.replace("n3: {roles: [db]}", "n4: {roles: [db]}"),
     "deploy.nodes.n4: not an ssh.hosts alias"),
    ("two managers", SWARM.replace("n2: {roles", "n2: {manager: true, roles"),
     "deploy.nodes: 2 managers; swarm needs an odd number"),
    ("no manager", SWARM.replace("manager: true, ", ""),
     "deploy.nodes: 0 managers; swarm needs an odd number"),
    ("no edge node", SWARM.replace("[edge, app]", "[app]"),
     "deploy.nodes: no node has role edge"),
    ("replica without a second db node", SWARM.replace("n3: {roles: [db]}", "n3: {roles: [app]}"),
     "deploy.nodes: postgres.replicas is 1: the replica needs a second db node"),
    ("nodes without swarm", SWARM.replace("swarm: true", "swarm: false"),
     "deploy.nodes: only for a swarm"),
    ("role twice", SWARM.replace("[db]}", "[db, db]}"),
     "deploy.nodes.n3.roles: ['db', 'db'] names a role twice"),
    ("unknown role", SWARM.replace("[db]}", "[database]}"),
     "deploy.nodes.n3.roles[0]: expected 'edge', 'app' or 'db', got 'database'"),
    ("unknown key", SWARM.replace("[db]}", "[db], labels: {x: y}}"),
     "deploy.nodes.n3.labels: unknown field"),
    ("tag with an own image",
     SWARM + "services:\n  billing: {image: acme/billing:1.0, tag: '2.0', user: '1000',"
             " healthcheck: {command: ['true']}}\n",
     "services.billing.tag: a service with its own image pins it in image"),
    ("latest tag of one service", SWARM + "services:\n  api: {tag: latest}\n",
     "services.api.tag: must be a release, not latest"),
    ("monitor longer than timeout",
     SWARM.replace("  swarm: true", "  swarm: true\n  update: {monitor: 5m, timeout: 1m}"),
     "deploy.update.monitor: 5m must be shorter than timeout 1m"),
]


@pytest.mark.parametrize(("body", "expected"), [b[1:] for b in BAD_NODES],
                         ids=[b[0] for b in BAD_NODES])
def test_bad_nodes_get_one_located_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        body: str, expected: str) -> None:
    monkeypatch.chdir(tmp_path)
    problems = _errors(_env(tmp_path, body))
    assert len(problems) == 1, problems
    assert expected in problems[0], problems
    assert problems[0].startswith("environments/bad.yaml:")


def test_a_good_cluster_loads(tmp_path: Path) -> None:
    env = load_environment(_env(tmp_path, SWARM))
    assert manager(env) == "n1"
    assert node_labels(env)["n2"] == {"infra-gen.node": "n2", "infra-gen.app": "true",
                                      "infra-gen.db": "true"}


def _stack(env: str) -> dict[str, Any]:
    files = render_environment(PROJECT, env)
    return yaml.safe_load(files["stack.yaml"].content)["services"]  # type: ignore[no-any-return]


def _constraints(svc: dict[str, Any]) -> list[str]:
    return svc["deploy"]["placement"]["constraints"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("env", "service", "constraint"), [
    ("swarm", "postgres", "node.labels.infra-gen.node == node-2"),
    ("swarm", "postgres-replica", "node.labels.infra-gen.node == node-3"),
    ("swarm", "redis", "node.labels.infra-gen.node == node-2"),
    ("swarm", "lb", "node.labels.infra-gen.edge == true"),
    ("swarm", "api", "node.labels.infra-gen.app == true"),
    ("prod", "postgres", "node.labels.infra-gen.node == db-1"),
    ("prod", "postgres-replica", "node.labels.infra-gen.node == db-2"),
    ("prod", "lb", "node.labels.infra-gen.edge == true"),
])
def test_placement_follows_node_roles(env: str, service: str, constraint: str) -> None:
    assert _constraints(_stack(env)[service]) == [constraint]


def test_databases_keep_their_volumes_on_their_node() -> None:
    svcs = _stack("swarm")
    assert {v["source"] for v in svcs["postgres"]["volumes"] if v["type"] == "volume"} == {"pgdata"}
    assert {v["source"] for v in svcs["postgres-replica"]["volumes"]
            if v["type"] == "volume"} == {"pgreplica"}


def test_lb_runs_once_per_edge_node_in_host_mode() -> None:
    prod = _stack("prod")["lb"]
    assert prod["deploy"]["replicas"] == 2  # app-1 and app-2 are edge nodes
    assert prod["deploy"]["placement"]["max_replicas_per_node"] == 1
    assert {p["mode"] for p in prod["ports"]} == {"host"}


def test_api_spreads_and_rolls_start_first_with_rollback() -> None:
    api = _stack("swarm")["api"]["deploy"]
    assert api["placement"]["preferences"] == [{"spread": "node.labels.infra-gen.node"}]
    assert api["update_config"] == {"parallelism": 1, "delay": "5s", "order": "start-first",
                                    "monitor": "20s", "failure_action": "rollback",
                                    "max_failure_ratio": 0}
    assert api["rollback_config"]["failure_action"] == "pause"
    assert api["rollback_config"]["order"] == "start-first"


def test_stateful_services_stop_before_they_start() -> None:
    svcs = _stack("swarm")
    for name in ("postgres", "postgres-replica", "redis", "lb", "prometheus"):
        assert svcs[name]["deploy"]["update_config"]["order"] == "stop-first", name


def test_no_nodes_no_placement() -> None:
    env = PROJECT.load("prod").model_copy(deep=True)
    deploy = env.deploy.model_copy(update={"nodes": {}})
    topo = plan(env.model_copy(update={"deploy": deploy}))
    from infra_gen.artifacts.compose import document
    assert all("placement" not in s["deploy"] for s in document(topo, True)["services"].values())


# -- stack.yaml checks: each passes on the rendered swarm and prod trees, and catches --
# -- a deliberately broken file --------------------------------------------------------
@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for env in ("swarm", "prod"):
        root = tmp_path_factory.mktemp(env) / env
        write_tree(root, render_environment(PROJECT, env))
        out[env] = root
    return out


def _ctx(root: Path, env: str) -> Context:
    return Context(plan(PROJECT.load(env)), root)


@pytest.mark.parametrize("env", ["swarm", "prod"])
@pytest.mark.parametrize("check", sorted(BY_NAME))
def test_checks_pass_on_rendered(rendered: dict[str, Path], env: str, check: str) -> None:
    result = run_check(_ctx(rendered[env], env), BY_NAME[check])
    assert result.status is Status.passed, result.messages()


def _svc(fn: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    return edit_yaml("stack.yaml", lambda doc: fn(doc["services"]))


STACK_MUTATIONS: list[tuple[str, str, Callable[[Path], None], str]] = [
    ("constraint on a label no node has", "placement names node labels",
     _svc(lambda s: s["postgres"]["deploy"]["placement"].__setitem__(
         "constraints", ["node.labels.infra-gen.node == db-9"])),
     "services.postgres.deploy.placement.constraints ['node.labels.infra-gen.node == db-9'] "
     "match no node"),
    ("service without placement", "placement names node labels",
     _svc(lambda s: s["api"]["deploy"].pop("placement")),
     "services.api.deploy.placement: no constraint"),
    ("ingress-mode port", "stack ports host mode on edge",
     _svc(lambda s: s["lb"]["ports"][0].pop("mode")), "is not published in host mode"),
    ("lb placed off the edge", "stack ports host mode on edge",
     _svc(lambda s: s["lb"]["deploy"]["placement"].__setitem__(
         "constraints", ["node.labels.infra-gen.app == true"])),
     "services.lb.deploy.placement: publishes ports but may run on ['node-1', 'node-2', "
     "'node-3'], not only edge nodes ['node-1']"),
    ("published port ufw does not open", "stack ports host mode on edge",
     sub("firewall/ufw.sh", r"^rule allow any 80 ", "rule allow any 81 "),
     "services.lb.ports: 80 is published but ufw.sh opens only [81]"),
    ("build in the stack", "nothing swarm ignores",
     _svc(lambda s: s["api"].__setitem__("build", "./app")),
     "services.api.build: swarm pulls images, it never builds"),
    ("depends_on in the stack", "nothing swarm ignores",
     _svc(lambda s: s["lb"].__setitem__("depends_on", ["api"])),
     "services.lb.depends_on: swarm ignores it"),
    ("dependent without restart", "nothing swarm ignores",
     _svc(lambda s: s["api"]["deploy"]["restart_policy"].__setitem__("condition", "none")),
     "services.api: waits for ['migrate', 'postgres', 'redis'] in compose.yaml; on swarm it needs"),
    ("run-once service the deploy script does not run", "nothing swarm ignores",
     sub("deploy-stack.sh", r"^one_shot=\(migrate\)$", "one_shot=()"),
     "services.migrate: waits for ['postgres'] in compose.yaml; on swarm it needs"),
]


@pytest.mark.parametrize(("check", "mutate", "expected"), [m[1:] for m in STACK_MUTATIONS],
                         ids=[m[0] for m in STACK_MUTATIONS])
def test_stack_mutation_is_caught(rendered: dict[str, Path], tmp_path: Path, check: str,
                                  mutate: Callable[[Path], None], expected: str) -> None:
    root = tmp_path / "swarm"
    shutil.copytree(rendered["swarm"], root)
    mutate(root)
    result = run_check(_ctx(root, "swarm"), BY_NAME[check])
    assert result.status is Status.failed, result.messages()
    assert expected in "\n".join(result.messages())


def test_every_stack_check_has_a_mutation() -> None:
    assert set(BY_NAME) == {m[1] for m in STACK_MUTATIONS}
