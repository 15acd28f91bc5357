#!/usr/bin/env bash
# infra-gen/exporters entry point (runs as nobody). See docs/contract.md.
#
#   exporter-entrypoint postgres-exporter [FLAG...]   :9187
#       DATA_SOURCE_URI (host:port/db?sslmode=disable), DATA_SOURCE_USER,
#       DATA_SOURCE_PASS_FILE
#   exporter-entrypoint redis-exporter [FLAG...]      :9121
#       REDIS_ADDR (redis://redis:6379), REDIS_PASSWORD_FILE
#   exporter-entrypoint nginx-exporter [FLAG...]      :9113
#       NGINX_STATUS_URI (http://lb:8081/nginx_status)
#   exporter-entrypoint node-exporter [FLAG...]       :9100
#   exporter-entrypoint lb-log-exporter [FLAG...]     :3903
#       LOG_SOCKET (/run/lb-log/access.sock), MTAIL_PROGRAM (/etc/mtail/lb_access.mtail),
#       MTAIL_POLL_INTERVAL (1ms: mtail reads one datagram a poll)
#
# Passwords stay in files: postgres-exporter reads DATA_SOURCE_PASS_FILE itself; the
# Redis password goes into the JSON password file redis_exporter reads (on /tmp).
# None reaches an environment or a command line. Further flags are passed on.
set -euo pipefail

log() { printf 'exporter-entrypoint: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# secret FILE: the file's content without trailing newlines.
secret() {
    [[ -r "$1" ]] || die "cannot read secret file $1"
    printf '%s' "$(<"$1")"
}

name="${1:-}"
[[ $# -eq 0 ]] || shift

case "$name" in
    postgres-exporter)
        [[ -n "${DATA_SOURCE_URI:-}" ]] || die "DATA_SOURCE_URI must be set"
        [[ -n "${DATA_SOURCE_USER:-}" ]] || die "DATA_SOURCE_USER must be set"
        # The exporter reads DATA_SOURCE_PASS_FILE itself.
        if [[ -n "${DATA_SOURCE_PASS_FILE:-}" ]]; then
            [[ -r "$DATA_SOURCE_PASS_FILE" ]] || die "cannot read secret file $DATA_SOURCE_PASS_FILE"
        fi
        argv=(prometheus-postgres-exporter --web.listen-address=:9187)
        ;;
    redis-exporter)
        export REDIS_ADDR="${REDIS_ADDR:-redis://redis:6379}"
        argv=(prometheus-redis-exporter -web.listen-address=:9121)
        if [[ -n "${REDIS_PASSWORD_FILE:-}" ]]; then
            # redis_exporter's -redis.password-file is a JSON map of address to
            # password: written from the secret file to a 0600 file on the tmpfs, so
            # the password is in no environment (the exporter's included) and on no
            # command line.
            password="$(secret "$REDIS_PASSWORD_FILE")"
            [[ "$password" != *[[:cntrl:]]* ]] || die "$REDIS_PASSWORD_FILE: control characters"
            password="${password//\\/\\\\}"
            password="${password//\"/\\\"}"
            map="$(umask 077 && mktemp /tmp/redis-exporter-passwords.XXXXXX)"
            printf '{"%s": "%s"}\n' "$REDIS_ADDR" "$password" >"$map"
            unset password REDIS_PASSWORD_FILE
            argv+=("-redis.password-file=$map")
        fi
        ;;
    nginx-exporter)
        # Retries: the load balancer may start after the exporter.
        argv=(prometheus-nginx-exporter -web.listen-address=:9113
            "-nginx.scrape-uri=${NGINX_STATUS_URI:-http://lb:8081/nginx_status}"
            -nginx.retries=30 -nginx.retry-interval=5s)
        ;;
    node-exporter)
        # Debian enables the systemd collector; a container has no D-Bus.
        argv=(prometheus-node-exporter --web.listen-address=:9100 --no-collector.systemd)
        ;;
    lb-log-exporter)
        # mtail counting the access lines nginx sends to a unix datagram socket on a
        # volume the load balancer shares. A socket left by the last run would make
        # the bind fail; nginx (another uid) must be able to write to the new one.
        socket="${LOG_SOCKET:-/run/lb-log/access.sock}"
        program="${MTAIL_PROGRAM:-/etc/mtail/lb_access.mtail}"
        poll="${MTAIL_POLL_INTERVAL:-1ms}"
        [[ "$poll" =~ ^[1-9][0-9]*(ms|s)$ ]] || die "MTAIL_POLL_INTERVAL: expected a duration like 1ms, got '$poll'"
        [[ -r "$program" ]] || die "cannot read mtail program $program"
        [[ -d "${socket%/*}" && -w "${socket%/*}" ]] || die "${socket%/*}: not a writable directory"
        rm -f -- "$socket"
        umask 0111
        argv=(mtail "--progs=${program%/*}" "--logs=unixgram://$socket" --port=3903
            "--poll_interval=$poll" --logtostderr --emit_prog_label=false)
        ;;
    "")
        die "usage: exporter-entrypoint postgres-exporter|redis-exporter|nginx-exporter|node-exporter|lb-log-exporter [FLAG...]"
        ;;
    *)
        # Anything else runs as given (e.g. a shell, or an exporter's --help).
        argv=("$name")
        ;;
esac

exec "${argv[@]}" "$@"
