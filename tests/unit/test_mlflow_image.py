"""services/mlflow/start.sh: the database URI is built from the secret file, quoted,
and reaches the server in its environment, never on its command line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

ROOT = Path(__file__).resolve().parents[2]
START = ROOT / "services" / "mlflow" / "start.sh"
PASSWORD = "p@ss:w/rd ?&x%"


def run_start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "mlflow"
    fake.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "URI=$MLFLOW_BACKEND_STORE_URI" "$@"\n')
    fake.chmod(0o755)
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    (tmp_path / "art").mkdir(exist_ok=True)
    full = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "DATABASE_HOST": "postgres,postgres-replica",
            "DATABASE_NAME": "mlflow", "DATABASE_USER": "mlflow",
            "DATABASE_PASSWORD_FILE": str(secret), "ARTIFACTS_DIR": str(tmp_path / "art"), **env}
    return subprocess.run(["bash", str(START), "--extra"], env=full, capture_output=True,
                          text=True, check=False)


def test_the_uri_is_built_from_the_secret_file(tmp_path: Path) -> None:
    r = run_start(tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    uri = urlsplit(lines[0].removeprefix("URI="))
    assert uri.scheme == "postgresql+psycopg2" and uri.path == "/mlflow"
    assert unquote(uri.password or "") == PASSWORD and uri.username == "mlflow"
    query = parse_qsl(uri.query)
    assert [v for k, v in query if k == "host"] == ["postgres:5432", "postgres-replica:5432"]
    assert ("target_session_attrs", "read-write") in query
    args = lines[1:]
    assert args[:2] == ["server", "--host"] and args[-1] == "--extra"
    assert "--serve-artifacts" in args and str(tmp_path / "art") in args
    assert not any("pass" in a or "postgresql" in a for a in args)


def test_missing_settings_are_one_line(tmp_path: Path) -> None:
    r = run_start(tmp_path, DATABASE_USER="")
    assert r.returncode == 2 and r.stderr == "mlflow-start: error: DATABASE_USER must be set\n"
    r = run_start(tmp_path, DATABASE_PASSWORD_FILE=str(tmp_path / "missing"))
    assert r.returncode == 2 and "cannot read" in r.stderr
