"""Training of the churn model and its metadata.

Logistic regression on standardised, encoded features: the ground truth is
logistic (see churn.ml.dataset), so it is as accurate as boosting here while a
single prediction costs well under a millisecond.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import churn
from churn.domain import CHURN_THRESHOLD, FEATURE_NAMES
from churn.ml import dataset
from churn.ml.drift import training_distributions
from churn.ml.features import encode

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
# Training date when SOURCE_DATE_EPOCH is not set: fixed, so rebuilds are identical.
_DEFAULT_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z


@dataclass(frozen=True)
class TrainedModel:
    pipeline: Pipeline
    metadata: dict[str, Any]


def build_pipeline(seed: int) -> Pipeline:
    return Pipeline(
        [
            ("encode", FunctionTransformer(encode)),
            ("scale", StandardScaler()),
            ("classify", LogisticRegression(C=1.0, max_iter=1000, random_state=seed)),
        ]
    )


def _training_date() -> str:
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or _DEFAULT_EPOCH)
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat()


def train(seed: int = dataset.DEFAULT_SEED, size: int = dataset.DEFAULT_SIZE) -> TrainedModel:
    data = dataset.generate(size=size, seed=seed)
    x_train, x_test, y_train, y_test = train_test_split(
        data.features, data.churned, test_size=0.25, random_state=seed, stratify=data.churned
    )
    pipeline = build_pipeline(seed).fit(x_train, y_train)
    probability = pipeline.predict_proba(x_test)[:, 1]
    importance = permutation_importance(
        pipeline, x_test, y_test, scoring="roc_auc", n_repeats=5, random_state=seed
    )
    # Share of the total AUC drop, so the values sum to 1 and compare across models.
    drops = np.clip(importance.importances_mean, 0.0, None)
    shares = drops / drops.sum() if drops.sum() > 0 else drops
    metadata = {
        "version": f"{churn.__version__}+logreg.seed{seed}",
        "trained_at": _training_date(),
        "algorithm": "logistic-regression",
        "seed": seed,
        "rows": {"train": len(y_train), "held_out": len(y_test)},
        "metrics": {
            "auc": round(float(roc_auc_score(y_test, probability)), 6),
            "accuracy": round(float(accuracy_score(y_test, probability >= CHURN_THRESHOLD)), 6),
        },
        "feature_names": list(FEATURE_NAMES),
        "feature_importances": {
            name: round(float(share), 6) for name, share in zip(FEATURE_NAMES, shares, strict=True)
        },
        "feature_distributions": training_distributions(x_train),
    }
    return TrainedModel(pipeline=pipeline, metadata=metadata)


def save(model: TrainedModel, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model.pipeline, out_dir / MODEL_FILE)
    (out_dir / METADATA_FILE).write_text(
        json.dumps(model.metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
