"""Deterministic synthetic customer data set for the churn model.

Features (one row per customer):

- ``tenure_months``: months as a customer, 0-72. Drawn from an exponential-like
  spread (many new customers, a long tail of loyal ones), capped at 72.
- ``monthly_charges``: current monthly bill, 18-120, uniform.
- ``total_charges``: billed so far, ``tenure_months * monthly_charges`` times a
  noise factor around 1 (price changes over the customer's life).
- ``contract_type``: ``month-to-month`` (55 %), ``one-year`` (25 %),
  ``two-year`` (20 %); encoded ordinally as 0, 1, 2 (see CONTRACT_CODES).
- ``support_calls``: support calls in the last year, Poisson with mean 1.5.

Churn is drawn as Bernoulli(p) with p the logistic function of

    logit = 0.3
            - 0.06  * (tenure_months - 24)       short tenure -> churn
            + 0.025 * (monthly_charges - 65)     high bill -> churn
            + contract effect                    month-to-month +0.9,
                                                 one-year -0.6, two-year -1.6
            + 0.45  * (support_calls - 1.5)      many support calls -> churn

``total_charges`` carries no effect of its own (it is nearly tenure x charges);
the model has to cope with that collinearity. A fixed seed makes every draw
reproducible, so training and its held-out metrics are too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from churn.domain import CONTRACT_TYPES, FEATURE_NAMES

DEFAULT_SEED = 42
DEFAULT_SIZE = 20_000

# contract_type name -> ordinal code used in feature matrices.
CONTRACT_CODES: dict[str, int] = {name: code for code, name in enumerate(CONTRACT_TYPES)}
_CONTRACT_SHARES = (0.55, 0.25, 0.20)
_CONTRACT_EFFECT = np.array([0.9, -0.6, -1.6])


@dataclass(frozen=True)
class Dataset:
    features: np.ndarray  # shape (n, 5), columns in FEATURE_NAMES order
    churned: np.ndarray  # shape (n,), 0/1
    churn_probability: np.ndarray  # the true p each label was drawn from

    feature_names: tuple[str, ...] = FEATURE_NAMES


def churn_logit(features: np.ndarray) -> np.ndarray:
    """The documented ground-truth logit for rows in FEATURE_NAMES order."""
    tenure, monthly, _total, contract, calls = features.T
    logit: np.ndarray = (
        0.3
        - 0.06 * (tenure - 24)
        + 0.025 * (monthly - 65)
        + _CONTRACT_EFFECT[contract.astype(int)]
        + 0.45 * (calls - 1.5)
    )
    return logit


def generate(size: int = DEFAULT_SIZE, seed: int = DEFAULT_SEED) -> Dataset:
    rng = np.random.default_rng(seed)
    tenure = np.minimum(np.floor(rng.exponential(scale=24.0, size=size)), 72.0)
    monthly = np.round(rng.uniform(18.0, 120.0, size=size), 2)
    total = np.round(tenure * monthly * rng.normal(1.0, 0.05, size=size).clip(0.8, 1.2), 2)
    contract = rng.choice(len(CONTRACT_TYPES), size=size, p=_CONTRACT_SHARES).astype(float)
    calls = rng.poisson(1.5, size=size).astype(float)
    features = np.column_stack([tenure, monthly, total, contract, calls])
    probability = 1.0 / (1.0 + np.exp(-churn_logit(features)))
    churned = (rng.uniform(size=size) < probability).astype(int)
    return Dataset(features=features, churned=churned, churn_probability=probability)
