"""`churn` management commands: migrate, create-token NAME, train --out DIR, and with
a model registry (MLFLOW_TRACKING_URI): retrain [--promote], promote VERSION,
registry-export --last N."""

from __future__ import annotations

import argparse
import json
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


def _registry() -> Any:
    from churn.ml.registry import RegistrySettings

    settings = RegistrySettings.from_env()
    if settings is None:
        raise ConfigError("MLFLOW_TRACKING_URI is not set (no model registry)")
    return settings


def _one_line_errors(handler: Any) -> Any:
    """A registry that refuses or cannot be reached: one line on stderr, exit 1."""

    def run(args: argparse.Namespace, config: Config) -> int:
        from churn.ml.registry import _one_line

        try:
            return int(handler(args, config))
        except ConfigError:
            raise
        except Exception as exc:
            print(f"churn {args.command}: {_one_line(exc)}", file=sys.stderr)
            return 1

    return run


@_one_line_errors
def _retrain(args: argparse.Namespace, _: Config) -> int:
    """Train on a fresh synthetic data set (a new seed unless given), log the run,
    register a version and, with --promote, move the alias to it."""
    import secrets

    from churn.ml.publish import register
    from churn.ml.train import train

    settings = _registry()
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31 - 1) + 1
    model = train(seed=seed)
    registered = register(model, settings, promote=args.promote)
    log.info("registered %s version %s (run %s, AUC %.3f)%s", settings.model_name,
             registered.version, registered.run_id, model.metadata["metrics"]["auc"],
             f"; {settings.alias} -> {registered.version}" if args.promote else "")
    # One JSON line on stdout (make retrain and the stack test read it).
    print(json.dumps(registered.as_dict(model), sort_keys=True))
    return 0


@_one_line_errors
def _promote(args: argparse.Namespace, _: Config) -> int:
    from churn.ml.publish import promote

    settings = _registry()
    promote(settings, args.version)
    print(json.dumps({"model_name": settings.model_name, "alias": settings.alias,
                      "version": args.version}, sort_keys=True))
    return 0


@_one_line_errors
def _registry_export(args: argparse.Namespace, _: Config) -> int:
    from churn.ml.publish import export

    if sys.stdout.isatty():
        print("churn: registry-export writes a tar.gz on stdout: redirect it", file=sys.stderr)
        return 2
    versions = export(_registry(), args.last, sys.stdout.buffer)
    log.info("exported versions %s", ", ".join(versions) or "(none registered)")
    return 0


def _positive(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {raw!r}")
    return int(raw)


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
    retrain = commands.add_parser(
        "retrain", help="train on fresh synthetic data and register a version (registry)")
    retrain.add_argument("--seed", type=int, default=None, help="seed (default: a new one)")
    retrain.add_argument("--promote", action="store_true",
                         help="point the alias (MODEL_REGISTRY_ALIAS) at the new version")
    retrain.set_defaults(handler=_retrain)
    prom = commands.add_parser("promote", help="point the alias at a registered version")
    prom.add_argument("version", help="the registered version number")
    prom.set_defaults(handler=_promote)
    export = commands.add_parser(
        "registry-export", help="tar.gz of the newest registered versions, on stdout")
    export.add_argument("--last", type=_positive, default=5, help="how many versions (default 5)")
    export.set_defaults(handler=_registry_export)
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
