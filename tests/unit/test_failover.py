"""failover artifact (issue 10, point 4): the scripts run for real against a stand-in
`docker` that keeps each node's role and volume in files, the postgres entry point's
fence runs for real with stand-ins for pg_basebackup and postgres, and the clients
find the primary by themselves (DATABASE_HOST lists both nodes, writes need a
read-write session). tests/stack/test_stack_pg_failover.py runs it on the live stack."""

from __future__ import annotations

import functools
import os
import socket
import subprocess
from pathlib import Path

import pytest

from infra_gen.contract import PG_FENCE_FILE
from infra_gen.project import Project
from infra_gen.render import RenderedFile, render_environment, render_topology
from infra_gen.topology import plan

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ("failover/failover.sh", "failover/reseed-replica.sh", "failover/failback.sh")

# The stand-in docker: roles in $STATE/<node>.role (primary, standby, down), a
# fence in $STATE/<volume>.fence, every call in $STATE/calls.
FAKE_DOCKER = r"""#!/usr/bin/env bash
S="$FAKE_STATE"
echo "$*" >>"$S/calls"
vol_node() { case "$1" in *_pgdata) echo postgres ;; *_pgreplica) echo postgres-replica ;; esac; }
node_vol() { case "$1" in postgres) echo p_pgdata ;; postgres-replica) echo p_pgreplica ;; esac; }
role() { cat "$S/$1.role"; }
sql() {  # NODE, SQL from -c or stdin
    local node="$1"; shift
    [[ "$(role "$node")" != down ]] || { echo "$node is not running" >&2; exit 1; }
    local q="$*"
    [[ "$q" == *" -c "* ]] || q="$(cat)"
    case "$q" in
        *pg_is_in_recovery*) [[ "$(role "$node")" == standby ]] && echo t || echo f ;;
        *pg_promote*) echo primary >"$S/$node.role"; echo "promote $node" >>"$S/events"; echo t ;;
        *pg_stat_wal_receiver*) [[ "$(role "$node")" == standby ]] && echo streaming ;;
        *pg_create_physical_replication_slot*) echo "slot $node" >>"$S/events" ;;
        *pg_last_wal_replay_lsn*) echo t ;;
        *) echo "unexpected SQL: $q" >&2; exit 9 ;;
    esac
}
case "$1" in
    compose)
        shift 5   # compose -p P -f F
        node="${!#}"
        case "$1" in
            exec) [[ "$(role "$3")" != down ]] || exit 1; echo "-- dump from $3" ;;
            up) if [[ -e "$S/$(node_vol "$node").fence" ]]; then
                    echo "reseed $node from $(cat "$S/$(node_vol "$node").fence")" >>"$S/events"
                    rm "$S/$(node_vol "$node").fence"
                    echo standby >"$S/$node.role"
                fi ;;
        esac ;;
    ps) node="$(printf '%s\n' "$@" | sed -n 's/^label=com.docker.compose.service=//p')"
        [[ "$2" == -aq || "$(role "$node")" != down ]] && echo "id-$node" ;;
    exec) node="${3#id-}"; shift 3; sql "$node" "$@" ;;
    stop) node="${!#}"; node="${node#id-}"
          [[ "$(role "$node")" == down ]] || echo "clean $node" >>"$S/events"
          echo down >"$S/$node.role" ;;
    volume) ;;
    run)
        vol="$(printf '%s\n' "$@" | sed -n 's/^\(p_[a-z]*\):.*/\1/p')"
        by="$(printf '%s\n' "$@" | tail -n 3 | head -n 1)"
        echo "$by" >"$S/$vol.fence"; echo "fence $(vol_node "$vol") by $by" >>"$S/events"
        if grep -q "clean $(vol_node "$vol")" "$S/events" 2>/dev/null; then
            printf 'Database cluster state:               shut down\n'
        else
            printf 'Database cluster state:               in production\n'
        fi
        printf 'Latest checkpoint location:           0/3000060\n' ;;
esac
exit 0
"""


@functools.cache
def files(env: str) -> dict[str, RenderedFile]:
    return render_environment(Project(ROOT), env)


