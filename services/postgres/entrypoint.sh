#!/usr/bin/env bash
# infra-gen/postgres entry point (runs as postgres). See docs/contract.md.
#
#   POSTGRES_ROLE=primary  first start (empty $PGDATA): initdb (scram-sha-256),
#       app role + database, replication role and physical replication slot
#       (only when REPLICATION_USER is set: an environment without a replica has none),
#       /etc/infra-gen/init.sql (if mounted) -- all on a temporary server that
#       listens on no TCP address; then the real server.
#   EXTRA_DB_NAME, EXTRA_DB_USER, EXTRA_DB_PASSWORD_FILE (optional: the MLflow
#       server's): at every start of a read-write server, the role (its password
#       set again from the file) and the database it owns are created when missing,
#       on the same temporary server, so an existing volume gets them too.
#   POSTGRES_ROLE=replica  first start: wait for PRIMARY_HOST, then
#       pg_basebackup -R -S $REPLICATION_SLOT -X stream; then start as a standby.
#
# Fencing (either role): a data directory holding $FENCE_FILE was superseded by a
# failover (failover/failover.sh writes the file, naming the new primary). It is
# never started: it is replaced by a base backup of that primary and starts as its
# standby, whatever POSTGRES_ROLE says. So no `compose up`, restart or recreation
# can bring a demoted primary back read-write next to the promoted one. Nor is an
# empty primary volume initialised while PEER_HOST (the other node) accepts
# connections: that is a removed volume, not a first start.
#
# Secrets are read from *_FILE paths and never put on a command line: psql gets
# them through its environment (\getenv), libpq through a 0600 PGPASSFILE.
# Arguments are passed on to the postgres server.
set -euo pipefail

PGDATA="${PGDATA:-/var/lib/postgresql/data}"
ROLE="${POSTGRES_ROLE:-primary}"
PORT="${POSTGRES_PORT:-5432}"
PRIMARY_HOST="${PRIMARY_HOST:-}"
PRIMARY_PORT="${PRIMARY_PORT:-5432}"
PRIMARY_WAIT="${PRIMARY_WAIT_SECONDS:-300}"
CONF_DIR=/etc/infra-gen
INIT_MARK="$PGDATA/.infra-gen-initialized"
INIT_SOCKET_DIR=/tmp/infra-gen-pg-init
FENCE_FILE="$PGDATA/infra-gen-fenced"
RESEED_DIR="$PGDATA/.infra-gen-reseed"
PASSFILE=/tmp/infra-gen-pgpass

