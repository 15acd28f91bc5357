#!/usr/bin/env bash
# Build the images the stack runs: scripts/build-images.sh [NAME...]
#
#   NAME  app lb frontend postgres redis prometheus alertmanager exporters certbot mlflow
#         (default: all). Each is services/NAME/Dockerfile, built with services/
#         as context and tagged infra-gen/NAME:<version from ./VERSION>.
#
# Steps: make sure debian:bookworm-slim exists (scripts/base-image.sh); for the
# app, build its wheels on the host -- third-party wheels only when
# requirements.txt changed, the churn-app wheel only when its source changed
# (hash stamps in services/app/.wheels/) -- since builds cannot reach PyPI over
# HTTPS; then `docker build` each image with the layer cache, timing each.
#
#   PYTHON        host interpreter with pip (default python3); its minor version
#                 must be the image's (Debian bookworm: 3.11)
#   TARGET_PYTHON the image's exact interpreter on the host, for pip --python
#                 (default /usr/bin/python3.11: Debian 12's 3.11.2, as in the image)
#   BUILD_LOG_DIR build logs (default ${TMPDIR:-/tmp}/infra-gen-build)
#   NO_CACHE=1    build without the layer cache
set -euo pipefail

# One run at a time on a machine: two terminals (or test runs) installing or
# building at once would fight over apt's lock, the wheelhouse or the tags.
exec 9>"${TMPDIR:-/tmp}/infra-gen-build-images.lock"
flock 9

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES="$ROOT/services"
APP="$SERVICES/app"
WHEELS="$APP/.wheels"
PYTHON="${PYTHON:-python3}"
IMAGE_PYTHON=3.11
# Debian bookworm's python3.11 (its version string stays 3.11.2 across updates).
IMAGE_PYTHON_FULL=3.11.2
TARGET_PYTHON="${TARGET_PYTHON:-/usr/bin/python3.11}"
LOG_DIR="${BUILD_LOG_DIR:-${TMPDIR:-/tmp}/infra-gen-build}"
ALL=(app lb frontend postgres redis prometheus alertmanager exporters certbot mlflow)

log() { printf 'build-images: %s\n' "$*"; }
die() { printf 'build-images: error: %s\n' "$*" >&2; exit 1; }

# Debian's client (matching the engine and its buildx plugin) first.
if [[ -x /usr/bin/docker ]]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi

[[ -s "$ROOT/VERSION" ]] || die "$ROOT/VERSION is missing"
VERSION="$(tr -d '[:space:]' <"$ROOT/VERSION")"
[[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-.+][0-9A-Za-z.-]+)?$ ]] \
    || die "VERSION '$VERSION' is not a version number"

names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=("${ALL[@]}")
for name in "${names[@]}"; do
    [[ " ${ALL[*]} " == *" $name "* ]] || die "unknown image '$name' (known: ${ALL[*]})"
done

