#!/usr/bin/env bash
# infra-gen/app entry point: app-entrypoint COMMAND [ARG...]. See docs/contract.md.
#
#   api                gunicorn churn.api.wsgi:app on $PORT (8000)
#   ml                 gunicorn churn.ml.wsgi:app on $PORT (5000)
#   worker             celery worker (threads pool), metrics on $METRICS_PORT (8888)
#   mail-sink          SMTP sink for alert mail (churn.mailsink): SMTP on $SMTP_PORT
#                      (2525), messages listed on $API_PORT (8025), kept in $MAIL_DIR
#   error-sink         sink for error events (churn.errorsink): Sentry envelopes on
#                      $PORT (8030), listed at /events
#   migrate            apply database migrations
#   create-token NAME  print a new API token once (only its hash is stored)
#   retrain [--promote] [--seed N]   train on fresh synthetic data, log the run and
#                      register a version in the model registry ($MLFLOW_TRACKING_URI);
#                      --promote points the alias ($MODEL_REGISTRY_ALIAS) at it
#   promote VERSION    point the alias at a registered version
#   registry-export [--last N]       tar.gz of the newest N registered versions on stdout
#   healthcheck        the image's HEALTHCHECK: checks what this container runs
#   anything else      run as given (e.g. bash, churn, python)
#
# Extra arguments after api/ml/worker are passed on to gunicorn/celery.
set -euo pipefail

ROLE_FILE=/tmp/.app-role
cmd="${1:-api}"
[[ $# -eq 0 ]] || shift

remember_role() {
    printf '%s\n' "$1" >"$ROLE_FILE" 2>/dev/null || true
}

case "$cmd" in
    api)
        remember_role api
        argv=(gunicorn --config python:churn.gunicorn_conf.api --no-control-socket)
        ;;
    ml)
        remember_role ml
        argv=(gunicorn --config python:churn.gunicorn_conf.ml --no-control-socket)
        ;;
    worker)
        remember_role worker
        argv=(celery --app churn.worker worker --loglevel "${LOG_LEVEL:-info}"
            --concurrency "${WORKER_CONCURRENCY:-2}" --without-gossip --without-mingle)
        ;;
    mail-sink)
        remember_role mail-sink
        argv=(python -m churn.mailsink)
        ;;
    error-sink)
        remember_role error-sink
        argv=(python -m churn.errorsink)
        ;;
    migrate)
        argv=(churn migrate)
        ;;
    create-token)
        [[ $# -ge 1 ]] || { echo "usage: app-entrypoint create-token NAME" >&2; exit 2; }
        argv=(churn create-token)
        ;;
    retrain | promote | registry-export)
        argv=(churn "$cmd")
        ;;
    healthcheck)
        role="$(cat "$ROLE_FILE" 2>/dev/null || echo none)"
        case "$role" in
            api) url="http://127.0.0.1:${PORT:-8000}/health/" ;;
            ml) url="http://127.0.0.1:${PORT:-5000}/health" ;;
            worker) url="http://127.0.0.1:${METRICS_PORT:-8888}/metrics" ;;
            mail-sink) url="http://127.0.0.1:${API_PORT:-8025}/healthz" ;;
            error-sink) url="http://127.0.0.1:${PORT:-8030}/healthz" ;;
            *) url="" ;;
        esac
        # One-shot commands (migrate, create-token) have nothing to check.
        argv=(true)
        [[ -z "$url" ]] || argv=(curl -fsS --max-time 4 -o /dev/null "$url")
        ;;
    *)
        argv=("$cmd")
        ;;
esac

exec "${argv[@]}" "$@"