log() { printf '%s postgres-entrypoint[%s]: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$ROLE" "$*" >&2; }
die() { log "error: $*"; exit 1; }

require() {
    local name
    for name in "$@"; do
        [[ -n "${!name:-}" ]] || die "$name must be set"
    done
}

# read_secret FILE: the file's content without trailing newlines.
read_secret() {
    local file="$1" value
    [[ -n "$file" ]] || die "a *_PASSWORD_FILE variable is empty"
    [[ -r "$file" ]] || die "cannot read secret file $file"
    value="$(<"$file")"
    [[ -n "$value" ]] || die "secret file $file is empty"
    printf '%s' "$value"
}

data_dir_empty() {
    [[ -z "$(find "$PGDATA" -mindepth 1 -maxdepth 1 ! -name lost+found -print -quit)" ]]
}

# write_passfile USER PASSWORD: a libpq password file (0600) for USER, any host.
write_passfile() {
    local pw="$2"
    pw="${pw//\\/\\\\}"
    pw="${pw//:/\\:}"
    (umask 077 && printf '*:*:*:%s:%s\n' "$1" "$pw" >"$PASSFILE")
    export PGPASSFILE="$PASSFILE"
}

init_primary() {
    require POSTGRES_USER POSTGRES_DB POSTGRES_PASSWORD_FILE
    local app_pw repl_pw="" replication=off
    app_pw="$(read_secret "$POSTGRES_PASSWORD_FILE")"
    if [[ -n "${REPLICATION_USER:-}" ]]; then
        require REPLICATION_PASSWORD_FILE REPLICATION_SLOT
        repl_pw="$(read_secret "$REPLICATION_PASSWORD_FILE")"
        replication=on
    fi

    log "initdb in $PGDATA"
    # The superuser postgres has no password (local peer only) unless it is
    # also the app owner.
    local initdb_args=(--pgdata="$PGDATA" --username=postgres --encoding=UTF8
        --locale=C.UTF-8 --auth-local=peer --auth-host=scram-sha-256)
    local pwfile=""
    if [[ "$POSTGRES_USER" == postgres ]]; then
        pwfile="$(umask 077 && mktemp /tmp/infra-gen-pwfile.XXXXXX)"
        printf '%s\n' "$app_pw" >"$pwfile"
        initdb_args+=(--pwfile="$pwfile")
    fi
    initdb "${initdb_args[@]}" >/dev/null
    [[ -z "$pwfile" ]] || rm -f "$pwfile"

    # Defaults used when no pg_hba.conf is mounted: password logins from any
    # address, replication for the replication role (when there is one).
    cat >>"$PGDATA/pg_hba.conf" <<EOF

# infra-gen defaults (used only when /etc/infra-gen/pg_hba.conf is not mounted)
host    all             all                     all     scram-sha-256
EOF
    if [[ "$replication" == on ]]; then
        printf 'host    replication     %s       all     scram-sha-256\n' "$REPLICATION_USER" \
            >>"$PGDATA/pg_hba.conf"
    fi

    mkdir -p "$INIT_SOCKET_DIR"
    pg_ctl --pgdata="$PGDATA" --wait --timeout=120 --silent \
        -o "-c listen_addresses='' -c unix_socket_directories=$INIT_SOCKET_DIR" start

    log "creating role $POSTGRES_USER, database $POSTGRES_DB (replication role and slot: $replication)"
    INIT_APP_USER="$POSTGRES_USER" INIT_APP_PASSWORD="$app_pw" INIT_APP_DB="$POSTGRES_DB" \
    INIT_REPL_USER="${REPLICATION_USER:-}" INIT_REPL_PASSWORD="$repl_pw" \
    INIT_SLOT="${REPLICATION_SLOT:-}" \
        psql -X -q -v ON_ERROR_STOP=1 -v replication="$replication" \
            -h "$INIT_SOCKET_DIR" -U postgres -d postgres <<'SQL'
\getenv app_user INIT_APP_USER
\getenv app_pw INIT_APP_PASSWORD
\getenv app_db INIT_APP_DB
\getenv repl_user INIT_REPL_USER
\getenv repl_pw INIT_REPL_PASSWORD
\getenv slot INIT_SLOT
SET password_encryption = 'scram-sha-256';
SELECT format('CREATE ROLE %I LOGIN', :'app_user')
    WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'app_user', :'app_pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'app_db', :'app_user')
    WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'app_db') \gexec
\if :replication
SELECT format('CREATE ROLE %I WITH REPLICATION LOGIN PASSWORD %L', :'repl_user', :'repl_pw')
    WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'repl_user') \gexec
SELECT pg_create_physical_replication_slot(:'slot')
    WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = :'slot') \g /dev/null
\endif
SQL

    [[ -z "${EXTRA_DB_NAME:-}" ]] || ensure_extra_db

    if [[ -f "$CONF_DIR/init.sql" ]]; then
        log "running $CONF_DIR/init.sql in $POSTGRES_DB"
        psql -X -q -v ON_ERROR_STOP=1 -h "$INIT_SOCKET_DIR" -U postgres -d "$POSTGRES_DB" \
            -f "$CONF_DIR/init.sql"
    fi

    pg_ctl --pgdata="$PGDATA" --wait --timeout=120 --silent -m fast stop
    rmdir "$INIT_SOCKET_DIR" 2>/dev/null || true
    : >"$INIT_MARK"
    log "initialisation done"
}

