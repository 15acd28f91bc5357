"""The model registry (ml_registry): the MLflow server keeps its runs in its own
PostgreSQL database; `retrain` registers a version from a one-off container of the ml
service, `promote` moves the alias, and the running ML service serves the new version
within its poll interval without a restart (same container, same start time). The
model backup archives the newest registered versions."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
from stack_support import docker

from infra_gen.stack.docker import docker_binary
from infra_gen.topology.registry import MLFLOW

CUSTOMER = {"tenure_months": 2, "monthly_charges": 110.0, "total_charges": 220.0,
            "contract_type": "month-to-month", "support_calls": 5}


@pytest.fixture(scope="module")
def registry(topo):  # type: ignore[no-untyped-def]
    if not topo.env.ml_registry.enabled:
        pytest.skip(f"{topo.name} has no ml_registry")
    return topo.env.ml_registry


@pytest.fixture(scope="module")
def ml(topo) -> str:  # type: ignore[no-untyped-def]
    return topo.of_kind("ml")[0].name


def _json(exec_in, service: str, *cmd: str) -> Any:  # type: ignore[no-untyped-def]
    r = exec_in(service, *cmd)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _ml_get(exec_in, ml: str, path: str) -> Any:  # type: ignore[no-untyped-def]
    port = 5000
    return _json(exec_in, ml, "curl", "-fsS", "--max-time", "10", f"http://127.0.0.1:{port}{path}")


def _one_off(stack, ml: str, *command: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """`app-entrypoint COMMAND` in a one-off container of the ml service (as make retrain)."""
    r = stack.compose("run", "--rm", "--no-deps", "-T", ml, *command, capture=True, check=False,
                      timeout=600)
    assert r.returncode == 0, f"{command}: {r.stderr[-2000:]}"
    return dict(json.loads(r.stdout.strip().splitlines()[-1]))


def _started(ml_id: str) -> tuple[str, str]:
    state = json.loads(docker("inspect", "-f", "{{json .State}}", ml_id))
    restarts = docker("inspect", "-f", "{{.RestartCount}}", ml_id).strip()
    return state["StartedAt"], restarts


def test_the_server_keeps_its_runs_in_its_own_database(registry, stack, exec_in):  # type: ignore[no-untyped-def]
    r = exec_in(MLFLOW, "curl", "-fsS", "http://127.0.0.1:5000/health")
    assert r.returncode == 0 and r.stdout.strip() == "OK", r.stdout + r.stderr
    owner = stack.psql(f"SELECT pg_get_userbyid(datdba) FROM pg_database "
                       f"WHERE datname = '{registry.database}'")
    assert owner == registry.user
    tables = stack.psql("SELECT count(*) FROM information_schema.tables WHERE table_name IN "
                        "('experiments', 'runs', 'registered_models', 'model_versions')",
                        database=registry.database)
    assert tables == "4"
    # The URI with the password is built at start: nothing of it in the container's config.
    config = docker("inspect", "-f", "{{json .Config}}", stack.compose(
        "ps", "-q", MLFLOW, capture=True).stdout.split()[0])
    assert "postgresql" not in config


def test_retrain_promote_and_the_ml_service_serves_it_without_restart(  # type: ignore[no-untyped-def]
        registry, stack, ml, exec_in, replica_ids):
    (ml_id,) = replica_ids(ml)
    before = _started(ml_id)
    registered = _one_off(stack, ml, "retrain")
    version = registered["version"]
    assert not registered["promoted"] and 0.75 < registered["auc"] <= 1
    assert re.fullmatch(r"[0-9]+", version)
    promoted = _one_off(stack, ml, "promote", version)
    assert promoted == {"model_name": registry.model_name, "alias": registry.alias,
                        "version": version}
    # Every gunicorn worker polls on its own: all must answer with the new version.
    deadline = time.monotonic() + 120
    while True:
        answers = [_ml_get(exec_in, ml, "/model")["registry"] for _ in range(6)]
        if all(a["version"] == version and a["source"] == "registry" for a in answers):
            break
        assert time.monotonic() < deadline, f"still serving {answers}"
        time.sleep(2)
    body = json.dumps({"customer": CUSTOMER})
    answer = _json(exec_in, ml, "curl", "-fsS", "-H", "Content-Type: application/json",
                   "-d", body, "http://127.0.0.1:5000/predict")
    assert answer["model_version"] == registered["model_version"]
    metrics = exec_in(ml, "curl", "-fsS", "http://127.0.0.1:5000/metrics").stdout
    assert f"churn_ml_model_registry_version {float(version)}" in metrics
    # Hot-swapped: the same container, never restarted.
    assert replica_ids(ml) == [ml_id] and _started(ml_id) == before


def test_retrain_with_promote_moves_the_alias(registry, stack, ml, exec_in):  # type: ignore[no-untyped-def]
    registered = _one_off(stack, ml, "retrain", "--promote")
    assert registered["promoted"]
    deadline = time.monotonic() + 120
    while _ml_get(exec_in, ml, "/health")["registry_version"] != registered["version"]:
        assert time.monotonic() < deadline
        time.sleep(2)


def test_the_model_backup_holds_the_newest_registered_versions(  # type: ignore[no-untyped-def]
        registry, stack, ml, tmp_path: Path):
    script = stack.env_dir / "backup" / "backup_models.sh"
    env = {**os.environ,
           "PATH": f"{Path(docker_binary()).parent}:{os.environ.get('PATH', '')}",
           "BACKUP_DIR": str(tmp_path / "b"), "LOG_DIR": str(tmp_path / "log"),
           "COMPOSE_PROJECT": stack.topo.compose_project,
           "COMPOSE_FILE": str(stack.compose_file)}
    r = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True,
                       timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    (archive,) = (tmp_path / "b" / "models").glob("*.tar.gz")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        versions = sorted({int(n.split("/")[1]) for n in names if n.startswith("versions/")})
        assert versions and len(versions) <= registry.backup_versions
        newest = json.load(tar.extractfile(f"versions/{versions[-1]}/version.json"))  # type: ignore[arg-type]
    assert f"versions/{versions[-1]}/model/model.joblib" in names
    assert registry.alias in newest["aliases"]
