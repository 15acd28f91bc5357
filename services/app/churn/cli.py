"""`churn` management commands: migrate, create-token NAME, train --out DIR."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from churn.config import Config
from churn.errors import ConfigError
from churn.logs import configure_logging

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("churn")


MIGRATE_WAIT_SECONDS = 120.0
"""How long `migrate` waits for the database to accept connections (MIGRATE_WAIT)."""


def connect_when_ready(conninfo: str, wait: float, pause: float = 2.0) -> psycopg.Connection[Any]:
    """The database once it accepts connections. Compose starts the migrations after
    the database is healthy, but a swarm deploy starts every service at once (no
    depends_on), so a refused or unresolvable database is retried for `wait` seconds."""
    import psycopg

    deadline = time.monotonic() + wait
    while True:
        try:
            return psycopg.connect(conninfo, connect_timeout=5)
        except psycopg.OperationalError as exc:
            if time.monotonic() + pause > deadline:
                raise
            log.info("database not ready (%s): trying again", str(exc).strip().splitlines()[0])
            time.sleep(pause)


def _migrate(args: argparse.Namespace, config: Config) -> int:
    from churn.store.migrations import apply_indexes, apply_migrations

    indexes_sql = None
    if args.indexes is not None:
        try:
            indexes_sql = Path(args.indexes).read_text(encoding="utf-8")
        except OSError as exc:
            print(f"churn: cannot read {args.indexes}: {exc.strerror}", file=sys.stderr)
            return 2
    wait = float(os.environ.get("MIGRATE_WAIT", MIGRATE_WAIT_SECONDS))
    with connect_when_ready(config.database_conninfo(), wait) as conn:
        applied = apply_migrations(conn)
        created = apply_indexes(conn, indexes_sql) if indexes_sql is not None else []
    # One line, the last one of the container's log: infra-gen up repeats it.
    schema = f"applied migrations {applied}" if applied else "schema up to date"
    index = (f"created indexes {created}" if created else "indexes present"
             if indexes_sql is not None else "no index file")
    print(f"{schema}; {index}")
    return 0


def _create_token(args: argparse.Namespace, config: Config) -> int:
    import psycopg

    from churn.api.auth import hash_token, new_token

    token = new_token()
    try:
        with psycopg.connect(config.database_conninfo()) as conn:
            conn.execute(
                "INSERT INTO api_token (name, token_hash) VALUES (%s, %s)",
                (args.name, hash_token(token)),
            )
    except psycopg.errors.UniqueViolation:
        print(f"churn: a token named {args.name!r} already exists", file=sys.stderr)
        return 1
    # Printed once, on stdout alone, so scripts can capture it; only the hash is stored.
    print(token)
    return 0


def _train(args: argparse.Namespace, _: Config) -> int:
    from churn.ml.train import save, train

    model = train(seed=args.seed)
    save(model, Path(args.out))
    metrics = model.metadata["metrics"]
    log.info(
        "model %s: held-out AUC %.3f, accuracy %.3f -> %s",
        model.metadata["version"],
        metrics["auc"],
        metrics["accuracy"],
        args.out,
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="churn", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    migrate = commands.add_parser("migrate", help="apply pending database migrations")
    migrate.add_argument("--indexes", default=None, metavar="FILE",
                         help="SQL file of the environment's indexes, run after the migrations")
    migrate.set_defaults(handler=_migrate)
    token = commands.add_parser("create-token", help="create an API token and print it once")
    token.add_argument("name", help="who or what the token is for (unique)")
    token.set_defaults(handler=_create_token)
    train = commands.add_parser("train", help="train the churn model into a directory")
    train.add_argument("--out", required=True, help="directory for model.joblib + metadata.json")
    train.add_argument("--seed", type=int, default=42, help="data set and training seed")
    train.set_defaults(handler=_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = Config.from_env()
        configure_logging(config.log_level)
        return int(args.handler(args, config))
    except ConfigError as exc:
        print(f"churn: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