# ensure_extra_db: the role EXTRA_DB_USER with the password of its secret file and
# the database EXTRA_DB_NAME owned by it, on the temporary server of $INIT_SOCKET_DIR.
ensure_extra_db() {
    require EXTRA_DB_NAME EXTRA_DB_USER EXTRA_DB_PASSWORD_FILE
    local pw
    pw="$(read_secret "$EXTRA_DB_PASSWORD_FILE")"
    log "ensuring role $EXTRA_DB_USER and database $EXTRA_DB_NAME"
    INIT_X_USER="$EXTRA_DB_USER" INIT_X_PASSWORD="$pw" INIT_X_DB="$EXTRA_DB_NAME" \
        psql -X -q -v ON_ERROR_STOP=1 -h "$INIT_SOCKET_DIR" -U postgres -d postgres <<'SQL'
\getenv x_user INIT_X_USER
\getenv x_pw INIT_X_PASSWORD
\getenv x_db INIT_X_DB
SET password_encryption = 'scram-sha-256';
SELECT format('CREATE ROLE %I LOGIN', :'x_user')
    WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'x_user') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'x_user', :'x_pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'x_db', :'x_user')
    WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'x_db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'x_db') \gexec
SQL
}

# ensure_extra_db_on_start: the same for a data directory initialised before (or
# without) EXTRA_DB_*, when it starts read-write; a standby gets them by replication.
ensure_extra_db_on_start() {
    [[ -n "${EXTRA_DB_NAME:-}" && ! -f "$PGDATA/standby.signal" ]] || return 0
    mkdir -p "$INIT_SOCKET_DIR"
    pg_ctl --pgdata="$PGDATA" --wait --timeout=300 --silent \
        -o "-c listen_addresses='' -c unix_socket_directories=$INIT_SOCKET_DIR" start
    ensure_extra_db
    pg_ctl --pgdata="$PGDATA" --wait --timeout=120 --silent -m fast stop
    rmdir "$INIT_SOCKET_DIR" 2>/dev/null || true
}

# base_backup HOST DIR: a standby's copy of HOST in the empty directory DIR.
base_backup() {
    local host="$1" dir="$2" deadline=$((SECONDS + PRIMARY_WAIT)) attempt
    require REPLICATION_USER REPLICATION_PASSWORD_FILE REPLICATION_SLOT
    log "waiting for the primary $host:$PRIMARY_PORT (at most ${PRIMARY_WAIT} s)"
    # A bare TCP connect: the primary listens on TCP only once its initialisation
    # is complete, and an empty connection is not logged (pg_isready would be,
    # as a connection that pg_hba.conf refuses).
    until (exec 3<>"/dev/tcp/$host/$PRIMARY_PORT") 2>/dev/null; do
        ((SECONDS < deadline)) || die "primary $host:$PRIMARY_PORT not ready after ${PRIMARY_WAIT} s"
        sleep 2
    done
    for attempt in 1 2 3 4 5; do
        log "pg_basebackup from $host (slot $REPLICATION_SLOT), attempt $attempt"
        if pg_basebackup --pgdata="$dir" --host="$host" --port="$PRIMARY_PORT" \
            --username="$REPLICATION_USER" --no-password --write-recovery-conf \
            --slot="$REPLICATION_SLOT" --wal-method=stream --checkpoint=fast; then
            : >"$dir/${INIT_MARK##*/}"
            log "base backup done"
            return 0
        fi
        find "$dir" -mindepth 1 -maxdepth 1 ! -name lost+found -exec rm -rf {} +
        sleep 5
    done
    die "pg_basebackup failed"
}

init_replica() {
    require PRIMARY_HOST
    base_backup "$PRIMARY_HOST" "$PGDATA"
}

