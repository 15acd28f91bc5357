"""The MLflow server (`ml_registry`): its container, the database PostgreSQL makes
for it, and what the ML service needs to find it (pure, no I/O)."""

from __future__ import annotations

from ..model import Environment, duration_seconds
from .facts import BACKEND_NET, PORTS, SECRETS_MOUNT, Container, Healthcheck, Link, Mount
from .observability import ImageRef, http_check, secret_env

MLFLOW = "mlflow"
"""Compose service, DNS name and kind of the MLflow server."""
MLFLOW_UID = "10003:10003"
"""The mlflow image's user (services/mlflow/Dockerfile)."""
ARTIFACTS_DIR = "/var/lib/mlflow/artifacts"
"""Where the server keeps run and model artifacts (a named volume); clients upload and
download them through the server (--serve-artifacts), so they mount nothing."""
ARTIFACTS_VOLUME = "mlflowartifacts"


def tracking_uri() -> str:
    return f"http://{MLFLOW}:{PORTS[MLFLOW]}"


def mlflow_server(env: Environment, image: ImageRef, db_hosts: str) -> Container | None:
    """The MLflow server, or None when the environment has no registry. Its database
    URI holds a password: the image's start script builds it from the secret file."""
    reg = env.ml_registry
    if not reg.enabled:
        return None
    port = PORTS[MLFLOW]
    return Container(
        name=MLFLOW, kind=MLFLOW, image=image(MLFLOW), user=MLFLOW_UID, port=port,
        resources=reg.resources, networks=(BACKEND_NET,),
        environment=(
            ("PORT", str(port)),
            ("DATABASE_HOST", db_hosts),
            ("DATABASE_PORT", str(PORTS["postgres"])),
            ("DATABASE_NAME", reg.database),
            ("DATABASE_USER", reg.user),
            secret_env("DATABASE_PASSWORD_FILE", reg.password_secret),
            ("ARTIFACTS_DIR", ARTIFACTS_DIR),
        ),
        secrets=(reg.password_secret,),
        mounts=(Mount(ARTIFACTS_VOLUME, ARTIFACTS_DIR, False, True),),
        depends_on=(("postgres", "service_healthy"),),
        # The first start creates the server's schema (about 30 s of migrations).
        healthcheck=Healthcheck(http_check(port, "/health").test, start_period="120s"),
        links=(Link("postgres", "tracking + registry"),),
    )


def postgres_env(env: Environment) -> tuple[tuple[str, str], ...]:
    """What the postgres image needs to create (and keep) the registry's role and
    database on the primary at every start (docs/contract.md)."""
    reg = env.ml_registry
    if not reg.enabled:
        return ()
    return (("EXTRA_DB_NAME", reg.database), ("EXTRA_DB_USER", reg.user),
            secret_env("EXTRA_DB_PASSWORD_FILE", reg.password_secret))


def ml_env(env: Environment) -> tuple[tuple[str, str], ...]:
    """How the ML service (and `retrain`) find the registry and the version to serve."""
    reg = env.ml_registry
    if not reg.enabled:
        return ()
    return (
        ("MLFLOW_TRACKING_URI", tracking_uri()),
        ("MODEL_REGISTRY_NAME", reg.model_name),
        ("MODEL_REGISTRY_ALIAS", reg.alias),
        ("MODEL_REGISTRY_POLL_SECONDS", f"{duration_seconds(reg.poll_interval):g}"),
    )


__all__ = ["ARTIFACTS_DIR", "MLFLOW", "SECRETS_MOUNT", "ml_env", "mlflow_server",
           "postgres_env", "tracking_uri"]
