"""The CLI as a user runs it: exit codes, one line per problem, nothing written on error."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from infra_gen.cli import main; main()", *args],
        cwd=cwd, capture_output=True, text=True, check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "environments", tmp_path / "environments")
    return tmp_path


def test_render_then_check_then_drift(project: Path) -> None:
    assert run("render", "--all", cwd=project).returncode == 0
    assert run("check", cwd=project).returncode == 0
    (project / "generated" / "dev" / "compose.yaml").write_text("edited by hand\n")
    (project / "generated" / "dev" / "extra.txt").write_text("left over\n")
    result = run("check", cwd=project)
    assert result.returncode == 1
    assert "generated/dev/compose.yaml" in result.stderr
    assert "generated/dev/extra.txt" in result.stderr
    diff = run("diff", "dev", cwd=project)
    assert diff.returncode == 1
    assert "-edited by hand" in diff.stdout and "+name: churn-prediction-dev" in diff.stdout


def test_bad_input_exits_2_writes_nothing_and_prints_no_traceback(project: Path) -> None:
    assert run("render", "--all", cwd=project).returncode == 0
    before = {p: p.read_bytes() for p in (project / "generated").rglob("*") if p.is_file()}
    prod = project / "environments" / "prod.yaml"
    prod.write_text(prod.read_text().replace("replicas: 3\n    concurrency: 4", "replicas: three\n    concurrency: 4"))
    result = run("render", "--all", cwd=project)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    # api and worker both had "replicas: 3" followed by concurrency: one line each.
    assert len(lines) == 2
    assert "prod.yaml:" in lines[0] and "services.api.replicas" in lines[0]
    assert "prod.yaml:" in lines[1] and "services.worker.replicas" in lines[1]
    after = {p: p.read_bytes() for p in (project / "generated").rglob("*") if p.is_file()}
    assert after == before  # dev and staging were valid, but nothing is written


def test_unknown_environment_is_a_user_error(project: Path) -> None:
    result = run("render", "qa", cwd=project)
    assert result.returncode == 2
    assert ("unknown environment 'qa'; expected one of: dev-ha, dev, prod, staging"
            in result.stderr)


def test_schema_documents_fields(project: Path) -> None:
    result = run("schema", cwd=project)
    schema = json.loads(result.stdout)
    replicas = schema["$defs"]["AppService"]["properties"]["replicas"]
    assert "deploy.replicas" in replicas["description"]
    assert schema["additionalProperties"] is False


def test_list_names_each_environments_artifacts(project: Path) -> None:
    result = run("list", cwd=project)
    assert result.returncode == 0
    assert "stack.yaml" in result.stdout  # prod and swarm
    assert result.stdout.count("compose.yaml") == len(list((project / "environments").glob(
        "[!_]*.yaml"))) - 1  # base.yaml is no environment


def test_schema_to_an_unwritable_place_is_one_line(project: Path) -> None:
    result = run("schema", "--out", str(project / "missing" / "schema.json"), cwd=project)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"error: cannot write {project / 'missing' / 'schema.json'}: No such file or directory"
    )
    assert not (project / "missing").exists()


@pytest.mark.parametrize(("args", "expected"), [
    (["api=x"], "error: scale: 'api=x': expected GROUP=N (e.g. api=4)"),
    (["redis=2"], "error: scale: 'redis' is not an app service of dev; expected one of: "
                  "frontend, api, worker, ml"),
    (["api=51"], "error: scale: api=51: at most 50 replicas"),
])
def test_scale_rejects_bad_counts_before_touching_docker(
    project: Path, args: list[str], expected: str
) -> None:
    result = run("scale", "dev", *args, cwd=project)
    assert result.returncode == 2
    assert result.stderr.strip() == expected
    assert "Traceback" not in result.stderr
