#!/usr/bin/env bash
# TEST SCAFFOLDING: a three-node Docker Swarm, a bastion and a registry on this one
# machine, described by environments/$SWARM_ENV.yaml (make swarm-up). On real hosts a
# user has machines with Docker, a bastion and a registry instead (docs/swarm.md).
#
#   node-N     privileged containers, each running its own dockerd (Debian's
#              docker.io), /var/lib/docker on a volume; sshd for deploys
#   bastion    sshd only: the jump host of generated/<env>/ssh/config
#   registry   Debian's docker-registry; the nodes pull from it (insecure-registries
#              in each node's daemon.json), this machine pushes to 127.0.0.1:$REGISTRY_PORT
#
# All on the private Docker network $NET ($SUBNET); names start with infra-gen-swarm-
# so the dev compose stack is never touched. Idempotent: a running cluster is
# checked and left alone. Hold /work/swarm.lock around whole test runs.
#
#   SWARM_ENV      environment (default swarm)
#   SUBNET         private network (default 10.213.7.0/24: the model's addresses)
#   REGISTRY_ADDR  registry's address on it (default 10.213.7.5)
#   REGISTRY_PORT  host port (loopback) the registry is pushed to (default 15000)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ENV_NAME="${SWARM_ENV:-swarm}"
SUBNET="${SUBNET:-10.213.7.0/24}"
REGISTRY_ADDR="${REGISTRY_ADDR:-10.213.7.5}"
REGISTRY_PORT="${REGISTRY_PORT:-15000}"
PREFIX=infra-gen-swarm
NET="$PREFIX-net"
STATE="${XDG_CACHE_HOME:-$HOME/.cache}/infra-gen/swarm"
PY="${PYTHON_VENV:-$ROOT/.venv/bin/python}"
VERSION="$(tr -d '[:space:]' <VERSION)"
IMAGE="infra-gen/swarm-node:$VERSION"
if [[ -x /usr/bin/docker ]]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi

log() { printf 'swarm-up: %s\n' "$*"; }
die() { printf 'swarm-up: error: %s\n' "$*" >&2; exit 1; }

exec 9>"${TMPDIR:-/tmp}/infra-gen-swarm-up.lock"
flock 9

# Node addresses, roles/labels, managers and the registry name: from the model.
facts="$("$PY" -m infra_gen.stack.cluster "$ENV_NAME")" || die "cannot read environments/$ENV_NAME.yaml"
eval "$facts"
[[ -n "$REGISTRY" ]] || die "images.registry of $ENV_NAME names no registry host"
REGISTRY_NAME="${REGISTRY%%:*}"
IDENTITY="${IDENTITY_FILE/#\~/$HOME}"
addr() { local v="ADDR_${1//-/_}"; v="${v^^}"; printf '%s' "${!v}"; }
labels() { local v="LABELS_${1//-/_}"; v="${v^^}"; printf '%s' "${!v}"; }
nd() { local node="$1"; shift; "$DOCKER" exec "$PREFIX-$node" docker "$@"; }

start=$SECONDS
timeout 10 "$DOCKER" info >/dev/null 2>&1 || scripts/start-docker.sh
scripts/base-image.sh

t=$SECONDS
"$DOCKER" build -q -f services/swarm-node/Dockerfile --build-arg "VERSION=$VERSION" \
    -t "$IMAGE" services >/dev/null || die "building $IMAGE failed"
log "image $IMAGE ready in $((SECONDS - t)) s"

# Keys: the client key is the model's identity_file; one host key for every
# scaffolding host, made once, so the known_hosts line stays valid across rebuilds.
mkdir -p "$STATE/ssh" "$(dirname "$IDENTITY")"
chmod 0700 "$(dirname "$IDENTITY")"
[[ -f "$IDENTITY" ]] || ssh-keygen -q -t ed25519 -N '' -C "infra-gen swarm scaffolding" -f "$IDENTITY"
[[ -f "$STATE/ssh/ssh_host_ed25519_key" ]] \
    || ssh-keygen -q -t ed25519 -N '' -C "infra-gen swarm host" -f "$STATE/ssh/ssh_host_ed25519_key"
