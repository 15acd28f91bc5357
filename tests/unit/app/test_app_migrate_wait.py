"""`churn migrate` waits for a database that does not accept connections yet (a swarm
deploy starts the migrations with the database), for a bounded time."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from churn import cli


class _Refusing:
    def __init__(self, refusals: int) -> None:
        self.refusals, self.calls = refusals, 0

    def __call__(self, conninfo: str, **kw: Any) -> str:
        self.calls += 1
        assert kw["connect_timeout"] == 5
        if self.calls <= self.refusals:
            raise psycopg.OperationalError("connection refused")
        return "connection"


def test_a_refused_database_is_tried_again_until_it_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    connect = _Refusing(refusals=3)
    monkeypatch.setattr(psycopg, "connect", connect)
    assert cli.connect_when_ready("host=db", wait=5, pause=0.01) == "connection"
    assert connect.calls == 4


def test_it_gives_up_after_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    connect = _Refusing(refusals=10**6)
    monkeypatch.setattr(psycopg, "connect", connect)
    with pytest.raises(psycopg.OperationalError):
        cli.connect_when_ready("host=db", wait=0.05, pause=0.01)
    assert 1 <= connect.calls < 20
