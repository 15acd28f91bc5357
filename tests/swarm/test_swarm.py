"""The stack on a real three-node swarm, deployed over SSH through the bastion:
placement from the model, scale under load, a rolling update under load with no
failed request, and a broken release rolled back by swarm with the old one serving.
Runs in file order (each test starts from what the previous one left)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from swarm_support import api_images, deploy, load, push, quiet, swarm, tag_image, variant

from infra_gen.errors import StackError
from infra_gen.stack import deploy as ops
from infra_gen.stack.swarm import Swarm

VERSION = (Path(__file__).resolve().parents[2] / "VERSION").read_text().strip()
FIGURES: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def _figures() -> object:
    yield
    # One line benchmarks/swarm.py reads.
    print("\nSWARM_FIGURES " + json.dumps(FIGURES))


def test_deploy_converges_with_placement_from_the_model(sw: Swarm) -> None:
    t0 = time.monotonic()
    timings = deploy(sw)
    FIGURES["deploy to converged"] = f"{timings['converged']:.1f} s"
    FIGURES["deploy total"] = f"{time.monotonic() - t0:.1f} s"
    rows, healthy = ops.status(sw)
    assert healthy, rows
    where: dict[str, set[str]] = {t.service: set() for t in sw.tasks()}
    for t in sw.tasks():
        if t.running:
            where[t.service].add(t.node)
    assert where["postgres"] == {"node-2"}
    assert where["postgres-replica"] == {"node-3"}
    assert where["lb"] == {"node-1"}
    assert len(where["api"]) == 2, where["api"]  # spread over two app nodes


def _scraped_api_targets(sw: Swarm) -> set[str]:
    """Addresses of the API targets Prometheus scrapes with health "up" now."""
    prom = next((t for t in sw.tasks() if t.service == "prometheus" and t.running), None)
    assert prom is not None, "no running prometheus task"
    # Served under the load balancer's path for it (--web.route-prefix).
    prefix = next((arg.split("=", 1)[1] for arg in sw.topo.container("prometheus").command
                   if arg.startswith("--web.route-prefix=")), "")
    rc, out, err = sw.exec_in(prom, "curl", "-fsS", "--max-time", "5",
                              f"http://127.0.0.1:9090{prefix}/api/v1/targets?state=active")
    assert rc == 0, err
    return {t["labels"]["instance"] for t in json.loads(out)["data"]["activeTargets"]
            if t["labels"]["job"] == "api" and t["health"] == "up"}


def test_scale_api_to_5_takes_traffic_and_is_scraped_with_no_failed_request(sw: Swarm) -> None:
    planned = sw.topo.container("api").replicas
    target = max(5, planned + 1)
    deadline = time.monotonic() + 60
    while len(_scraped_api_targets(sw)) != planned:  # a fresh Prometheus: first scrapes
        assert time.monotonic() < deadline, f"Prometheus does not scrape {planned} API tasks"
        time.sleep(1)
    with load(sw) as lo:
        t0 = time.monotonic()
        try:
            ops.scale(sw, quiet, [f"api={target}"])
            new = {f"{sw.full('api')}-{slot}" for slot in range(planned + 1, target + 1)}
            deadline = time.monotonic() + 60
            while not new <= lo.served_by(t0):
                assert time.monotonic() < deadline, \
                    f"{sorted(new - lo.served_by(t0))} took no traffic in 60 s"
                time.sleep(0.5)
            served = time.monotonic() - t0
            # Prometheus finds the new tasks by DNS (tasks.api): no re-render, no reload.
            while len(_scraped_api_targets(sw)) != target:
                assert time.monotonic() < deadline + 30, \
                    f"Prometheus scrapes {sorted(_scraped_api_targets(sw))}, not {target} API tasks"
                time.sleep(1)
            scraped = time.monotonic() - t0
        finally:
            ops.scale(sw, quiet, [f"api={planned}"])
        time.sleep(3)
    FIGURES[f"scale api {planned} -> {target} (then back)"] = (
        f"every new task served after {served:.1f} s, scraped after {scraped:.1f} s, "
        f"{len(lo.failed)}/{len(lo.results)} failed, {lo.retried} resent after a reload")
    assert not lo.failed, lo.failed[:5]


def test_rolling_update_of_the_api_has_no_failed_request(sw: Swarm, tmp_path: Path) -> None:
    tag = f"{VERSION}-roll"
    tag_image(VERSION, tag)
    new = swarm(variant(tmp_path, tag))
    push(new)
    with load(sw) as lo:
        t0 = time.monotonic()
        deploy(new)
        took = time.monotonic() - t0
        time.sleep(3)
    FIGURES["rolling update of api"] = (f"{took:.1f} s, {len(lo.failed)}/{len(lo.results)} "
                                        f"failed, {lo.retried} resent after a reload")
    assert api_images(sw) == {f"{sw.topo.env.images.registry}/app:{tag}"}
    assert not lo.failed, lo.failed[:5]


def test_rollback_command_returns_to_the_previous_release(sw: Swarm) -> None:
    with load(sw) as lo:
        t0 = time.monotonic()
        try:
            ops.rollback(sw, quiet, "api")
        finally:
            sw.remote.close()
        took = time.monotonic() - t0
        time.sleep(3)
    FIGURES["infra-gen rollback api"] = (f"{took:.1f} s, {len(lo.failed)}/{len(lo.results)} "
                                         f"failed, {lo.retried} resent after a reload")
    assert api_images(sw) == {f"{sw.topo.env.images.registry}/app:{VERSION}"}
    assert not lo.failed, lo.failed[:5]


def test_broken_release_rolls_back_and_the_old_one_serves(sw: Swarm, tmp_path: Path) -> None:
    good = VERSION
    broken = f"{VERSION}-broken"
    tag_image(VERSION, broken, broken=True)
    bad = swarm(variant(tmp_path, broken))
    push(bad)
    with load(sw) as lo:
        t0 = time.monotonic()
        with pytest.raises(StackError) as info:
            deploy(bad)
        took = time.monotonic() - t0
        time.sleep(3)
    message = str(info.value)
    assert message.startswith("api: update failed and was rolled back"), message
    FIGURES["broken release rolled back"] = (f"{took:.1f} s, {len(lo.failed)}/"
                                             f"{len(lo.results)} failed, {lo.retried} resent "
                                             "after a reload")
    assert api_images(sw) == {f"{sw.topo.env.images.registry}/app:{good}"}
    assert not lo.failed, lo.failed[:5]


def test_draining_an_app_node_moves_its_tasks_with_no_failed_request(sw: Swarm) -> None:
    node = "node-3"  # app + db (the replica, pinned: it waits for the node to return)
    with load(sw) as lo:
        t0 = time.monotonic()
        try:
            ops.drain(sw, quiet, node)
            took = time.monotonic() - t0
            moved = {t.service for t in sw.tasks() if t.running and t.node == node}
            time.sleep(3)
        finally:
            ops.drain(sw, quiet, node, active=True)
    FIGURES[f"drain {node}"] = (f"{took:.1f} s, {len(lo.failed)}/{len(lo.results)} failed, "
                                f"{lo.retried} resent after a reload")
    assert not moved, f"still on {node}: {moved}"
    assert not lo.failed, lo.failed[:5]
