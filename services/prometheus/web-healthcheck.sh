#!/usr/bin/env bash
# web-healthcheck DEFAULT_PORT: GET http://127.0.0.1:PORT[PREFIX]/-/healthy for
# Prometheus or Alertmanager. The port and route prefix are read from the
# running server's own flags (--web.listen-address, --web.route-prefix, else the
# path of --web.external-url), so a compose `command:` that serves the UI under
# /prometheus or /alertmanager needs no matching healthcheck change.
set -euo pipefail

port="${1:?usage: web-healthcheck DEFAULT_PORT}"
prefix=""
external=""
for cmdline in /proc/[0-9]*/cmdline; do
    [[ "$cmdline" == "/proc/$$/cmdline" ]] && continue
    prev=""
    while IFS= read -r -d '' arg; do
        case "$prev" in
            --web.listen-address) arg="--web.listen-address=$arg" ;;
            --web.route-prefix) arg="--web.route-prefix=$arg" ;;
            --web.external-url) arg="--web.external-url=$arg" ;;
        esac
        case "$arg" in
            --web.listen-address=*) port="${arg##*:}" ;;
            --web.route-prefix=*) prefix="${arg#*=}" ;;
            --web.external-url=*) external="${arg#*=}" ;;
        esac
        prev="$arg"
    done <"$cmdline" 2>/dev/null || true
done
if [[ -z "$prefix" && -n "$external" ]]; then
    rest="${external#*://}"
    [[ "$rest" == */* ]] && prefix="/${rest#*/}"
fi
prefix="${prefix%/}"
[[ -z "$prefix" || "$prefix" == /* ]] || prefix="/$prefix"
exec curl -fsS --max-time 4 -o /dev/null "http://127.0.0.1:${port}${prefix}/-/healthy"
