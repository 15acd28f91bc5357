#!/usr/bin/env bash
# Start the Docker daemon in the background when it does not answer (machines
# without systemd; used by `make docker`). Idempotent: a daemon that answers is
# left alone, one that is still starting is waited for.
#
#   DOCKER_WAIT  seconds to wait for `docker info` (default 60)
#   DOCKERD_LOG  daemon log (default /var/log/dockerd.log)
#
# dockerd runs its own containerd unless one already listens on
# /run/containerd/containerd.sock, which it then uses.
set -euo pipefail

# One run at a time on a machine: two terminals (or test runs) installing or
# building at once would fight over apt's lock, the wheelhouse or the tags.
exec 9>"${TMPDIR:-/tmp}/infra-gen-start-docker.lock"
flock 9

WAIT="${DOCKER_WAIT:-60}"
LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
PIDFILE=/var/run/docker.pid
CONTAINERD_SOCK=/run/containerd/containerd.sock

log() { printf 'start-docker: %s\n' "$*"; }
die() { printf 'start-docker: error: %s\n' "$*" >&2; exit 1; }

# Debian's client (with the compose/buildx plugins of the same release) first.
if [[ -x /usr/bin/docker ]]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi

answers() { timeout 10 "$DOCKER" info >/dev/null 2>&1; }

if answers; then
    log "dockerd already answers ($("$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null))"
    exit 0
fi

if ! command -v dockerd >/dev/null; then
    printf 'start-docker: dockerd is not installed: run scripts/install-tools.sh (Debian), or install Docker Engine >= 24 with Compose v2\n' >&2
    exit 1
fi
if [[ "$(id -u)" -ne 0 ]]; then
    die "the Docker daemon does not answer and only root can start it: start it (e.g. 'sudo systemctl start docker') and retry"
fi

pid=""
if [[ -s "$PIDFILE" ]]; then
    pid="$(cat "$PIDFILE")"
    if ! kill -0 "$pid" 2>/dev/null || [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" != dockerd ]]; then
        pid=""
    fi
fi

if [[ -n "$pid" ]]; then
    log "dockerd (pid $pid) is running but does not answer yet; waiting"
else
    args=(--pidfile "$PIDFILE")
    if [[ -S "$CONTAINERD_SOCK" ]] && timeout 5 ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1; then
        args+=(--containerd "$CONTAINERD_SOCK")
    fi
    log "starting dockerd (log: $LOG)"
    mkdir -p "$(dirname "$LOG")"
    printf '=== %s start-docker.sh: dockerd %s\n' "$(date -u +%FT%TZ)" "${args[*]}" >>"$LOG"
    # A session of its own, so that it outlives this script and its make; and no
    # descriptor but the log: a daemon that inherited this script's lock (fd 9) or a
    # caller's (`flock FILE make up`) would hold it for as long as it runs, and every
    # later start-docker.sh or flock on that file would wait for ever.
    (
        for fd in /proc/"$BASHPID"/fd/*; do
            fd="${fd##*/}"
            if [[ "$fd" =~ ^[0-9]+$ ]] && (( fd > 2 )); then
                eval "exec ${fd}>&-"
            fi
        done
        exec setsid dockerd "${args[@]}" </dev/null >>"$LOG" 2>&1
    ) &
    pid=$!
fi

start=$SECONDS
while (( SECONDS - start < WAIT )); do
    if answers; then
        log "dockerd answers after $((SECONDS - start)) s ($("$DOCKER" version -f '{{.Server.Version}}'))"
        exit 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        printf 'start-docker: error: dockerd exited; last lines of %s:\n' "$LOG" >&2
        tail -n 20 "$LOG" >&2
        exit 1
    fi
    sleep 1
done
printf 'start-docker: error: dockerd (pid %s) did not answer "docker info" within %s s; last lines of %s:\n' \
    "$pid" "$WAIT" "$LOG" >&2
tail -n 20 "$LOG" >&2
exit 1
