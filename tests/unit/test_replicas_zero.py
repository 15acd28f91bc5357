"""`postgres.replicas: 0` renders nothing of replication: no replica container, no
replication role, slot or secret, no pg_hba replication line, no env.example name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra_gen.model import Environment
from infra_gen.project import Project
from infra_gen.render import render_topology
from infra_gen.topology import plan

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Project(ROOT)
REPLICATION = re.compile(r"replicator|replica_1|replication_password|REPLICATION_|pg_stat_replication"
                         r"|replication slot|\breplication\s+\S+\s+\S+/\d+|postgres-replica|pgreplica")


def with_replicas(name: str, replicas: int) -> Environment:
    env = PROJECT.load(name)
    return env.model_copy(update={"postgres": env.postgres.model_copy(update={"replicas": replicas})})


def rendered(env: Environment) -> dict[str, str]:
    return {rel: f.content.decode() for rel, f in render_topology(plan(env), PROJECT.templates_dir).items()}


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_no_replica_renders_nothing_of_replication(name: str) -> None:
    topo = plan(with_replicas(name, 0))
    assert "replication_password" not in topo.secrets
    assert not topo.of_kind("postgres-replica")
    assert not any(k.startswith("REPLICATION_") for k, _ in topo.container("postgres").environment)
    found = [f"{rel}:{i}: {line.strip()}" for rel, text in rendered(with_replicas(name, 0)).items()
             for i, line in enumerate(text.splitlines(), 1) if REPLICATION.search(line)]
    assert not found, "\n".join(found)


def test_one_replica_renders_the_replication_pieces() -> None:
    # The same pattern finds them when there is a replica: the test above can fail.
    files = rendered(with_replicas("prod", 1))
    hba = files["postgres/pg_hba.conf"]
    assert re.search(r"^host\s+replication\s+\"replicator\"\s", hba, re.M)
    assert "replication_password" in files["env.example"]
    assert "replica_1" in files["postgres/postgresql.conf"]
    assert "REPLICATION_SLOT" in files["compose.yaml"]
