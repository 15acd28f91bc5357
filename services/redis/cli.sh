#!/usr/bin/env bash
# redis-auth-cli ARG...: redis-cli against this container's server (or Sentinel:
# REDIS_PORT), authenticated from REDIS_PASSWORD_FILE. The password reaches
# redis-cli through REDISCLI_AUTH, never its arguments (the runbook and the stack
# tests ask a Sentinel with it).
set -euo pipefail
REDISCLI_AUTH="$(<"${REDIS_PASSWORD_FILE:?REDIS_PASSWORD_FILE must be set}")"
export REDISCLI_AUTH
exec redis-cli --no-auth-warning -h 127.0.0.1 -p "${REDIS_PORT:-6379}" "$@"
