"""Persistence: the store interfaces the services depend on, and PostgreSQL behind them."""

from churn.store.protocols import CustomerStore, ScoringStore, TokenStore

__all__ = ["CustomerStore", "ScoringStore", "TokenStore"]
