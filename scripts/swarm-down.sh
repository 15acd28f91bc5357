#!/usr/bin/env bash
# TEST SCAFFOLDING: remove what scripts/swarm-up.sh made (make swarm-down): the
# node, bastion and registry containers, their volumes and the private network.
# Only objects named infra-gen-swarm-*; the keys and known_hosts line are kept.
set -euo pipefail
PREFIX=infra-gen-swarm
if [[ -x /usr/bin/docker ]]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
mapfile -t boxes < <("$DOCKER" ps -aq --filter "label=infra-gen.scaffolding=swarm")
[[ ${#boxes[@]} -eq 0 ]] || "$DOCKER" rm -f -v "${boxes[@]}" >/dev/null
mapfile -t vols < <("$DOCKER" volume ls -q --filter "name=$PREFIX-" | grep "^$PREFIX-" || true)
[[ ${#vols[@]} -eq 0 ]] || "$DOCKER" volume rm "${vols[@]}" >/dev/null
"$DOCKER" network rm "$PREFIX-net" >/dev/null 2>&1 || true
printf 'swarm-down: removed %d containers, %d volumes, network %s-net\n' \
    "${#boxes[@]}" "${#vols[@]}" "$PREFIX"