class Stack:
    """A stand-in stack: the generated scripts installed, roles set per node."""

    def __init__(self, tmp: Path, postgres: str, replica: str) -> None:
        self.tmp, self.state = tmp, tmp / "state"
        self.state.mkdir()
        (self.state / "postgres.role").write_text(postgres + "\n")
        (self.state / "postgres-replica.role").write_text(replica + "\n")
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        (bin_dir / "docker").write_text(FAKE_DOCKER)
        (bin_dir / "docker").chmod(0o755)
        for path in (*SCRIPTS, "backup/backup_db.sh"):
            target = tmp / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(files("dev")[path].content)
            target.chmod(0o755)

    def run(self, path: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PATH": f"{self.tmp / 'bin'}:{os.environ['PATH']}",
               "FAKE_STATE": str(self.state), "COMPOSE_PROJECT": "p", "WAIT_SECONDS": "3",
               "BACKUP_DIR": str(self.tmp / "backups"), "LOG_DIR": str(self.tmp / "logs")}
        return subprocess.run([str(self.tmp / path), *args], env=env, capture_output=True,
                              text=True, check=False, timeout=60)

    def role(self, node: str) -> str:
        return (self.state / f"{node}.role").read_text().strip()

    def events(self) -> list[str]:
        f = self.state / "events"
        return f.read_text().splitlines() if f.is_file() else []


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_scripts_are_strict_executable_and_name_the_topology(env: str) -> None:
    for path in SCRIPTS:
        f = files(env)[path]
        text = f.content.decode()
        assert f.executable and text.startswith("#!/usr/bin/env bash\n# Generated by infra-gen")
        assert "\nset -euo pipefail\n" in text
        assert "\nPLANNED_PRIMARY=postgres\nPLANNED_REPLICA=postgres-replica\n" in text
        assert f"\nFENCE_FILE=/var/lib/postgresql/data/{PG_FENCE_FILE}\n" in text
        assert "\nSLOT=replica_1\n" in text and "\nIMAGE=infra-gen/postgres:0.1.0\n" in text


def test_no_replica_renders_no_failover_scripts() -> None:
    env = Project(ROOT).load("dev")
    env = env.model_copy(update={"postgres": env.postgres.model_copy(update={"replicas": 0})})
    out = render_topology(plan(env), Project(ROOT).templates_dir)
    assert not [p for p in out if p.startswith("failover/")]
    assert "no replica" in out["RUNBOOK.md"].content.decode()


def test_failover_fences_the_lost_primary_before_promoting(tmp_path: Path) -> None:
    st = Stack(tmp_path, postgres="down", replica="standby")
    r = st.run("failover/failover.sh")
    assert r.returncode == 0, r.stderr
    assert st.events() == ["fence postgres by postgres-replica", "promote postgres-replica",
                           "slot postgres-replica"]
    assert (st.state / "p_pgdata.fence").read_text() == "postgres-replica\n"
    assert st.role("postgres-replica") == "primary" and st.role("postgres") == "down"
    assert "writes postgres-replica had not received are lost" in r.stderr


@pytest.mark.parametrize(("postgres", "replica", "args", "message"), [
    ("primary", "primary", (), "no node answers as a standby"),
    ("down", "down", (), "no node answers as a standby"),
    ("down", "standby", ("--switchover",), "--switchover needs the primary up: postgres is down"),
    ("primary", "standby", ("--bogus",), "usage: failover.sh [--switchover]"),
])
def test_failover_refuses_without_touching_anything(tmp_path: Path, postgres: str, replica: str,
                                                    args: tuple[str, ...], message: str) -> None:
    st = Stack(tmp_path, postgres=postgres, replica=replica)
    r = st.run("failover/failover.sh", *args)
    assert r.returncode != 0 and message in r.stderr, r.stderr
    assert st.events() == [] and not list(st.state.glob("*.fence"))


def test_switchover_waits_for_the_clean_shutdown_to_be_replayed(tmp_path: Path) -> None:
    st = Stack(tmp_path, postgres="primary", replica="standby")
    r = st.run("failover/failover.sh", "--switchover")
    assert r.returncode == 0, r.stderr
    assert "shut down cleanly at 0/3000060: waiting for postgres-replica to replay it" in r.stderr
    assert st.events() == ["clean postgres", "fence postgres by postgres-replica",
                           "promote postgres-replica", "slot postgres-replica"]


def test_backups_follow_the_primary_and_refuse_split_brain(tmp_path: Path) -> None:
    st = Stack(tmp_path, postgres="down", replica="primary")
    r = st.run("backup/backup_db.sh")
    assert r.returncode == 0, r.stderr
    (dump,) = (tmp_path / "backups" / "db").glob("*.sql.gz")
    assert subprocess.run(["gunzip", "-c", str(dump)], capture_output=True, text=True,
                          check=True).stdout == "-- dump from postgres-replica\n"
    (st.state / "postgres.role").write_text("primary\n")
    r = st.run("backup/backup_db.sh")
    assert r.returncode != 0 and "more than one primary (postgres postgres-replica)" in r.stderr
    assert len(list((tmp_path / "backups" / "db").glob("*.sql.gz"))) == 1


