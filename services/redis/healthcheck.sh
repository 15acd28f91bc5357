#!/usr/bin/env bash
# Healthy when Redis answers an authenticated PING with PONG. The password
# reaches redis-cli through REDISCLI_AUTH, never through its arguments.
set -euo pipefail
REDISCLI_AUTH="$(<"${REDIS_PASSWORD_FILE:?REDIS_PASSWORD_FILE must be set}")"
export REDISCLI_AUTH
reply="$(redis-cli --no-auth-warning -h 127.0.0.1 -p "${REDIS_PORT:-6379}" ping)"
[[ "$reply" == PONG ]] || { echo "redis: unexpected reply: $reply" >&2; exit 1; }
exec echo PONG
