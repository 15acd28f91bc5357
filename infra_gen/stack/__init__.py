"""The running stack of one environment: up / down / status / logs / verify.

compose.py drives `docker compose` for a topology, docker.py finds (or installs and
starts) the Docker engine, secrets.py creates the local secrets and certificate.
"""

from .compose import (
    DEFAULT_WAIT_TIMEOUT,
    ServiceState,
    Stack,
    build_images,
    down,
    existing_volumes,
    logs,
    migrate,
    render,
    up,
    verify,
)
from .docker import Say, docker_binary, ensure_docker, image_exists
from .secrets import ensure_secrets, read_token, secrets_dir, write_token

__all__ = [
    "DEFAULT_WAIT_TIMEOUT",
    "Say",
    "ServiceState",
    "Stack",
    "build_images",
    "docker_binary",
    "down",
    "ensure_docker",
    "ensure_secrets",
    "existing_volumes",
    "image_exists",
    "logs",
    "migrate",
    "read_token",
    "render",
    "secrets_dir",
    "up",
    "verify",
    "write_token",
]
