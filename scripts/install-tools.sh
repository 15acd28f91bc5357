#!/usr/bin/env bash
# Install the host tools infra-gen's validation and stack need, from Debian's
# packages (Debian 12 "bookworm", as root; used by `make tools`).
#
#   validation: nginx (nginx -t), promtool, amtool, logrotate, shellcheck, ufw
#               (the list is infra_gen/contract.py's, shared with the CI template)
#   stack:      Docker engine 26 + Compose v2 + buildx, curl, psql, wrk
#   base image: debootstrap (see scripts/base-image.sh)
#
# Debian 12's docker-compose is the old v1, so the Docker packages come from
# Debian 13 "trixie", added with pin priority 100 (never picked unless asked
# for); they run on Debian 12's containerd and runc. No daemon is left running:
# packages are installed with a policy-rc.d that forbids starting services
# (scripts/start-docker.sh starts dockerd when it is needed).
#
# Idempotent: when everything is installed it only checks and exits (no
# `apt-get update`).
set -euo pipefail

# One run at a time on a machine: two terminals (or test runs) installing or
# building at once would fight over apt's lock, the wheelhouse or the tags.
exec 9>"${TMPDIR:-/tmp}/infra-gen-install-tools.lock"
flock 9

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf 'install-tools: %s\n' "$*"; }
die() { printf 'install-tools: error: %s\n' "$*" >&2; exit 1; }

# Prints list $1 of infra_gen/contract.py (plain python3, nothing installed):
# the validation tools are named there once, for this script and the CI template.
contract_list() {
    command -v python3 >/dev/null || die "python3 is needed to read infra_gen/contract.py"
    PYTHONPATH="$ROOT" python3 -m infra_gen.contract "$1"
}
validation_pkgs="$(contract_list apt-packages)"
validation_tools="$(contract_list apt-tools)"
host_daemons="$(contract_list host-daemons)"
mapfile -t VALIDATION_PKGS <<<"$validation_pkgs"
mapfile -t VALIDATION_TOOLS <<<"$validation_tools"

# Debian 12 packages (binaries only; their daemons must not run on the host).
BASE_PKGS=(
    "${VALIDATION_PKGS[@]}"
    debootstrap wrk curl ca-certificates postgresql-client iptables openssl openssh-client
    python3.11  # the images' Python: host wheels are resolved with it
    chromium    # the stack test renders the frontend page headless
)
# From trixie on bookworm: engine 26, CLI 26, Compose 2.26, buildx 0.13.
DOCKER_PKGS=(docker.io docker-cli docker-compose docker-buildx)
# Their runtime stays Debian 12's (apt would otherwise take trixie's containerd).
RUNTIME_PKGS=(containerd runc)
# Host daemons the packages above ship and that must stay stopped.
mapfile -t HOST_SERVICES <<<"$host_daemons"

TRIXIE_SOURCES=/etc/apt/sources.list.d/infra-gen-trixie.sources
TRIXIE_PIN=/etc/apt/preferences.d/infra-gen-trixie
POLICY_RC=/usr/sbin/policy-rc.d

manual_instructions() {
    cat >&2 <<'EOF'
install-tools: this script installs with apt-get on Debian 12 (bookworm) or 13
(trixie), as root. On this machine, install these yourself:
  - nginx                  (`nginx -v`)
  - promtool, amtool       (Prometheus 2.x and Alertmanager 0.25+ tools)
  - logrotate, shellcheck, ufw (only its rules are generated; do not enable it)
  - debootstrap            (only where no registry serves debian:bookworm-slim)
  - curl, wrk, psql        (PostgreSQL client)
  - Docker Engine >= 24 with the Compose v2 plugin (`docker compose version`)
    and buildx
EOF
    exit 1
}

# "installed" when the package is installed, whatever its version.
is_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

# True when package $1 is installed at a version >= $2.
has_version() {
    local v
    v="$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$1" 2>/dev/null || true)"
    [[ "$v" == installed\ * ]] && dpkg --compare-versions "${v#installed }" ge "$2"
}

# Write file $1 with content $2 unless it already has it; returns 0 when changed.
write_if_changed() {
    if [[ -f "$1" && "$(cat "$1")" == "$2" ]]; then
        return 1
    fi
    printf '%s\n' "$2" >"$1"
}

# ---------------------------------------------------------------- preconditions
[[ -r /etc/os-release ]] || manual_instructions
# shellcheck disable=SC1091
. /etc/os-release
codename="${VERSION_CODENAME:-}"
if [[ "${ID:-}" != debian || ( "$codename" != bookworm && "$codename" != trixie ) ]]; then
    log "not Debian 12/13 (found ${PRETTY_NAME:-unknown})"
    manual_instructions
