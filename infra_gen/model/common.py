"""Shared building blocks of the environment model."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Duration = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]+(ms|s|m|h|d)$"),
    Field(description="A duration such as 30s, 5m, 1h or 7d."),
]
MemorySize = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]+(\.[0-9]+)?[KMG]$"),
    Field(description="A memory size such as 512M or 4G."),
]
Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"),
    Field(description="Lower-case letters, digits and dashes, starting with a letter."),
]
Port = Annotated[int, Field(ge=1, le=65535)]
Hostname = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$"),
]
Cidr = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$"),
    Field(description="An IPv4 network such as 10.0.0.0/8."),
]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
SecretName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]*$"),
    Field(description="Name of a secret file under the environment's secrets_dir."),
]

_DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(value: str) -> float:
    """Seconds in a Duration string ("30s" -> 30.0)."""
    match = re.fullmatch(r"([0-9]+)(ms|s|m|h|d)", value)
    if match is None:
        raise ValueError(f"not a duration: {value!r}")
    return int(match.group(1)) * _DURATION_SECONDS[match.group(2)]


class StrictModel(BaseModel):
    """Every model forbids unknown keys and documents its fields from docstrings."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        validate_default=True,
    )


class ResourceAmounts(StrictModel):
    cpus: float = Field(gt=0)
    """CPU cores (fractions allowed)."""
    memory: MemorySize
    """Memory, e.g. 512M or 4G."""


class Resources(StrictModel):
    limits: ResourceAmounts = ResourceAmounts(cpus=0.5, memory="256M")
    """Hard ceiling: the container is throttled (CPU) or killed (memory) above it."""
    reservations: ResourceAmounts | None = None
    """What the scheduler guarantees (swarm) and compose reserves."""
    pids: int = Field(default=256, ge=16)
    """Maximum number of processes/threads in the container."""
