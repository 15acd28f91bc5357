#!/usr/bin/env bash
# Healthy when the running exporter serves its landing page. The exporter and
# its port are found from the running process (its --web.listen-address flag,
# else the exporter's default port).
set -euo pipefail

port=""
for cmdline in /proc/[0-9]*/cmdline; do
    [[ "$cmdline" == "/proc/$$/cmdline" ]] && continue
    first=1
    prev=""
    while IFS= read -r -d '' arg; do
        if ((first)); then
            first=0
            case "${arg##*/}" in
                prometheus-postgres-exporter) port=9187 ;;
                prometheus-redis-exporter) port=9121 ;;
                prometheus-nginx-exporter) port=9113 ;;
                prometheus-node-exporter) port=9100 ;;
                mtail) port=3903 ;;
                *) break ;;
            esac
            continue
        fi
        case "$prev" in
            --web.listen-address | -web.listen-address) port="${arg##*:}" ;;
        esac
        case "$arg" in
            --web.listen-address=* | -web.listen-address=*) port="${arg##*:}" ;;
            --port=*) port="${arg#--port=}" ;;
        esac
        prev="$arg"
    done <"$cmdline" 2>/dev/null || true
    [[ -z "$port" ]] || break
done
[[ -n "$port" ]] || { echo "no exporter process found" >&2; exit 1; }
exec curl -fsS --max-time 4 -o /dev/null "http://127.0.0.1:${port}/"
