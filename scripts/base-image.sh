#!/usr/bin/env bash
# Make sure the base image of every infra-gen image, debian:bookworm-slim, is
# present (used by `make base-image`). Where a registry answers it is pulled;
# where none does, it is built with debootstrap (minbase) and `docker import`ed,
# trimmed like the real slim image. The root file system tarball is cached, so
# a second build on the same machine takes seconds. Idempotent.
#
#   BASE_IMAGE           image to provide (default debian:bookworm-slim)
#   DEBIAN_MIRROR        mirror for debootstrap (default http://deb.debian.org/debian)
#   DOCKER_PULL_TIMEOUT  seconds before giving up on `docker pull` (default 30)
#   XDG_CACHE_HOME       cache root (tarball in $XDG_CACHE_HOME/infra-gen/)
set -euo pipefail

# One run at a time on a machine: two terminals (or test runs) installing or
# building at once would fight over apt's lock, the wheelhouse or the tags.
exec 9>"${TMPDIR:-/tmp}/infra-gen-base-image.lock"
flock 9

IMAGE="${BASE_IMAGE:-debian:bookworm-slim}"
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PULL_TIMEOUT="${DOCKER_PULL_TIMEOUT:-30}"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/infra-gen"
# Bump the recipe version when the root file system recipe below changes.
CACHE_TAR="$CACHE_DIR/debian-$SUITE-minbase-slim-v1.tar"

log() { printf 'base-image: %s\n' "$*"; }
die() { printf 'base-image: error: %s\n' "$*" >&2; exit 1; }

# Debian's client (matching the engine and its plugins) first.
if [[ -x /usr/bin/docker ]]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi

timeout 10 "$DOCKER" info >/dev/null 2>&1 \
    || die "the Docker daemon does not answer: run scripts/start-docker.sh first"

if "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
    log "$IMAGE present"
    exit 0
fi

log "pulling $IMAGE (at most ${PULL_TIMEOUT} s)"
if timeout "$PULL_TIMEOUT" "$DOCKER" pull -q "$IMAGE" >/dev/null 2>&1; then
    log "$IMAGE pulled"
    exit 0
fi
log "no registry answered: making $IMAGE locally"

import_tar() {
    local start=$SECONDS
    "$DOCKER" import \
        --change 'CMD ["bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --message "debootstrap --variant=minbase $SUITE (infra-gen scripts/base-image.sh)" \
        "$1" "$IMAGE" >/dev/null
    log "imported $IMAGE in $((SECONDS - start)) s"
}

if [[ -s "$CACHE_TAR" ]]; then
    log "using cached root file system $CACHE_TAR"
    import_tar "$CACHE_TAR"
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]] || ! command -v debootstrap >/dev/null; then
    die "building $IMAGE needs root and debootstrap (scripts/install-tools.sh), or a registry that serves it"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/infra-gen-rootfs.XXXXXX")"
cleanup() {
    # debootstrap mounts /proc and /sys in the target; never rm through a mount.
    local mnt
    awk -v d="$WORK/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r \
        | while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done
    rm -rf "$WORK" "$CACHE_TMP"
}
ROOTFS="$WORK/rootfs"
CACHE_TMP="$CACHE_TAR.tmp.$$"
trap cleanup EXIT

start=$SECONDS
log "debootstrap --variant=minbase $SUITE from $MIRROR"
if ! debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
    tail -n 20 "$WORK/debootstrap.log" >&2
    [[ -f "$ROOTFS/debootstrap/debootstrap.log" ]] && tail -n 20 "$ROOTFS/debootstrap/debootstrap.log" >&2
    die "debootstrap failed"
fi
log "debootstrap done in $((SECONDS - start)) s"

# Make it behave like the official slim image (debuerreotype): the same apt
# sources (with updates and security), no service start-up, no apt caches,
# no documentation, man pages or translations.
rm -f "$ROOTFS/etc/apt/sources.list"
cat >"$ROOTFS/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
chmod 0755 "$ROOTFS/usr/sbin/policy-rc.d"
cat >"$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
printf 'Acquire::Languages "none";\n' >"$ROOTFS/etc/apt/apt.conf.d/docker-no-languages"
printf 'APT::AutoRemove::SuggestsImportant "false";\n' >"$ROOTFS/etc/apt/apt.conf.d/docker-autoremove-suggests"
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
find "$ROOTFS/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$ROOTFS"/usr/share/{groff,info,linda,locale,man}/* "$ROOTFS"/usr/share/lintian/overrides/*
rm -rf "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/log/* \
    "$ROOTFS"/tmp/* "$ROOTFS/debootstrap"
# The container's own files come from Docker at run time.
: >"$ROOTFS/etc/hostname"
: >"$ROOTFS/etc/resolv.conf"

mkdir -p "$CACHE_DIR"
tar --numeric-owner --xattrs -C "$ROOTFS" -cf "$CACHE_TMP" .
mv "$CACHE_TMP" "$CACHE_TAR"
log "cached root file system: $CACHE_TAR ($(du -h "$CACHE_TAR" | cut -f1))"
import_tar "$CACHE_TAR"