cp "$IDENTITY.pub" "$STATE/ssh/authorized_keys"
hosts="$BASTION_ADDR"
for n in $NODES; do hosts+=",$(addr "$n")"; done
KNOWN="$HOME/.ssh/known_hosts"
touch "$KNOWN"
line="$hosts $(cut -d' ' -f1,2 "$STATE/ssh/ssh_host_ed25519_key.pub")"
grep -qxF "$line" "$KNOWN" || { printf '%s\n' "$line" >>"$KNOWN"; log "known_hosts: added $hosts"; }

"$DOCKER" network inspect "$NET" >/dev/null 2>&1 \
    || "$DOCKER" network create --subnet "$SUBNET" "$NET" >/dev/null

running() { [[ "$("$DOCKER" inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" == true ]]; }
run_box() {  # name ip role [docker run options...]
    local host="$1" name="$PREFIX-$1" ip="$2" role="$3"
    shift 3
    running "$name" && return 0
    "$DOCKER" rm -f "$name" >/dev/null 2>&1 || true
    "$DOCKER" run -d --name "$name" --hostname "$host" --network "$NET" --ip "$ip" \
        --label infra-gen.scaffolding=swarm "$@" "$IMAGE" "$role" >/dev/null
}

run_box registry "$REGISTRY_ADDR" registry --network-alias "$REGISTRY_NAME" \
    -p "127.0.0.1:$REGISTRY_PORT:5000" -v "$PREFIX-registry:/var/lib/docker-registry"
run_box bastion "$BASTION_ADDR" bastion -v "$STATE/ssh:/etc/infra-gen-ssh:ro"
for n in $NODES; do
    run_box "$n" "$(addr "$n")" node --privileged --memory 6g \
        -e "INSECURE_REGISTRIES=$REGISTRY" \
        -v "$PREFIX-$n-docker:/var/lib/docker" -v "$STATE/ssh:/etc/infra-gen-ssh:ro"
done

for n in $NODES; do
    for _ in $(seq 60); do nd "$n" info >/dev/null 2>&1 && break; sleep 1; done
    nd "$n" info >/dev/null 2>&1 || { "$DOCKER" exec "$PREFIX-$n" tail -20 /var/log/dockerd.log >&2; die "dockerd on $n did not start"; }
done
log "dockerd answers on: $NODES"

# The swarm: the first manager initializes, the others join with the right token.
first="${MANAGERS%% *}"
if [[ "$(nd "$first" info -f '{{.Swarm.LocalNodeState}}')" != active ]]; then
    # Overlay subnets away from the private network and this machine's own ranges.
    nd "$first" swarm init --advertise-addr "$(addr "$first")" \
        --default-addr-pool 10.214.0.0/16 >/dev/null
    log "swarm initialized on $first"
fi
worker_token="$(nd "$first" swarm join-token -q worker)"
manager_token="$(nd "$first" swarm join-token -q manager)"
for n in $NODES; do
    [[ "$(nd "$n" info -f '{{.Swarm.LocalNodeState}}')" == active ]] && continue
    token="$worker_token"
    [[ " $MANAGERS " == *" $n "* ]] && token="$manager_token"
    nd "$n" swarm join --advertise-addr "$(addr "$n")" --token "$token" "$(addr "$first"):2377" >/dev/null
    log "$n joined"
done

# Node labels from the model's roles (infra-gen deploy sets them again, idempotently).
for n in $NODES; do
    args=()
    for l in $(labels "$n"); do args+=(--label-add "$l"); done
    nd "$first" node update "${args[@]}" "$n" >/dev/null
done
# shellcheck disable=SC2016 # a Go template, for docker
fmt='{{.Description.Hostname}}: {{range $k, $v := .Spec.Labels}}{{$k}}={{$v}} {{end}}'
for n in $NODES; do log "labels of $(nd "$first" node inspect -f "$fmt" "$n")"; done

for _ in $(seq 30); do curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/" >/dev/null 2>&1 && break; sleep 1; done
curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/" >/dev/null || die "the registry does not answer"

# The way infra-gen deploy goes: through the bastion with the generated ssh config.
"${INFRA_GEN:-$ROOT/.venv/bin/infra-gen}" render "$ENV_NAME" >/dev/null
ssh -F "generated/$ENV_NAME/ssh/config" -o BatchMode=yes "$first" \
    docker node ls --format "'{{.Hostname}} {{.ManagerStatus}} {{.Status}}'" \
    || die "ssh to $first through the bastion failed"
log "cluster ready in $((SECONDS - start)) s: ssh -F generated/$ENV_NAME/ssh/config $first"
