"""The model registry: an MLflow tracking server the ML service loads its model from."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from .common import (
    Doc,
    Duration,
    PgIdentifier,
    PgRole,
    Resources,
    SecretName,
    StrictModel,
    duration_seconds,
    located,
    shown,
)

RegisteredModelName = Annotated[
    str,
    StringConstraints(max_length=64, pattern=r"^[a-z][a-z0-9_-]{0,63}$"),
    Doc("A registered model name: lower-case letters, digits, _ and -, starting with "
        "a letter."),
]
def _not_a_version(value: str) -> str:
    # MLflow refuses aliases that look like versions (v1) and "latest".
    if value == "latest" or re.fullmatch(r"v[0-9]+", value):
        raise ValueError(f"{shown(value)} is reserved by MLflow (latest, v<number>)")
    return value


ModelAlias = Annotated[
    str,
    StringConstraints(max_length=64, pattern=r"^[a-z][a-z0-9_-]{0,63}$"),
    AfterValidator(located(_not_a_version)),
    Doc("A model version alias such as champion: lower-case letters, digits, _ and -, "
        "starting with a letter; not latest, not v<number>."),
]


class ModelRegistry(StrictModel):
    """An MLflow server (tracking and model registry) in the stack: training logs a
    run and registers a version; the ML service serves the version `alias` marks."""

    enabled: bool = False
    """Run the MLflow server (the mlflow image) with PostgreSQL as its backend store
    and a volume as its artifact store, served through the server."""
    model_name: RegisteredModelName = "churn"
    """The registered model training registers versions of."""
    alias: ModelAlias = "champion"
    """The alias of the version the ML service serves (`retrain --promote` moves it)."""
    poll_interval: Duration = "30s"
    """How often the ML service asks the registry which version the alias marks, and
    loads a new one without a restart."""
    # Not "mlflow": that is the service's name, a key of compose.yaml and stack.yaml.
    database: PgIdentifier = "mlflow_store"
    """The server's own database on the stack's PostgreSQL (backend store)."""
    user: PgRole = "mlflow_server"
    """Owner of that database; the server logs in as it."""
    password_secret: SecretName = "mlflow_db_password"
    """Secret holding that role's password (the server builds its database URI from
    it when it starts; it is never in a generated file)."""
    backup_versions: int = Field(default=5, ge=1, le=1000)
    """How many of the newest registered versions each model backup archives."""
    resources: Resources = Resources(limits={"cpus": 0.5, "memory": "768M"})  # type: ignore[arg-type]
    """CPU, memory and PID limits of the MLflow server (about 375 MiB idle: the server
    process and one uvicorn worker)."""

    @model_validator(mode="after")
    @located
    def _polls_sensibly(self) -> ModelRegistry:
        if duration_seconds(self.poll_interval) < 1:
            raise ValueError(f"poll_interval: {self.poll_interval} is shorter than 1s (every "
                             "ML worker would ask the registry many times a second)")
        return self
