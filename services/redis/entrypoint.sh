#!/usr/bin/env bash
# infra-gen/redis entry point (runs as redis). See docs/contract.md.
#
# The password (REDIS_PASSWORD_FILE) goes into a 0600 include file under /tmp,
# written at start: it is in no image layer, no command line and not in the
# mounted configuration. /etc/infra-gen/redis.conf is included when mounted;
# otherwise built-in defaults (all interfaces, port 6379, AOF in /var/lib/redis).
# Arguments are passed on to redis-server.
set -euo pipefail

CONF=/etc/infra-gen/redis.conf
RUNTIME_DIR="${REDIS_RUNTIME_DIR:-/tmp/infra-gen-redis}"

log() { printf 'redis-entrypoint: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -n "${REDIS_PASSWORD_FILE:-}" ]] || die "REDIS_PASSWORD_FILE must be set"
[[ -r "$REDIS_PASSWORD_FILE" ]] || die "cannot read $REDIS_PASSWORD_FILE"
password="$(<"$REDIS_PASSWORD_FILE")"
[[ -n "$password" ]] || die "$REDIS_PASSWORD_FILE is empty"
[[ "$password" != *$'\n'* ]] || die "$REDIS_PASSWORD_FILE must hold one line"
# Redis configuration string quoting: backslash and double quote escaped.
password="${password//\\/\\\\}"
password="${password//\"/\\\"}"

umask 077
mkdir -p "$RUNTIME_DIR"
chmod 0700 "$RUNTIME_DIR"
printf 'requirepass "%s"\n' "$password" >"$RUNTIME_DIR/auth.conf"
unset password

{
    if [[ -f "$CONF" ]]; then
        printf 'include %s\n' "$CONF"
    else
        log "$CONF not mounted: using built-in defaults"
        printf '%s\n' 'bind * -::*' 'port 6379' 'dir /var/lib/redis' \
            'appendonly yes' 'save 3600 1 300 100 60 10000'
    fi
    # Last, so that they win over the mounted file.
    printf '%s\n' 'daemonize no' 'supervised no' "include $RUNTIME_DIR/auth.conf"
} >"$RUNTIME_DIR/redis.conf"

exec redis-server "$RUNTIME_DIR/redis.conf" "$@"
