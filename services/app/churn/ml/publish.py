"""Training runs into the registry: `churn retrain [--promote]`, `churn promote VERSION`,
`churn registry-export --last N` (the model backups). Needs mlflow-skinny; imported
only by those commands."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from churn.ml.registry import (
    EXPERIMENT,
    MODEL_ARTIFACT_PATH,
    MlflowRegistry,
    RegistrySettings,
    _quiet_client_environment,
)
from churn.ml.train import TrainedModel, save


@dataclass(frozen=True)
class Registered:
    version: str
    run_id: str
    promoted: bool

    def as_dict(self, model: TrainedModel) -> dict[str, Any]:
        return {"version": self.version, "run_id": self.run_id, "promoted": self.promoted,
                "model_version": model.metadata["version"], **model.metadata["metrics"]}


def run_params(model: TrainedModel) -> dict[str, Any]:
    meta = model.metadata
    return {"algorithm": meta["algorithm"], "seed": meta["seed"],
            "rows_train": meta["rows"]["train"], "rows_held_out": meta["rows"]["held_out"],
            "model_version": meta["version"]}


def run_metrics(model: TrainedModel) -> dict[str, float]:
    """AUC, accuracy and one `importance_<feature>` per feature."""
    meta = model.metadata
    return {**{k: float(v) for k, v in meta["metrics"].items()},
            **{f"importance_{k}": float(v) for k, v in meta["feature_importances"].items()}}


def register(model: TrainedModel, settings: RegistrySettings, *, promote: bool) -> Registered:
    """Log a run (parameters, metrics, feature importances, the model directory),
    register its model as a new version and, with `promote`, point the alias at it."""
    _quiet_client_environment()
    import mlflow
    from mlflow.exceptions import MlflowException

    client = MlflowRegistry(settings.tracking_uri).client
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_experiment(EXPERIMENT)
    # MLflow prints the run's URL on stdout: stdout is the command's JSON result only.
    with tempfile.TemporaryDirectory(prefix="churn-train-") as tmp, \
            contextlib.redirect_stdout(sys.stderr):
        save(model, Path(tmp))
        with mlflow.start_run(run_name=model.metadata["version"]) as run:
            mlflow.log_params(run_params(model))
            mlflow.log_metrics(run_metrics(model))
            mlflow.log_dict(model.metadata["feature_importances"], "feature_importances.json")
            mlflow.log_artifacts(tmp, MODEL_ARTIFACT_PATH)
            source = f"{run.info.artifact_uri}/{MODEL_ARTIFACT_PATH}"
    try:
        client.create_registered_model(settings.model_name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    version = client.create_model_version(
        settings.model_name, source, run_id=run.info.run_id,
        tags={"model_version": model.metadata["version"],
              "auc": str(model.metadata["metrics"]["auc"])})
    if promote:
        client.set_registered_model_alias(settings.model_name, settings.alias, version.version)
    return Registered(str(version.version), run.info.run_id, promote)


def promote(settings: RegistrySettings, version: str) -> None:
    """Point the alias at an existing version (fails naming it when there is none)."""
    client = MlflowRegistry(settings.tracking_uri).client
    client.get_model_version(settings.model_name, version)
    client.set_registered_model_alias(settings.model_name, settings.alias, version)


def newest_versions(settings: RegistrySettings, last: int) -> list[Any]:
    client = MlflowRegistry(settings.tracking_uri).client
    found = client.search_model_versions(f"name = '{settings.model_name}'")
    return sorted(found, key=lambda v: int(v.version), reverse=True)[:last]


def export(settings: RegistrySettings, last: int, out: BinaryIO) -> list[str]:
    """A tar.gz on `out` of the newest `last` registered versions: versions/<n>/ holds
    version.json (number, run, aliases, tags, source) and the model directory."""
    registry = MlflowRegistry(settings.tracking_uri)
    versions = newest_versions(settings, last)
    with tempfile.TemporaryDirectory(prefix="churn-export-") as tmp, \
            tarfile.open(fileobj=out, mode="w|gz") as tar:
        for v in versions:
            model_dir = registry.download(settings.model_name, str(v.version),
                                          Path(tmp) / str(v.version))
            # A search does not return aliases: ask for the version itself.
            full = registry.client.get_model_version(settings.model_name, str(v.version))
            info = {"model_name": settings.model_name, "version": str(v.version),
                    "run_id": v.run_id, "aliases": sorted(getattr(full, "aliases", []) or []),
                    "tags": dict(v.tags or {}), "source": v.source,
                    "created_ms": v.creation_timestamp}
            data = (json.dumps(info, indent=2, sort_keys=True) + "\n").encode()
            entry = tarfile.TarInfo(f"versions/{v.version}/version.json")
            entry.size = len(data)
            tar.addfile(entry, io.BytesIO(data))
            tar.add(model_dir, arcname=f"versions/{v.version}/{MODEL_ARTIFACT_PATH}")
    return [str(v.version) for v in versions]
