#!/usr/bin/env bash
# Healthy when Redis (or the Sentinel, on REDIS_PORT) answers an authenticated
# PING with PONG (redis-auth-cli: the password never on a command line).
set -euo pipefail
reply="$(redis-auth-cli ping)"
[[ "$reply" == PONG ]] || { echo "redis: unexpected reply: $reply" >&2; exit 1; }
exec echo PONG
