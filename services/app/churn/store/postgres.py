"""PostgreSQL implementation of the store protocols (psycopg 3)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from churn.domain import CHURN_THRESHOLD, Customer, Page, RiskRecord
from churn.errors import CustomerNotFoundError, DuplicateExternalIdError
from churn.store.pools import Database

_CUSTOMER_COLUMNS = (
    "id, external_id, name, email, tenure_months, monthly_charges, total_charges,"
    " contract_type, support_calls, risk_score, created_at, updated_at"
)
_RISK_COLUMNS = "customer_id, risk_score, model_version, task_id, prediction_time"

_PING_TIMEOUT_SECONDS = 2.0

# Columns a client may set; anything else never reaches SQL.
WRITABLE_COLUMNS = frozenset(
    {
        "external_id",
        "name",
        "email",
        "tenure_months",
        "monthly_charges",
        "total_charges",
        "contract_type",
        "support_calls",
    }
)


def _customer(row: dict[str, Any]) -> Customer:
    # NUMERIC arrives as Decimal; the JSON API speaks floats.
    return Customer(
        id=row["id"],
        external_id=row["external_id"],
        name=row["name"],
        email=row["email"],
        tenure_months=row["tenure_months"],
        monthly_charges=float(row["monthly_charges"]),
        total_charges=float(row["total_charges"]),
        contract_type=row["contract_type"],
        support_calls=row["support_calls"],
        risk_score=row["risk_score"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _risk(row: dict[str, Any]) -> RiskRecord:
    return RiskRecord(**row)


class PostgresStore:
    """CustomerStore, TokenStore and ScoringStore on one Database."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # -- reads (replica when configured, the primary when it is down) ----------------

    def list_customers(self, *, limit: int, offset: int) -> Page:
        def work(conn: psycopg.Connection) -> Page:
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(
                    f"SELECT {_CUSTOMER_COLUMNS} FROM customer ORDER BY id LIMIT %s OFFSET %s",
                    (limit, offset),
                )
                items = [_customer(row) for row in cur.fetchall()]
                cur.execute("SELECT count(*) AS n FROM customer")
                total = cur.fetchone()["n"]  # type: ignore[index]
            return Page(items=items, total=total)

        return self._db.read(work)

    def get_customer(self, customer_id: int) -> Customer | None:
        def work(conn: psycopg.Connection) -> Customer | None:
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(
                    f"SELECT {_CUSTOMER_COLUMNS} FROM customer WHERE id = %s", (customer_id,)
                )
                row = cur.fetchone()
            return _customer(row) if row else None

        return self._db.read(work)

    def top_risk(self, limit: int) -> list[Customer]:
        def work(conn: psycopg.Connection) -> list[Customer]:
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(
                    f"SELECT {_CUSTOMER_COLUMNS} FROM customer WHERE risk_score IS NOT NULL"
                    " ORDER BY risk_score DESC, id LIMIT %s",
                    (limit,),
                )
                return [_customer(row) for row in cur.fetchall()]

        return self._db.read(work)

    def risk_history(self, customer_id: int, limit: int) -> list[RiskRecord] | None:
        def work(conn: psycopg.Connection) -> list[RiskRecord] | None:
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute("SELECT 1 FROM customer WHERE id = %s", (customer_id,))
                if cur.fetchone() is None:
                    return None
                cur.execute(
                    f"SELECT {_RISK_COLUMNS} FROM risk_history WHERE customer_id = %s"
                    " ORDER BY prediction_time DESC, id DESC LIMIT %s",
                    (customer_id, limit),
                )
                return [_risk(row) for row in cur.fetchall()]

        return self._db.read(work)

    def risk_by_task(self, task_id: str) -> RiskRecord | None:
        # Primary: the worker has just written it, a replica may lag behind.
        with self._db.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(f"SELECT {_RISK_COLUMNS} FROM risk_history WHERE task_id = %s", (task_id,))
            row = cur.fetchone()
        return _risk(row) if row else None

    def ping(self) -> None:
        """The primary answers (bounded: /health/ready and scrapes must answer in time)."""
        with self._db.connection(timeout=_PING_TIMEOUT_SECONDS) as conn:
            conn.execute("SELECT 1")

    def ping_replica(self) -> None:
        """The replica answers (reads use the primary meanwhile when it does not)."""
        with self._db.connection(read_only=True, timeout=_PING_TIMEOUT_SECONDS) as conn:
            conn.execute("SELECT 1")

    # -- writes (always the primary, one transaction each) ---------------------------

    def create_customer(self, fields: dict[str, Any]) -> Customer:
        columns = [name for name in fields if name in WRITABLE_COLUMNS]
        query = sql.SQL("INSERT INTO customer ({}) VALUES ({}) RETURNING {}").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
            sql.SQL(_CUSTOMER_COLUMNS),
        )
        try:
            with self._db.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                cur.execute(query, [fields[name] for name in columns])
                row = cur.fetchone()
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateExternalIdError(str(fields.get("external_id"))) from exc
        assert row is not None
        return _customer(row)

    def update_customer(self, customer_id: int, changes: dict[str, Any]) -> Customer | None:
        columns = [name for name in changes if name in WRITABLE_COLUMNS]
        assignments: list[sql.Composable] = [
            sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder()) for c in columns
        ]
        assignments.append(sql.SQL("updated_at = now()"))
        query = sql.SQL("UPDATE customer SET {} WHERE id = {} RETURNING {}").format(
            sql.SQL(", ").join(assignments), sql.Placeholder(), sql.SQL(_CUSTOMER_COLUMNS)
        )
        try:
            with self._db.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                cur.execute(query, [*(changes[c] for c in columns), customer_id])
                row = cur.fetchone()
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateExternalIdError(str(changes.get("external_id"))) from exc
        return _customer(row) if row else None

    def delete_customer(self, customer_id: int) -> bool:
        with self._db.connection() as conn:
            cur = conn.execute("DELETE FROM customer WHERE id = %s", (customer_id,))
            return cur.rowcount == 1

    def record_score(
        self, customer_id: int, task_id: str, risk_score: float, model_version: str
    ) -> bool:
        try:
            with self._db.connection() as conn:
                inserted = conn.execute(
                    "INSERT INTO risk_history (customer_id, risk_score, model_version, task_id)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT (task_id) DO NOTHING RETURNING id",
                    (customer_id, risk_score, model_version, task_id),
                ).fetchone()
                if inserted is None:
                    return False  # a re-delivered task: the first delivery already wrote
                conn.execute(
                    "UPDATE customer SET risk_score = %s, updated_at = now() WHERE id = %s",
                    (risk_score, customer_id),
                )
                return True
        except psycopg.errors.ForeignKeyViolation as exc:
            raise CustomerNotFoundError(customer_id) from exc

    # -- labelled outcomes (live model accuracy) -------------------------------------

    def record_outcome(self, customer_id: int, churned: bool) -> bool:
        try:
            with self._db.connection() as conn:
                conn.execute(
                    "INSERT INTO churn_outcome (customer_id, churned) VALUES (%s, %s)"
                    " ON CONFLICT (customer_id) DO UPDATE"
                    " SET churned = EXCLUDED.churned, observed_at = now()",
                    (customer_id, churned),
                )
            return True
        except psycopg.errors.ForeignKeyViolation:
            return False

    def live_accuracy(self, days: int) -> tuple[int, float | None]:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT count(*), avg(((p.risk_score >= %s) = o.churned)::int)"
                " FROM churn_outcome o CROSS JOIN LATERAL ("
                "   SELECT risk_score FROM risk_history h"
                "   WHERE h.customer_id = o.customer_id AND h.prediction_time <= o.observed_at"
                "   ORDER BY h.prediction_time DESC LIMIT 1) p"
                " WHERE o.observed_at > now() - make_interval(days => %s)",
                (CHURN_THRESHOLD, days),
            ).fetchone()
        assert row is not None  # an aggregate always returns one row
        return int(row[0]), None if row[1] is None else float(row[1])

    # -- tokens ----------------------------------------------------------------------

    def token_name(self, token_hash: str) -> str | None:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT name FROM api_token WHERE token_hash = %s", (token_hash,)
            ).fetchone()
        return row[0] if row else None

    def add_token(self, name: str, token_hash: str) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "INSERT INTO api_token (name, token_hash) VALUES (%s, %s)", (name, token_hash)
            )
