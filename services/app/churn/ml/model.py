"""The trained model as the service uses it: load once, score many."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.pipeline import Pipeline

from churn.errors import ConfigError
from churn.ml.train import METADATA_FILE, MODEL_FILE, TrainedModel


@dataclass(frozen=True)
class ChurnModel:
    pipeline: Pipeline
    metadata: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    @classmethod
    def load(cls, model_dir: str | Path) -> ChurnModel:
        directory = Path(model_dir)
        try:
            pipeline = joblib.load(directory / MODEL_FILE)
            metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(
                f"MODEL_DIR={directory}: no trained model there ({exc.strerror});"
                " run `churn train --out DIR`"
            ) from exc
        return cls(pipeline=pipeline, metadata=metadata)

    @classmethod
    def from_trained(cls, trained: TrainedModel) -> ChurnModel:
        return cls(pipeline=trained.pipeline, metadata=trained.metadata)

    def churn_probability(self, raw: np.ndarray) -> np.ndarray:
        """P(churn) for rows in FEATURE_NAMES order (see churn.ml.features.to_matrix)."""
        probabilities: np.ndarray = self.pipeline.predict_proba(raw)[:, 1]
        return probabilities
