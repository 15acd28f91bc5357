#!/usr/bin/env bash
# infra-gen/lb's entry point: runs the command (nginx). With LB_RELOAD_ON_CHANGE=FILE
# (tls.mode certbot: the served certificate) a watcher started first checks FILE
# every LB_RELOAD_INTERVAL seconds (default 5) and reloads nginx when it changed
# (another inode, size or modification time: certbot's deploy hook renames a new
# certificate into place) and the configuration still passes `nginx -t`. The
# certbot container needs no Docker socket and sends no signal across containers.
set -euo pipefail

watched="${LB_RELOAD_ON_CHANGE:-}"
interval="${LB_RELOAD_INTERVAL:-5}"

stamp() { stat -L -c '%d:%i:%s:%Y' "$watched" 2>/dev/null || echo missing; }

watch_certificate() {
    local last now
    last="$(stamp)"
    while sleep "$interval"; do
        now="$(stamp)"
        [[ "$now" != "$last" ]] || continue
        # Let the writer finish (the key is renamed before the certificate).
        sleep 1
        if nginx -t -q 2>/dev/null && nginx -s reload; then
            printf 'lb-entrypoint: %s changed: nginx reloaded\n' "$watched" >&2
            last="$(stamp)"
        else
            printf 'lb-entrypoint: %s changed but nginx -t fails: not reloaded\n' "$watched" >&2
        fi
    done
}

if [[ -n "$watched" && "${1:-}" == nginx ]]; then
    # Runs on as nginx's child once the exec below replaces this shell.
    watch_certificate &
fi
exec "$@"
