"""Conversion of customer records to the model's numeric feature matrix."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from churn.domain import FEATURE_NAMES
from churn.ml.dataset import CONTRACT_CODES

CONTRACT_COLUMN = FEATURE_NAMES.index("contract_type")
TOTAL_CHARGES_COLUMN = FEATURE_NAMES.index("total_charges")


def to_matrix(records: Iterable[Mapping[str, Any]]) -> np.ndarray:
    """Rows in FEATURE_NAMES order; contract_type as its ordinal code.

    Expects validated records (see churn.schemas.CustomerFeatures).
    """
    rows = [
        [
            record["tenure_months"],
            record["monthly_charges"],
            record["total_charges"],
            CONTRACT_CODES[record["contract_type"]],
            record["support_calls"],
        ]
        for record in records
    ]
    return np.asarray(rows, dtype=float).reshape(-1, len(FEATURE_NAMES))


def encode(raw: np.ndarray) -> np.ndarray:
    """Model-side encoding: one-hot contract type, log total charges.

    A module-level function so the fitted pipeline (FunctionTransformer) pickles by
    reference. Keeping the raw matrix as the model input lets permutation importance
    and drift work per business feature rather than per encoded column.
    """
    contract = raw[:, CONTRACT_COLUMN].astype(int)
    one_hot = np.zeros((raw.shape[0], len(CONTRACT_CODES)))
    one_hot[np.arange(raw.shape[0]), contract] = 1.0
    numeric = np.delete(raw, CONTRACT_COLUMN, axis=1)
    numeric[:, TOTAL_CHARGES_COLUMN] = np.log1p(numeric[:, TOTAL_CHARGES_COLUMN])
    return np.hstack([numeric, one_hot])
