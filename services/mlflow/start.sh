#!/usr/bin/env bash
# infra-gen/mlflow start script: the MLflow server (tracking and model registry) on
# $PORT, PostgreSQL as its backend store, $ARTIFACTS_DIR (a volume) as its artifact
# store served through the server (--serve-artifacts: clients mount nothing).
#
#   DATABASE_HOST           host[,host...]: libpq tries each and keeps the read-write
#                           one (a failover needs no change here)
#   DATABASE_PORT, DATABASE_NAME, DATABASE_USER
#   DATABASE_PASSWORD_FILE  the role's password (a secret file)
#   ARTIFACTS_DIR           default /var/lib/mlflow/artifacts
#   PORT                    default 5000
#   MLFLOW_WORKERS          server workers (default 1)
#
# The database URI holds the password, so it is built here from the secret file
# and handed to the server in its environment (MLFLOW_BACKEND_STORE_URI), never on
# a command line, in a generated file or in the image. Arguments are passed on.
set -euo pipefail

die() { printf 'mlflow-start: error: %s\n' "$*" >&2; exit 2; }

for name in DATABASE_HOST DATABASE_NAME DATABASE_USER DATABASE_PASSWORD_FILE; do
    [[ -n "${!name:-}" ]] || die "$name must be set"
done
[[ -r "$DATABASE_PASSWORD_FILE" ]] || die "cannot read $DATABASE_PASSWORD_FILE"
PORT="${PORT:-5000}"
ARTIFACTS_DIR="${ARTIFACTS_DIR:-/var/lib/mlflow/artifacts}"
[[ -d "$ARTIFACTS_DIR" && -w "$ARTIFACTS_DIR" ]] || die "$ARTIFACTS_DIR is not a writable directory"

# Every part URL-quoted by Python (a password may hold @, : or /); one host= per node.
MLFLOW_BACKEND_STORE_URI="$(python3 - <<'PY'
import os
from urllib.parse import quote, urlencode

with open(os.environ["DATABASE_PASSWORD_FILE"], encoding="utf-8") as f:
    password = f.read().strip()
port = os.environ.get("DATABASE_PORT") or "5432"
query = [("host", f"{h.strip()}:{port}") for h in os.environ["DATABASE_HOST"].split(",")
         if h.strip()]
query += [("target_session_attrs", "read-write"), ("connect_timeout", "5"),
          ("application_name", "mlflow")]
print(f"postgresql+psycopg2://{quote(os.environ['DATABASE_USER'], safe='')}:"
      f"{quote(password, safe='')}@/{quote(os.environ['DATABASE_NAME'], safe='')}"
      f"?{urlencode(query)}")
PY
)"
export MLFLOW_BACKEND_STORE_URI
# MLflow's job execution (a huey runner for its GenAI evaluation jobs, which this
# stack does not use) is a third Python process of about 250 MB: off unless asked for.
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION="${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false}"

args=(--host 0.0.0.0 --port "$PORT" --workers "${MLFLOW_WORKERS:-1}"
    --serve-artifacts --artifacts-destination "$ARTIFACTS_DIR"
    --default-artifact-root mlflow-artifacts:/
    --allowed-hosts "${MLFLOW_ALLOWED_HOSTS:-mlflow,mlflow:$PORT,localhost,localhost:$PORT,127.0.0.1,127.0.0.1:$PORT}")
exec mlflow server "${args[@]}" "$@"
