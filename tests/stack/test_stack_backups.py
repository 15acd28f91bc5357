"""Backups: the generated backup script writes a valid gzip dump of the live
database, the restore script loads it into a scratch database with the same row
counts, and retention deletes dumps older than the limit and keeps the rest."""

from __future__ import annotations

import gzip
import os
import subprocess
from pathlib import Path

import pytest

from infra_gen.stack.docker import docker_binary


@pytest.fixture(scope="module")
def backup_env(stack, tmp_path_factory):
    scripts = stack.env_dir / "backup"
    if not (scripts / "backup_db.sh").is_file():
        pytest.skip(f"no {scripts}/backup_db.sh rendered")
    work = tmp_path_factory.mktemp("backups")
    env = {
        **os.environ,
        # The scripts call `docker compose`: Debian's client, which has the plugin.
        "PATH": f"{Path(docker_binary()).parent}:{os.environ.get('PATH', '')}",
        "BACKUP_DIR": str(work / "dumps"),
        "LOG_DIR": str(work / "log"),
        "COMPOSE_PROJECT": stack.topo.compose_project,
        "COMPOSE_FILE": str(stack.compose_file),
    }
    return scripts, work, env


def _run(script: Path, env: dict, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["bash", str(script), *args], env=env, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, f"{script.name} {args}: {result.stderr}{result.stdout}"
    return result


def _dumps(work: Path) -> list[Path]:
    return sorted((work / "dumps").rglob("*.sql.gz"))


def _counts(stack, database: str) -> dict[str, int]:
    sql = """SELECT format('%I.%I', table_schema, table_name),
       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I',
        table_schema, table_name), false, true, '')))[1]::text
FROM information_schema.tables
WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')"""
    rows = stack.psql(sql, database=database).splitlines()
    return {r.split("|")[0]: int(r.split("|")[1]) for r in rows if r}


def test_backup_writes_valid_gzip_dump(backup_env, stack):
    scripts, work, env = backup_env
    _run(scripts / "backup_db.sh", env)
    dumps = _dumps(work)
    assert len(dumps) == 1, dumps
    with gzip.open(dumps[0], "rt") as f:
        text = f.read()
    assert "PostgreSQL database dump" in text
    assert "CREATE TABLE" in text and "customer" in text


def test_restore_into_scratch_database_same_counts(backup_env, stack):
    scripts, work, env = backup_env
    if not (scripts / "restore_db.sh").is_file():
        pytest.skip("no restore_db.sh rendered")
    dumps = _dumps(work)
    if not dumps:
        _run(scripts / "backup_db.sh", env)
        dumps = _dumps(work)
    db = stack.topo.env.postgres.database
    scratch = f"{db}_verify_restore"
    before = _counts(stack, db)
    # Nothing writes between the dump and now in verify, except the prediction
    # flow, which is done: the counts of the dump are the live ones.
    try:
        _run(scripts / "restore_db.sh", env, str(dumps[-1]), scratch)
        after = _counts(stack, scratch)
    finally:
        stack.psql(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)', database="postgres")
    assert after == before


def test_retention_deletes_only_old_dumps(backup_env, stack):
    scripts, work, env = backup_env
    days = stack.topo.env.backups.database.retention_days
    folder = (_dumps(work) or [work / "dumps" / "db" / "x"])[0].parent
    folder.mkdir(parents=True, exist_ok=True)
    prefix = f"{stack.topo.env.project}_{stack.topo.env.postgres.database}"
    aged = {}
    for age in (days + 2, days + 10, days - 1, 1):
        path = folder / f"{prefix}_1999{age:04d}T000000Z.sql.gz"
        path.write_bytes(gzip.compress(b"-- old dump\n"))
        subprocess.run(["touch", "-d", f"{age} days ago", str(path)], check=True)
        aged[path] = age
    _run(scripts / "backup_db.sh", env)
    for path, age in aged.items():
        if age > days:
            assert not path.exists(), f"{path.name} ({age} days old) kept, limit {days}"
        else:
            assert path.exists(), f"{path.name} ({age} days old) deleted, limit {days}"
    assert len([p for p in _dumps(work) if p not in aged]) >= 2  # the fresh dumps stay
