#!/usr/bin/env bash
# infra-gen/redis entry point (runs as redis). See docs/contract.md.
#
#   redis-entrypoint [ARG...]            a Redis server; ARGs go to redis-server
#   redis-entrypoint sentinel [ARG...]   a Redis Sentinel; ARGs go to redis-sentinel
#
# The password (REDIS_PASSWORD_FILE) goes into 0600 files under /tmp, written at
# start: it is in no image layer, no command line and not in the mounted
# configuration. /etc/infra-gen/redis.conf is included when mounted; otherwise
# built-in defaults (all interfaces, port 6379, AOF in /var/lib/redis).
#
# With Sentinels (REDIS_SENTINELS, REDIS_MASTER_NAME, REDIS_NODES, REDIS_ANNOUNCE_HOST
# set) the role is decided here, at every start, from what is running: the primary a
# Sentinel names, else a server that says it is the primary, else the planned role
# of the mounted file. So an old primary that comes back after a failover (a
# restart, `compose up`) joins the new one as its replica instead of answering as a
# second primary, and a restarted Sentinel monitors the primary of now, not the one
# of its generated file.
set -euo pipefail

CONF=/etc/infra-gen/redis.conf
SENTINEL_CONF=/etc/infra-gen/sentinel.conf
RUNTIME_DIR="${REDIS_RUNTIME_DIR:-/tmp/infra-gen-redis}"
ASK_SECONDS=2