# reseed HOST: replace the fenced data directory with a standby's copy of HOST. The
# copy is made beside the old data and swapped in; the fence goes last, so a crash
# anywhere leaves a fenced directory that is re-seeded at the next start, never one
# that could start read-write (the copy needs as much room again as the data).
reseed() {
    local host="$1"
    log "fenced: this data was superseded by $host (failover); it is not started," \
        "it is replaced by a copy of $host and runs as its standby"
    rm -rf "$RESEED_DIR"
    mkdir -m 0700 "$RESEED_DIR"
    base_backup "$host" "$RESEED_DIR"
    find "$PGDATA" -mindepth 1 -maxdepth 1 ! -name lost+found ! -name "${RESEED_DIR##*/}" \
        ! -name "${FENCE_FILE##*/}" -exec rm -rf {} +
    find "$RESEED_DIR" -mindepth 1 -maxdepth 1 -exec mv -t "$PGDATA" {} +
    rmdir "$RESEED_DIR"
    [[ -f "$PGDATA/standby.signal" ]] || die "the copy of $host has no standby.signal"
    rm -f "$FENCE_FILE"
    log "re-seeded from $host: starting as its standby"
}

case "$ROLE" in
    primary | replica) ;;
    *) die "POSTGRES_ROLE must be primary or replica, not '$ROLE'" ;;
esac

chmod 0700 "$PGDATA" 2>/dev/null || true
# /run/postgresql (the default socket directory) links here.
mkdir -p /tmp/postgresql
chmod 2775 /tmp/postgresql

if [[ "$ROLE" == replica ]]; then
    require REPLICATION_USER REPLICATION_PASSWORD_FILE
fi
if [[ -n "${REPLICATION_USER:-}" && -n "${REPLICATION_PASSWORD_FILE:-}" ]]; then
    # The WAL receiver reads the password from this file on every start: a replica,
    # or a primary that a failover turned into a standby.
    write_passfile "$REPLICATION_USER" "$(read_secret "$REPLICATION_PASSWORD_FILE")"
fi

if [[ -e "$FENCE_FILE" ]]; then
    fenced_by="$(head -n 1 "$FENCE_FILE")"
    [[ "$fenced_by" =~ ^[a-z0-9][a-z0-9._-]{0,252}$ ]] \
        || die "$FENCE_FILE does not name a host: never starting this fenced data read-write"
    reseed "$fenced_by"
elif data_dir_empty; then
    # An empty volume next to a running peer is a removed volume, not a first start
    # (the replica starts after the primary): a new, empty primary there would take
    # the writes the clients meant for the real one.
    if [[ "$ROLE" == primary && -n "${PEER_HOST:-}" ]] \
        && (exec 3<>"/dev/tcp/$PEER_HOST/$PORT") 2>/dev/null; then
        die "$PGDATA is empty but $PEER_HOST accepts connections: not initialising a new," \
            "empty primary next to it (failover/failover.sh fences this node, which then" \
            "re-seeds from it)"
    fi
    if [[ "$ROLE" == primary ]]; then init_primary; else init_replica; fi
    fresh=yes
elif [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    die "$PGDATA is neither empty nor a PostgreSQL data directory"
elif [[ ! -e "$INIT_MARK" ]]; then
    die "$PGDATA holds an interrupted initialisation: remove the volume and start again"
fi

[[ "${fresh:-no}" == yes ]] || ensure_extra_db_on_start

server_args=(-D "$PGDATA" -p "$PORT" -c "listen_addresses=*")
if [[ -f "$CONF_DIR/postgresql.conf" ]]; then
    server_args+=(-c "config_file=$CONF_DIR/postgresql.conf")
fi
if [[ -f "$CONF_DIR/pg_hba.conf" ]]; then
    server_args+=(-c "hba_file=$CONF_DIR/pg_hba.conf")
fi

log "starting postgres ($([[ -f "$PGDATA/standby.signal" ]] && echo standby || echo read-write))"
exec postgres "${server_args[@]}" "$@"
