"""The one-shot migration service: it ran before the app, exited 0, applied every
migration and the model's indexes, and running it again changes nothing."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from stack_support import docker

from infra_gen.stack.migrations import compose_outcome, one_shot_services


def _app_migrations() -> list[str]:
    """The versions the app image ships (services/app/churn/store/migrations.py), read
    from the source: the app's dependencies are not installed beside the tests."""
    tree = ast.parse((Path(__file__).parents[2] / "services/app/churn/store/migrations.py")
                     .read_text())
    return [str(node.args[0].value) for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Migration"
            and node.args and isinstance(node.args[0], ast.Constant)]


@pytest.fixture(scope="module")
def migrate(topo) -> str:
    names = one_shot_services(topo)
    assert names, "the topology has no migration service"
    return names[0]


def _schema(stack) -> tuple[str, str]:
    """(applied migration versions, the public schema's indexes) as psql prints them."""
    return (stack.psql("SELECT string_agg(version::text, ',' ORDER BY version) "
                       "FROM schema_migrations"),
            stack.psql("SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes "
                       "WHERE schemaname = 'public'"))


def test_the_migration_container_exited_0_before_the_api_started(stack, topo, migrate,
                                                                container_ids):
    ok, outcome = compose_outcome(stack.ps().get(migrate, []))
    assert ok, outcome
    finished = json.loads(docker("inspect", container_ids[migrate]))[0]["State"]["FinishedAt"]
    for c in topo.containers:
        if (migrate, "service_completed_successfully") in c.depends_on:
            for cid in stack.compose("ps", "-q", c.name, capture=True).stdout.split():
                started = json.loads(docker("inspect", cid))[0]["State"]["StartedAt"]
                # RFC 3339 with the same zone and precision: text order is time order.
                assert started >= finished, f"{c.name} started {started} before {finished}"


def test_every_migration_and_the_model_s_indexes_are_applied(stack, topo):
    versions, indexes = _schema(stack)
    assert versions.split(",") == _app_migrations(), versions
    for index in topo.env.postgres.indexes:
        assert index.name in indexes.split(","), f"{index.name} missing: {indexes}"


def test_running_it_again_is_a_no_op(stack, migrate):
    before = _schema(stack)
    run = stack.compose("run", "--rm", "--no-deps", "-T", migrate, capture=True, check=False,
                        timeout=180)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "schema up to date; indexes present", run.stdout
    assert _schema(stack) == before
