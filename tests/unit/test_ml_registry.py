"""ml_registry: the MLflow server, its database and what the ML service is told."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from infra_gen.model import Environment
from infra_gen.project import Project
from infra_gen.render import render_environment
from infra_gen.topology import plan
from infra_gen.topology.registry import ARTIFACTS_DIR, MLFLOW

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Project(ROOT)


def env_with(**registry: Any) -> Environment:
    data = PROJECT.load("dev").model_dump(mode="json", by_alias=True, exclude_unset=True)
    data["ml_registry"] = registry
    return Environment.model_validate(data)


def test_the_shipped_environments() -> None:
    prod, dev = PROJECT.load("prod").ml_registry, PROJECT.load("dev").ml_registry
    assert prod.enabled and prod.backup_versions == 5 and prod.alias == "champion"
    assert dev.enabled and dev.poll_interval == "5s"
    assert not PROJECT.load("swarm").ml_registry.enabled
    assert not Environment.model_fields["ml_registry"].default.enabled


@pytest.mark.parametrize(("registry", "message"), [
    ({"enabled": True, "database": "churn"}, "ml_registry.database: 'churn' is the app's"),
    ({"enabled": True, "user": "churn"}, "ml_registry.user: 'churn' is the app's role"),
    ({"alias": "latest"}, "reserved by MLflow"),
    ({"alias": "v3"}, "reserved by MLflow"),
    ({"alias": "Champion"}, "alias"),
    ({"model_name": "churn model"}, "model_name"),
    ({"poll_interval": "500ms"}, "shorter than 1s"),
    ({"backup_versions": 0}, "backup_versions"),
    ({"password_secret": "../x"}, "password_secret"),
])
def test_bad_registry_settings_are_refused(registry: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        env_with(**registry)


def test_no_registry_no_server_no_database() -> None:
    topo = plan(env_with(enabled=False))
    assert not topo.of_kind(MLFLOW)
    assert "mlflow_db_password" not in topo.secrets
    assert not any(k.startswith("MLFLOW") for k, _ in topo.container("ml").environment)
    assert not any(k.startswith("EXTRA_DB") for k, _ in topo.container("postgres").environment)


def test_the_server_its_database_and_the_ml_service() -> None:
    topo = plan(PROJECT.load("dev"))
    server = topo.container(MLFLOW)
    env = dict(server.environment)
    # Both database nodes: a failover needs no change (the start script asks for read-write).
    assert env["DATABASE_HOST"] == "postgres,postgres-replica"
    assert (env["DATABASE_NAME"], env["DATABASE_USER"]) == ("mlflow_store", "mlflow_server")
    assert env["DATABASE_PASSWORD_FILE"] == "/run/secrets/mlflow_db_password"
    assert server.secrets == ("mlflow_db_password",)
    assert [(m.source, m.target, m.named) for m in server.mounts] == [
        ("mlflowartifacts", ARTIFACTS_DIR, True)]
    assert server.user == "10003:10003" and server.root_reason is None
    assert ("postgres", "service_healthy") in server.depends_on
    for db in ("postgres", "postgres-replica"):
        db_env = dict(topo.container(db).environment)
        assert (db_env["EXTRA_DB_NAME"], db_env["EXTRA_DB_USER"]) == ("mlflow_store", "mlflow_server")
        assert "mlflow_db_password" in topo.container(db).secrets
    ml = dict(topo.container("ml").environment)
    assert ml["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert (ml["MODEL_REGISTRY_NAME"], ml["MODEL_REGISTRY_ALIAS"]) == ("churn", "champion")
    assert ml["MODEL_REGISTRY_POLL_SECONDS"] == "5"
    # The ML service serves its baked model without the registry: no start dependency.
    assert MLFLOW not in dict(topo.container("ml").depends_on)
    assert "mlflowartifacts" in topo.volumes


def test_rendered_files_hold_no_password_and_admit_the_role() -> None:
    files = render_environment(PROJECT, "prod")
    compose = yaml.safe_load(files["compose.yaml"].content)
    assert compose["services"][MLFLOW]["image"].startswith("infra-gen/mlflow:")
    assert compose["secrets"]["mlflow_db_password"]["file"].endswith("/mlflow_db_password")
    assert b"postgresql://" not in files["compose.yaml"].content
    hba = files["postgres/pg_hba.conf"].content.decode()
    assert 'host    "mlflow_store"  "mlflow_server" 10.0.0.0/8' in hba
    assert "MLFLOW_DB_PASSWORD=" in files["env.example"].content.decode()
    stack = yaml.safe_load(files["stack.yaml"].content)
    assert stack["services"][MLFLOW]["deploy"]["placement"]["constraints"]


def test_mlflow_is_a_name_of_the_stack() -> None:
    data = PROJECT.load("dev").model_dump(mode="json", by_alias=True, exclude_unset=True)
    data["services"]["mlflow"] = {"role": "api", "route": "/mlflow/"}
    with pytest.raises(ValidationError, match="already use the name 'mlflow'"):
        Environment.model_validate(data)