fi
if [[ "$(id -u)" -ne 0 ]]; then
    log "must run as root (apt-get install)"
    manual_instructions
fi

# ---------------------------------------------------------------- what is missing
missing_base=()
for pkg in "${BASE_PKGS[@]}"; do
    is_installed "$pkg" || missing_base+=("$pkg")
done
docker_ok=true
has_version docker.io 24 || docker_ok=false
has_version docker-cli 24 || docker_ok=false
has_version docker-compose 2 || docker_ok=false
is_installed docker-buildx || docker_ok=false

if [[ ${#missing_base[@]} -eq 0 && "$docker_ok" == true ]]; then
    log "all packages present (docker.io $(dpkg-query -W -f='${Version}' docker.io), docker-compose $(dpkg-query -W -f='${Version}' docker-compose))"
else
    export DEBIAN_FRONTEND=noninteractive
    apt_install=(apt-get install -y -q --no-install-recommends
                 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

    # Forbid service start-up by maintainer scripts while we install
    # (invoke-rc.d and deb-systemd-invoke honour policy-rc.d).
    if [[ ! -e "$POLICY_RC" ]]; then
        printf '#!/bin/sh\n# infra-gen install-tools: do not start services\nexit 101\n' >"$POLICY_RC"
        chmod 0755 "$POLICY_RC"
        trap 'rm -f "$POLICY_RC"' EXIT
    fi

    if [[ "$codename" == bookworm ]]; then
        changed=false
        write_if_changed "$TRIXIE_SOURCES" "# infra-gen (scripts/install-tools.sh): Docker Compose v2 comes from trixie.
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" && changed=true
        write_if_changed "$TRIXIE_PIN" "# infra-gen (scripts/install-tools.sh): take trixie packages only when asked for.
Package: *
Pin: release n=trixie
Pin-Priority: 100" && changed=true
        [[ "$changed" == true ]] && log "added the trixie suite (pin priority 100)"
    fi

    start=$SECONDS
    log "apt-get update"
    apt-get update -q >/dev/null

    if [[ ${#missing_base[@]} -gt 0 ]]; then
        log "installing ${missing_base[*]}"
        "${apt_install[@]}" "${missing_base[@]}" >/dev/null
    fi
    if [[ "$docker_ok" != true ]]; then
        if [[ "$codename" == bookworm ]]; then
            docker_args=()
            for pkg in "${DOCKER_PKGS[@]}"; do docker_args+=("$pkg/trixie"); done
            for pkg in "${RUNTIME_PKGS[@]}"; do docker_args+=("$pkg/bookworm"); done
        else
            docker_args=("${DOCKER_PKGS[@]}" "${RUNTIME_PKGS[@]}")
        fi
        log "installing ${docker_args[*]}"
        "${apt_install[@]}" "${docker_args[@]}" >/dev/null
    fi
    log "packages installed in $((SECONDS - start)) s"

    # Belt and braces: a package whose daemon started anyway is stopped.
    for svc in "${HOST_SERVICES[@]}"; do
        if [[ -x "/etc/init.d/$svc" ]] && "/etc/init.d/$svc" status >/dev/null 2>&1; then
            log "stopping the host's $svc service"
            "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
        fi
    done
    if [[ -d /run/systemd/system ]]; then
        systemctl disable --now "${HOST_SERVICES[@]}" >/dev/null 2>&1 || true
    fi
fi

# ---------------------------------------------------------------- checks
# The host firewall is never enabled by us: ufw only provides the rule syntax.
if grep -qs '^ENABLED=yes' /etc/ufw/ufw.conf; then
    log "warning: ufw is enabled on this host (infra-gen never enables it)"
fi
# Prefer Debian's docker client, which finds the compose and buildx plugins
# of the same release; an older or plugin-less docker earlier in PATH
# (/usr/local/bin/docker on some images) is bypassed by the scripts.
/usr/bin/docker compose version >/dev/null || die "/usr/bin/docker compose does not work"
for tool in "${VALIDATION_TOOLS[@]}" debootstrap wrk curl psql; do
    command -v "$tool" >/dev/null || die "$tool not found after installation"
done
log "ok: $(/usr/bin/docker --version | cut -d, -f1), compose $(/usr/bin/docker compose version --short), $(nginx -v 2>&1 | cut -d' ' -f3)"
