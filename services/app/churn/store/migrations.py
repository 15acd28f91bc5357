"""Numbered, idempotent schema migrations recorded in `schema_migrations`.

Statements use IF NOT EXISTS because the database image's init.sql may already
have created the seed's indexes; an advisory lock serialises concurrent runs
(several `migrate` containers starting at once).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg

log = logging.getLogger(__name__)

# Arbitrary but fixed key for pg_advisory_xact_lock ("churn" in ASCII).
_MIGRATION_LOCK_KEY = 0x636875726E


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "customer",
        """
        CREATE TABLE IF NOT EXISTS customer (
            id              BIGSERIAL PRIMARY KEY,
            external_id     TEXT NOT NULL UNIQUE,
            name            TEXT NOT NULL,
            email           TEXT NOT NULL,
            tenure_months   INTEGER NOT NULL CHECK (tenure_months >= 0),
            monthly_charges NUMERIC(12, 2) NOT NULL CHECK (monthly_charges >= 0),
            total_charges   NUMERIC(14, 2) NOT NULL CHECK (total_charges >= 0),
            contract_type   TEXT NOT NULL
                CHECK (contract_type IN ('month-to-month', 'one-year', 'two-year')),
            support_calls   INTEGER NOT NULL CHECK (support_calls >= 0),
            risk_score      DOUBLE PRECISION CHECK (risk_score BETWEEN 0 AND 1),
            created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
            updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE INDEX IF NOT EXISTS idx_customer_risk ON customer (risk_score);
        """,
    ),
    Migration(
        2,
        "risk_history",
        """
        CREATE TABLE IF NOT EXISTS risk_history (
            id              BIGSERIAL PRIMARY KEY,
            customer_id     BIGINT NOT NULL REFERENCES customer (id) ON DELETE CASCADE,
            risk_score      DOUBLE PRECISION NOT NULL CHECK (risk_score BETWEEN 0 AND 1),
            model_version   TEXT NOT NULL,
            task_id         TEXT NOT NULL UNIQUE,
            prediction_time TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE INDEX IF NOT EXISTS idx_prediction_date ON risk_history (prediction_time);
        CREATE INDEX IF NOT EXISTS idx_risk_history_customer
            ON risk_history (customer_id, prediction_time DESC);
        """,
    ),
    Migration(
        3,
        "api_token",
        """
        CREATE TABLE IF NOT EXISTS api_token (
            id         BIGSERIAL PRIMARY KEY,
            name       TEXT NOT NULL UNIQUE,
            token_hash CHAR(64) NOT NULL UNIQUE,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        """,
    ),
    Migration(
        4,
        "churn_outcome",
        """
        CREATE TABLE IF NOT EXISTS churn_outcome (
            customer_id BIGINT PRIMARY KEY REFERENCES customer (id) ON DELETE CASCADE,
            churned     BOOLEAN NOT NULL,
            observed_at TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE INDEX IF NOT EXISTS idx_churn_outcome_observed ON churn_outcome (observed_at);
        """,
    ),
)


def apply_migrations(
    conn: psycopg.Connection, migrations: tuple[Migration, ...] = MIGRATIONS
) -> list[int]:
    """Apply pending migrations in one transaction; return the versions applied."""
    applied_now: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_KEY,))
        conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    INTEGER PRIMARY KEY,
                name       TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for migration in sorted(migrations, key=lambda m: m.version):
            if migration.version in done:
                continue
            log.info("applying migration %03d_%s", migration.version, migration.name)
            conn.execute(migration.sql)  # trusted, static SQL
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            applied_now.append(migration.version)
    return applied_now


def apply_indexes(conn: psycopg.Connection, sql: str) -> list[str]:
    """Run the environment's index file (CREATE INDEX IF NOT EXISTS ...) in one
    transaction after the migrations; return the names of the indexes it created."""
    query = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_KEY,))
        before = {row[0] for row in conn.execute(query)}
        if sql.strip():
            # The deployer's own generated file, mounted read-only into the container.
            conn.execute(sql.encode())
        after = {row[0] for row in conn.execute(query)}
    return sorted(after - before)
