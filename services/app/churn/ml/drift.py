"""Data drift: population stability index (PSI) of recent inputs vs. training data.

PSI = sum over bins of (actual - expected) * ln(actual / expected), with bin
proportions of the training data (expected) and of a bounded window of recent
inputs (actual). Rule of thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25 drifted.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import numpy as np

from churn.domain import FEATURE_NAMES
from churn.ml.features import CONTRACT_COLUMN

# Empty bins would make the logarithm infinite; floor proportions at this value.
_MIN_PROPORTION = 1e-4
_QUANTILES = np.linspace(0.0, 1.0, 11)[1:-1]  # deciles -> up to 10 bins

MIN_DRIFT_ROWS = 500
"""No PSI is computed (or exported, so DataDrift cannot fire) before a window holds
this many inputs. Sampling noise alone gives a PSI of about (bins - 1) / rows: 0.18
for 50 rows over 10 bins, next to the 0.2 alert threshold; 0.018 for 500 rows. A
fresh stack scoring the same few seeded customers would otherwise "drift"."""


def population_stability_index(expected: np.ndarray, actual: np.ndarray) -> float:
    expected = np.clip(np.asarray(expected, dtype=float), _MIN_PROPORTION, None)
    actual = np.clip(np.asarray(actual, dtype=float), _MIN_PROPORTION, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def bin_proportions(values: np.ndarray, distribution: dict[str, Any]) -> np.ndarray:
    """Proportions of `values` in the bins of a training distribution."""
    if distribution["kind"] == "categorical":
        codes = np.asarray(values, dtype=int)
        counts = np.bincount(codes, minlength=len(distribution["categories"]))
    else:
        # Inner edges only: bin i is (edges[i-1], edges[i]]; ends are open.
        bins = np.searchsorted(np.asarray(distribution["edges"]), values, side="left")
        counts = np.bincount(bins, minlength=len(distribution["edges"]) + 1)
    return counts / max(len(values), 1)


def training_distributions(raw: np.ndarray) -> dict[str, dict[str, Any]]:
    """Bin edges and proportions per feature, stored in the model metadata."""
    distributions: dict[str, dict[str, Any]] = {}
    for column, name in enumerate(FEATURE_NAMES):
        values = raw[:, column]
        if column == CONTRACT_COLUMN:
            distribution: dict[str, Any] = {
                "kind": "categorical",
                "categories": ["month-to-month", "one-year", "two-year"],
            }
        else:
            edges = np.unique(np.quantile(values, _QUANTILES))
            distribution = {"kind": "numeric", "edges": [round(float(e), 6) for e in edges]}
        distribution["proportions"] = [
            round(float(p), 6) for p in bin_proportions(values, distribution)
        ]
        distributions[name] = distribution
    return distributions


class DriftMonitor:
    """Keeps the last `window` inputs and computes PSI per feature on demand."""

    def __init__(
        self,
        distributions: dict[str, dict[str, Any]],
        window: int = 2000,
        min_rows: int = MIN_DRIFT_ROWS,
    ) -> None:
        self._distributions = distributions
        self._rows: deque[np.ndarray] = deque(maxlen=window)
        self._min_rows = min_rows
        self._lock = threading.Lock()

    def observe(self, raw: np.ndarray) -> None:
        with self._lock:
            self._rows.extend(raw)

    def __len__(self) -> int:
        return len(self._rows)

    def psi(self) -> dict[str, float]:
        """PSI per feature; empty until the window holds enough rows to mean anything."""
        with self._lock:
            if len(self._rows) < self._min_rows:
                return {}
            recent = np.vstack(self._rows)
        result = {}
        for column, name in enumerate(FEATURE_NAMES):
            distribution = self._distributions[name]
            actual = bin_proportions(recent[:, column], distribution)
            result[name] = population_stability_index(distribution["proportions"], actual)
        return result