log() { printf 'redis-entrypoint: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

mode=server
if [[ "${1:-}" == sentinel ]]; then
    mode=sentinel
    shift
fi

[[ -n "${REDIS_PASSWORD_FILE:-}" ]] || die "REDIS_PASSWORD_FILE must be set"
[[ -r "$REDIS_PASSWORD_FILE" ]] || die "cannot read $REDIS_PASSWORD_FILE"
raw_password="$(<"$REDIS_PASSWORD_FILE")"
[[ -n "$raw_password" ]] || die "$REDIS_PASSWORD_FILE is empty"
[[ "$raw_password" != *$'\n'* ]] || die "$REDIS_PASSWORD_FILE must hold one line"
# Redis configuration string quoting: backslash and double quote escaped.
password="${raw_password//\\/\\\\}"
password="${password//\"/\\\"}"

# ask HOST:PORT COMMAND...: the reply, one item a line; nothing when unreachable.
# The password reaches redis-cli through its environment, never its arguments.
ask() {
    local address="$1"
    shift
    REDISCLI_AUTH="$raw_password" timeout "$ASK_SECONDS" \
        redis-cli --no-auth-warning -h "${address%:*}" -p "${address##*:}" "$@" 2>/dev/null || true
}

# current_primary: host:port of the primary of now, or nothing when nobody knows
# (a fresh stack: the planned role applies).
current_primary() {
    local address reply role
    local -a sentinels nodes lines masters=()
    IFS=, read -ra sentinels <<<"${REDIS_SENTINELS:-}"
    IFS=, read -ra nodes <<<"${REDIS_NODES:-}"
    for address in "${sentinels[@]}"; do
        [[ "${address%:*}" != "${REDIS_ANNOUNCE_HOST:-}" ]] || continue
        reply="$(ask "$address" SENTINEL get-master-addr-by-name "$REDIS_MASTER_NAME")"
        mapfile -t lines <<<"$reply"
        if [[ ${#lines[@]} -eq 2 && -n "${lines[0]}" && "${lines[1]}" =~ ^[0-9]+$ ]]; then
            log "Sentinel $address names the primary: ${lines[0]}:${lines[1]}"
            printf '%s:%s\n' "${lines[0]}" "${lines[1]}"
            return
        fi
    done
    # No Sentinel answers: a server that says it is the primary. Two that say so
    # (split brain): the one with replicas.
    for address in "${nodes[@]}"; do
        [[ "${address%:*}" != "${REDIS_ANNOUNCE_HOST:-}" ]] || continue
        mapfile -t lines < <(ask "$address" ROLE)
        role="${lines[0]:-}"
        if [[ "$role" == master ]]; then
            if [[ ${#lines[@]} -gt 2 ]]; then masters=("$address" "${masters[@]}")
            else masters+=("$address"); fi
        fi
    done
    if [[ ${#masters[@]} -gt 0 ]]; then
        log "no Sentinel answers; ${masters[0]} says it is the primary"
        printf '%s\n' "${masters[0]}"
    fi
}

umask 077
mkdir -p "$RUNTIME_DIR"
chmod 0700 "$RUNTIME_DIR"

if [[ "$mode" == sentinel ]]; then
    [[ -r "$SENTINEL_CONF" ]] || die "$SENTINEL_CONF is not mounted"
    [[ -n "${REDIS_MASTER_NAME:-}" && -n "${REDIS_ANNOUNCE_HOST:-}" ]] \
        || die "REDIS_MASTER_NAME and REDIS_ANNOUNCE_HOST must be set"
    primary="$(current_primary)"
    monitored="${primary:-$(awk -v name="$REDIS_MASTER_NAME" \
        '$1 == "sentinel" && $2 == "monitor" && $3 == name { print $4 ":" $5 }' "$SENTINEL_CONF")}"
    # Sentinel rewrites its file with what it learns: a copy in the runtime dir
    # (tmpfs), the monitored address replaced by the current primary's.
    awk -v name="$REDIS_MASTER_NAME" -v primary="$primary" '
        $1 == "sentinel" && $2 == "monitor" && $3 == name && primary != "" {
            n = split(primary, hp, ":"); $4 = hp[1]; $5 = hp[n]
        }
        { print }' "$SENTINEL_CONF" >"$RUNTIME_DIR/sentinel.conf"
    {
        printf 'sentinel announce-ip "%s"\nrequirepass "%s"\nsentinel auth-pass %s "%s"\n' \
            "$REDIS_ANNOUNCE_HOST" "$password" "$REDIS_MASTER_NAME" "$password"
        # The other server is known as a replica from the start: a Sentinel learns
        # replicas only from the primary's INFO, so one that claims to be a primary
        # too (an interrupted failover) would stay unknown, and never be turned into
        # the replica it has to be.
        IFS=, read -ra nodes <<<"${REDIS_NODES:-}"
        for node in "${nodes[@]}"; do
            [[ "$node" == "$monitored" ]] \
                || printf 'sentinel known-replica %s %s %s\n' "$REDIS_MASTER_NAME" "${node%:*}" "${node##*:}"
        done
    } >>"$RUNTIME_DIR/sentinel.conf"
    unset password raw_password
    log "Sentinel $REDIS_ANNOUNCE_HOST monitors ${primary:-the planned primary}"
    exec redis-sentinel "$RUNTIME_DIR/sentinel.conf" "$@"
fi

{
    printf 'requirepass "%s"\n' "$password"
    # A server that may become a replica authenticates to its primary.
    [[ -z "${REDIS_SENTINELS:-}" ]] || printf 'masterauth "%s"\n' "$password"
} >"$RUNTIME_DIR/auth.conf"

role_line=""
if [[ -n "${REDIS_SENTINELS:-}" ]]; then
    [[ -n "${REDIS_MASTER_NAME:-}" && -n "${REDIS_ANNOUNCE_HOST:-}" ]] \
        || die "REDIS_MASTER_NAME and REDIS_ANNOUNCE_HOST must be set with REDIS_SENTINELS"
    primary="$(current_primary)"
    if [[ -z "$primary" ]]; then
        log "nobody knows a primary: the planned role of $CONF"
    elif [[ "${primary%:*}" == "$REDIS_ANNOUNCE_HOST" ]]; then
        role_line="replicaof no one"
    else
        role_line="replicaof ${primary%:*} ${primary##*:}"
    fi
    [[ -z "$role_line" ]] || log "$REDIS_ANNOUNCE_HOST starts with: $role_line"
fi
unset password raw_password

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
    [[ -z "$role_line" ]] || printf '%s\n' "$role_line"
} >"$RUNTIME_DIR/redis.conf"

exec redis-server "$RUNTIME_DIR/redis.conf" "$@"