# sha256 of the named files' contents and paths (relative to $1), in a stable order.
hash_tree() {
    local dir="$1"
    shift
    (cd "$dir" && find "$@" -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 \
        | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

# The host interpreter's --python arguments (the image's exact interpreter when the
# host has it), in the global array target.
python_target() {
    local minor full
    minor="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
        || die "cannot run $PYTHON"
    [[ "$minor" == "$IMAGE_PYTHON" ]] \
        || die "$PYTHON is Python $minor; the images have $IMAGE_PYTHON (set PYTHON=python$IMAGE_PYTHON)"
    target=()
    if full="$("$TARGET_PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)" \
        && [[ "$full" == "$IMAGE_PYTHON_FULL" ]]; then
        target=(--python "$TARGET_PYTHON")
    else
        log "warning: no Python $IMAGE_PYTHON_FULL at $TARGET_PYTHON: environment markers are" \
            "evaluated for the host's $minor (set TARGET_PYTHON)"
    fi
}

# deps_wheels REQUIREMENTS DIR: third-party wheels in DIR/deps, rebuilt only when the
# requirements (or how they are resolved) changed: a stamp in DIR/deps.stamp.
deps_wheels() {
    local requirements="$1" dir="$2" want have start
    python_target
    mkdir -p "$dir"
    # The stamp covers the requirements and how they were resolved.
    want="$(printf '%s\n' "wheels-v2 ${target[*]} $IMAGE_PYTHON_FULL" \
        "$(sha256sum <"$requirements")" | sha256sum | cut -d' ' -f1)"
    have="$(cat "$dir/deps.stamp" 2>/dev/null || true)"
    if [[ "$want" != "$have" || ! -d "$dir/deps" ]]; then
        start=$SECONDS
        log "requirements changed: building third-party wheels of $requirements on the host"
        rm -rf "$dir/deps" "$dir/deps.tmp" "$dir/deps.stamp"
        # pip --python: resolve (environment markers included) for the image's
        # exact interpreter when the host has it (Debian 12: /usr/bin/python3.11).
        "$PYTHON" -m pip "${target[@]}" wheel --quiet --disable-pip-version-check \
            --wheel-dir "$dir/deps.tmp" --requirement "$requirements"
        mv "$dir/deps.tmp" "$dir/deps"
        printf '%s\n' "$want" >"$dir/deps.stamp"
        log "third-party wheels: $(find "$dir/deps" -name '*.whl' | wc -l) in $((SECONDS - start)) s"
    else
        log "third-party wheels of $requirements up to date"
    fi
}

build_wheels() {
    local want have start
    deps_wheels "$APP/requirements.txt" "$WHEELS"

    local sources=(pyproject.toml churn)
    [[ -f "$APP/README.md" ]] && sources+=(README.md)
    want="$(hash_tree "$APP" "${sources[@]}")"
    have="$(cat "$WHEELS/app.stamp" 2>/dev/null || true)"
    if [[ "$want" != "$have" || ! -d "$WHEELS/app" ]]; then
        start=$SECONDS
        log "app source changed: building the churn-app wheel"
        # Build from a copy: an in-tree build would leave build/ and *.egg-info
        # in services/app.
        local src
        src="$(mktemp -d "${TMPDIR:-/tmp}/infra-gen-app-src.XXXXXX")"
        (cd "$APP" && tar --exclude=__pycache__ --exclude='*.pyc' -cf - "${sources[@]}") \
            | tar -C "$src" -xf -
        rm -rf "$WHEELS/app" "$WHEELS/app.stamp"
        if ! "$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps \
            --wheel-dir "$WHEELS/app" "$src"; then
            rm -rf "$src"
            die "cannot build the churn-app wheel"
        fi
        rm -rf "$src"
        printf '%s\n' "$want" >"$WHEELS/app.stamp"
        log "churn-app wheel built in $((SECONDS - start)) s"
    else
        log "churn-app wheel up to date"
    fi
}

build_image() {
    local name="$1" tag="infra-gen/$1:$VERSION" start=$SECONDS
    local args=(build --file "$SERVICES/$name/Dockerfile" --build-arg "VERSION=$VERSION"
        --tag "$tag" --progress=plain)
    [[ "${NO_CACHE:-0}" != 1 ]] || args+=(--no-cache)
    if ! "$DOCKER" "${args[@]}" "$SERVICES" >"$LOG_DIR/$name.log" 2>&1; then
        tail -n 40 "$LOG_DIR/$name.log" >&2
        die "building $tag failed (full log: $LOG_DIR/$name.log)"
    fi
    local size
    size="$("$DOCKER" image inspect --format '{{.Size}}' "$tag")"
    timings+=("$(printf '%-34s %5d s %8d MB' "$tag" "$((SECONDS - start))" "$((size / 1000000))")")
    log "built $tag in $((SECONDS - start)) s"
}

total_start=$SECONDS
mkdir -p "$LOG_DIR"
if ! timeout 10 "$DOCKER" info >/dev/null 2>&1; then
    "$ROOT/scripts/start-docker.sh"
fi
"$ROOT/scripts/base-image.sh"

timings=()
for name in "${names[@]}"; do
    [[ "$name" != app ]] || build_wheels
    # The MLflow server: its own wheelhouse (full mlflow, PostgreSQL driver).
    [[ "$name" != mlflow ]] || deps_wheels "$SERVICES/mlflow/requirements.txt" "$SERVICES/mlflow/.wheels"
    build_image "$name"
done

log "images (build time, size):"
printf '  %s\n' "${timings[@]}"
log "total $((SECONDS - total_start)) s"
