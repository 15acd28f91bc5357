"""PostgreSQL: streaming replica, replication lag, the model's indexes and
autovacuum settings, and no `trust` in pg_hba."""

from __future__ import annotations

import time
import uuid

import pytest


@pytest.fixture(scope="module")
def replicas(topo):
    return [c.name for c in topo.of_kind("postgres-replica")]


def test_replica_is_in_recovery_and_streaming(stack, replicas):
    if not replicas:
        pytest.skip("no replica in this environment")
    for name in replicas:
        assert stack.psql("SELECT pg_is_in_recovery()", service=name) == "t"
        assert stack.psql("SELECT status FROM pg_stat_wal_receiver", service=name) == "streaming"
    rows = stack.psql("SELECT state FROM pg_stat_replication").split()
    assert rows.count("streaming") == len(replicas), rows


def test_primary_write_reaches_replica_within_5_s(stack, replicas):
    if not replicas:
        pytest.skip("no replica in this environment")
    marker = uuid.uuid4().hex
    stack.psql("CREATE TABLE IF NOT EXISTS infra_gen_verify (marker text, at timestamptz DEFAULT now());"
               f"INSERT INTO infra_gen_verify (marker) VALUES ('{marker}')")
    try:
        for name in replicas:
            deadline = time.monotonic() + 5
            while stack.psql(f"SELECT count(*) FROM infra_gen_verify WHERE marker = '{marker}'",
                             service=name) != "1":
                assert time.monotonic() < deadline, f"{name}: row not replicated within 5 s"
                time.sleep(0.2)
    finally:
        stack.psql(f"DELETE FROM infra_gen_verify WHERE marker = '{marker}'")


def test_model_indexes_exist(stack, topo):
    for index in topo.env.postgres.indexes:
        definition = stack.psql(
            f"SELECT indexdef FROM pg_indexes WHERE indexname = '{index.name}' "
            f"AND tablename = '{index.table}'")
        assert definition, f"index {index.name} on {index.table} missing"
        columns = definition.split("(", 1)[1].rsplit(")", 1)[0]
        assert [c.strip().split()[0] for c in columns.split(",")] == index.columns, definition


def test_autovacuum_settings(stack, topo):
    av = topo.env.postgres.autovacuum
    assert stack.psql("SHOW autovacuum") == "on"
    assert float(stack.psql("SHOW autovacuum_vacuum_scale_factor")) == pytest.approx(av.vacuum_scale_factor)
    assert float(stack.psql("SHOW autovacuum_analyze_scale_factor")) == pytest.approx(av.analyze_scale_factor)


def test_server_settings_from_the_model(stack, topo):
    assert int(stack.psql("SHOW max_connections")) == topo.env.postgres.max_connections


def test_pg_hba_has_no_trust(stack, topo):
    for c in topo.of_kind("postgres", "postgres-replica"):
        rules = stack.psql("SELECT type, auth_method, error FROM pg_hba_file_rules", service=c.name)
        assert rules, f"{c.name}: pg_hba is empty"
        for line in rules.splitlines():
            _kind, method, error = (line.split("|") + ["", ""])[:3]
            assert method != "trust", f"{c.name}: trust in pg_hba: {line}"
            assert not error, f"{c.name}: pg_hba error: {line}"