def test_failback_returns_to_the_planned_layout(tmp_path: Path) -> None:
    st = Stack(tmp_path, postgres="down", replica="standby")
    assert st.run("failover/failover.sh").returncode == 0
    r = st.run("failover/failback.sh")
    assert r.returncode == 0, r.stderr
    assert st.events()[3:] == [
        "slot postgres-replica", "fence postgres by postgres-replica",
        "reseed postgres from postgres-replica",        # the old primary: a standby
        "clean postgres-replica", "fence postgres-replica by postgres",  # switchover
        "promote postgres", "slot postgres",
        "slot postgres", "fence postgres-replica by postgres",
        "reseed postgres-replica from postgres",        # the planned replica again
    ]
    assert st.role("postgres") == "primary" and st.role("postgres-replica") == "standby"
    assert st.run("failover/reseed-replica.sh", "postgres").returncode == 1  # the primary


# -- the entry point's fence ---------------------------------------------------------
ENTRYPOINT = ROOT / "services" / "postgres" / "entrypoint.sh"


def entrypoint(tmp: Path, pgdata: Path, port: int,
               **extra: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    fakes = {
        # Copies "the primary": what -R writes, and the arguments it got.
        "pg_basebackup": 'for a in "$@"; do case "$a" in --pgdata=*) d="${a#*=}" ;; esac; done\n'
                         'echo 15 >"$d/PG_VERSION"; : >"$d/standby.signal"; : >"$d/.infra-gen-initialized"\n'
                         'echo "$*" >"$d/copied-with"',
        "postgres": 'echo "postgres started: $*"; ls -A "$PGDATA"',
    }
    for name, body in fakes.items():
        (bin_dir / name).write_text(f"#!/usr/bin/env bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    secret = tmp / "replication_password"
    secret.write_text("s3cret\n")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "PGDATA": str(pgdata), "POSTGRES_ROLE": "primary",
           "REPLICATION_USER": "replicator", "REPLICATION_PASSWORD_FILE": str(secret),
           "REPLICATION_SLOT": "replica_1", "PRIMARY_PORT": str(port), "HOME": str(tmp),
           **extra}
    return subprocess.run(["bash", str(ENTRYPOINT)], env=env, capture_output=True, text=True,
                          check=False, timeout=60)


def old_primary(tmp: Path, fence: str) -> Path:
    pgdata = tmp / "data"
    (pgdata / "base").mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("15\n")
    (pgdata / ".infra-gen-initialized").touch()
    (pgdata / "base" / "old-rows").write_text("rows only the old primary had\n")
    (pgdata / PG_FENCE_FILE).write_text(fence)
    return pgdata


def test_a_fenced_primary_is_never_started_but_reseeded_as_a_standby(tmp_path: Path) -> None:
    pgdata = old_primary(tmp_path, "127.0.0.1\n")
    with socket.socket() as listener:  # "the new primary" accepts TCP connections
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        r = entrypoint(tmp_path, pgdata, listener.getsockname()[1])
    assert r.returncode == 0, r.stderr
    assert "fenced: this data was superseded by 127.0.0.1" in r.stderr
    started = r.stdout.splitlines()
    assert started[0].startswith("postgres started: -D ")
    # The copy replaced the old data, the fence went last, the server runs as a standby.
    assert sorted(started[1:]) == [".infra-gen-initialized", "PG_VERSION", "copied-with",
                                   "standby.signal"]
    copied = (pgdata / "copied-with").read_text()
    assert "--host=127.0.0.1" in copied and "--slot=replica_1" in copied
    assert "--write-recovery-conf" in copied


@pytest.mark.parametrize("fence", ["$(touch /tmp/pwned)\n", "\n", "-h evil\n"])
def test_a_fence_that_names_no_host_stops_the_start(tmp_path: Path, fence: str) -> None:
    pgdata = old_primary(tmp_path, fence)
    r = entrypoint(tmp_path, pgdata, 1)
    assert r.returncode != 0 and "does not name a host" in r.stderr
    assert "postgres started" not in r.stdout
    assert (pgdata / "base" / "old-rows").is_file() and (pgdata / PG_FENCE_FILE).is_file()


def test_an_empty_primary_volume_next_to_a_running_peer_is_not_initialised(
        tmp_path: Path) -> None:
    pgdata = tmp_path / "data"
    pgdata.mkdir()
    with socket.socket() as listener:  # the other node, now the primary, is up
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = str(listener.getsockname()[1])
        r = entrypoint(tmp_path, pgdata, 1, PEER_HOST="127.0.0.1", POSTGRES_PORT=port)
    assert r.returncode != 0 and "not initialising a new, empty primary" in r.stderr, r.stderr
    assert not list(pgdata.iterdir()) and "postgres started" not in r.stdout


# -- the clients (the app's side: tests/unit/app/test_app_config.py) ------------------
def test_clients_list_both_nodes() -> None:
    topo = plan(Project(ROOT).load("dev"))
    clients = topo.of_kind("api", "worker")
    assert clients
    for c in clients:
        assert dict(c.environment)["DATABASE_HOST"] == "postgres,postgres-replica", c.name
