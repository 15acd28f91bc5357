"""Configuration from environment variables and secret files."""

from __future__ import annotations

from pathlib import Path

import pytest
from churn.config import Config
from churn.errors import ConfigError
from churn.store.migrations import MIGRATIONS


def test_secrets_come_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "redis_password"
    secret.write_text("p@ss/word\n")
    config = Config.from_env(
        {"REDIS_HOST": "redis", "REDIS_PASSWORD_FILE": str(secret), "DATABASE_PORT": "6543"}
    )
    assert config.redis_password == "p@ss/word"
    assert config.redis_url(1) == "redis://:p%40ss%2Fword@redis:6379/1"
    assert config.database_port == 6543


def test_database_conninfo_names_missing_variable() -> None:
    with pytest.raises(ConfigError, match="DATABASE_NAME is not set"):
        Config.from_env({"DATABASE_HOST": "db"}).database_conninfo()


def test_replica_conninfo_uses_replica_host(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret")
    env = {
        "DATABASE_HOST": "primary",
        "DATABASE_REPLICA_HOST": "replica",
        "DATABASE_NAME": "churn",
        "DATABASE_USER": "app",
        "DATABASE_PASSWORD_FILE": str(secret),
    }
    config = Config.from_env(env)
    assert "host=replica" in config.database_conninfo(replica=True)
    assert "host=primary" in config.database_conninfo()
    assert "password=s3cret" in config.database_conninfo()


def test_writes_go_only_to_a_read_write_node_of_the_list() -> None:
    """DATABASE_HOST lists both PostgreSQL nodes (failover/failover.sh swaps them):
    libpq tries each and keeps one that accepts writes; reads take any."""
    from psycopg.conninfo import conninfo_to_dict

    config = Config(database_host="postgres,postgres-replica", database_name="churn",
                    database_user="churn", database_replica_host="postgres-replica")
    primary = conninfo_to_dict(config.database_conninfo())
    assert primary["host"] == "postgres,postgres-replica"
    assert primary["target_session_attrs"] == "read-write"
    assert "target_session_attrs" not in conninfo_to_dict(config.database_conninfo(replica=True))


def test_unreadable_secret_file_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY_FILE"):
        Config.from_env({"SECRET_KEY_FILE": "/nonexistent/secret"})


def test_bad_integer_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="METRICS_PORT"):
        Config.from_env({"METRICS_PORT": "eighty"})


def test_api_refuses_to_start_without_secret_key() -> None:
    from churn.api import create_app

    with pytest.raises(ConfigError, match="SECRET_KEY_FILE is not set"):
        create_app(Config())


def test_migrations_are_numbered_uniquely_and_create_seed_indexes() -> None:
    versions = [m.version for m in MIGRATIONS]
    assert versions == sorted(set(versions))
    sql = "\n".join(m.sql for m in MIGRATIONS)
    assert "idx_customer_risk ON customer (risk_score)" in sql
    assert "idx_prediction_date ON risk_history (prediction_time)" in sql
    assert "task_id         TEXT NOT NULL UNIQUE" in sql
