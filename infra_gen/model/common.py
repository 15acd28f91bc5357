"""Shared building blocks of the environment model: the constrained types.

Every value that reaches a generated file has one of these types, so that no value
can change the structure of the file it lands in (issue 8): each type has a
maximum length, a character set that cannot open a new line, command, directive
or block in any of the artifacts, and, where the consumer has its own grammar
(cron, CIDR, PostgreSQL identifiers), a check against that grammar. The pattern
of each type is also what the JSON Schema shows; validators add the checks a
pattern cannot express (ranges, dot segments, host bits).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from .checks import Doc as Doc
from .checks import located as located
from .checks import shown as shown
from .cron import CRON_MACROS as CRON_MACROS
from .cron import CronSchedule as CronSchedule


def _checked(check: Callable[[str], str]) -> AfterValidator:
    return AfterValidator(located(check))


# -- durations and sizes ------------------------------------------------------
Duration = Annotated[
    str,
    StringConstraints(max_length=10, pattern=r"^[0-9]{1,6}(ms|s|m|h|d)$"),
    Doc("A duration such as 30s, 5m, 1h or 7d (at most 6 digits)."),
]

_SIZE = re.compile(r"([0-9]{1,6})(\.[0-9]{1,3})?([KMG])")


def _positive_size(value: str) -> str:
    match = _SIZE.fullmatch(value)
    if match is None or float(match.group(1) + (match.group(2) or "")) <= 0:
        raise ValueError(f"expected a size above zero such as 512M, got {shown(value)}")
    # PostgreSQL and Redis take whole kB: 5.4M (5529.6 KiB) would only fail in the
    # renderer, as a traceback.
    kib = Decimal(match.group(1) + (match.group(2) or "")) * {"K": 1, "M": 1024, "G": 1024**2}[match.group(3)]
    if kib != kib.to_integral_value():
        raise ValueError(f"expected a whole number of KiB such as 512M or 1.5G, got {shown(value)}")
    return value


MemorySize = Annotated[
    str,
    StringConstraints(max_length=12, pattern=r"^[0-9]{1,6}(\.[0-9]{1,3})?[KMG]$"),
    _checked(_positive_size),
    Doc("A memory size above zero such as 512M or 4G."),
]

_DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(value: str) -> float:
    """Seconds in a Duration string ("30s" -> 30.0)."""
    match = re.fullmatch(r"([0-9]+)(ms|s|m|h|d)", value)
    if match is None:
        raise ValueError(f"not a duration: {value!r}")
    return int(match.group(1)) * _DURATION_SECONDS[match.group(2)]


# -- names ----------------------------------------------------------------------
Identifier = Annotated[
    str,
    StringConstraints(max_length=32, pattern=r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"),
    Doc("Lower-case letters, digits and dashes, starting with a letter "
        "(at most 32 characters)."),
]
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DnsName = Annotated[
    str,
    StringConstraints(max_length=253, pattern=rf"^{_LABEL}(\.{_LABEL})*$"),
    Doc("A host name (RFC 1123: dot-separated labels of letters, digits and "
        "dashes, each at most 63 characters; 253 in all) or an IPv4 address."),
]


def _host(value: str) -> str:
    # All-numeric labels read as an IPv4 address: then it must be one.
    if re.fullmatch(r"[0-9.]+", value):
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            raise ValueError(f"expected a host name or an IPv4 address, got {shown(value)}") from None
    return value


Hostname = Annotated[DnsName, _checked(_host)]
DomainName = Annotated[
    str,
    StringConstraints(max_length=253,
                      pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"),
    Doc("A fully qualified lower-case domain name such as churn.example.com."),
]
SshAlias = Annotated[
    str,
    StringConstraints(max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"),
    Doc("An SSH host alias: letters, digits, - and _ (no wildcard, no space)."),
]
SecretName = Annotated[
    str,
    StringConstraints(max_length=64, pattern=r"^[a-z][a-z0-9_]{0,63}$"),
    Doc("Name of a secret file under the environment's secrets_dir."),
]
EnvVarName = Annotated[
    str,
    StringConstraints(max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"),
    Doc("An environment variable name: letters, digits and _, not starting "
        "with a digit."),
]


def _env_value(value: str) -> str:
    # '$' is allowed: values are literal, and the compose artifact writes it as '$$'
    # so compose never interpolates it.
    if any(not c.isprintable() for c in value):
        raise ValueError(f"control characters are not allowed, got {shown(value)}")
    return value


EnvVarValue = Annotated[
    str,
    StringConstraints(max_length=4096, pattern=r"^[^\x00-\x1f\x7f]*$"),
    _checked(_env_value),
    Doc("An environment variable value: printable text, taken literally ('$' is "
        "never interpolated; at most 4096 characters)."),
]

# PostgreSQL reserves pg_* role names; postgres is the superuser and replicator the
# replication role the topology creates: the application must not take them.
_PG_RESERVED_ROLES = ("postgres", "replicator", "public", "none", "current_user",
                      "session_user", "current_role")


def _pg_identifier(value: str) -> str:
    if value.startswith("pg_"):
        raise ValueError(f"names starting with pg_ are reserved by PostgreSQL, got {shown(value)}")
    return value


PgIdentifier = Annotated[
    str,
    StringConstraints(max_length=63, pattern=r"^[a-z_][a-z0-9_]{0,62}$"),
    _checked(_pg_identifier),
    Doc("A PostgreSQL identifier: lower-case letters, digits and _, not "
        "starting with a digit or pg_ (at most 63 characters)."),
]


def _pg_role(value: str) -> str:
    if value in _PG_RESERVED_ROLES:
        raise ValueError(f"{value!r} is a reserved role name")
    return value


PgRole = Annotated[PgIdentifier, _checked(_pg_role)]
PosixUser = Annotated[
    str,
    StringConstraints(max_length=32, pattern=r"^[a-z_][a-z0-9_-]{0,31}$"),
    Doc("A POSIX user name: lower-case letters, digits, _ and -, not starting "
        "with a digit or - (at most 32 characters)."),
]
Email = Annotated[
    str,
    StringConstraints(
        max_length=254,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
                r"[A-Za-z]{2,63}$",
    ),
    Doc("An e-mail address: local part of letters, digits and ._%+-, "
        "then a domain name."),
]


EXTENDS_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$"
"""What `extends` may name: a file of the same environments/ directory, never a path."""


# -- paths and routes -------------------------------------------------------------
_SEGMENT = r"[A-Za-z0-9._-]{1,128}"


def _no_dot_segments(value: str) -> str:
    if any(part in (".", "..") for part in value.split("/")):
        raise ValueError(f"'.' and '..' segments are not allowed, got {shown(value)}")
    return value


SafePath = Annotated[
    str,
    StringConstraints(max_length=255, pattern=rf"^(/{_SEGMENT})+$"),
    _checked(_no_dot_segments),
    Doc("An absolute, normalized path: /segment/... of letters, digits, ., _ "
        "and - (no '..', no '//', no trailing '/'; at most 255 characters)."),
]
IdentityFile = Annotated[
    str,
    StringConstraints(max_length=255, pattern=rf"^(~|)(/{_SEGMENT})+$"),
    _checked(_no_dot_segments),
    Doc("A private key path: absolute, or under the home directory (~/...), "
        "same characters as a safe path."),
]


def _secrets_dir(value: str) -> str:
    if "{" in value.replace("{env}", "") or "}" in value.replace("{env}", ""):
        raise ValueError(f"the only placeholder is {{env}}, got {shown(value)}")
    parts = value.split("/")
    if value.startswith("-"):
        raise ValueError(f"must not start with '-' (it would read as an option), got {shown(value)}")
    if value.startswith("/"):
        if ".." in parts:
            raise ValueError(f"'..' is not allowed in an absolute path, got {shown(value)}")
    else:
        # A relative path may climb out of generated/<env>/ first, then only descend.
        while parts and parts[0] == "..":
            parts = parts[1:]
        if ".." in parts:
            raise ValueError(f"'..' only at the start of a relative path, got {shown(value)}")
    if "." in value.split("/"):
        raise ValueError(f"'.' segments are not allowed, got {shown(value)}")
    return value


SecretsDir = Annotated[
    str,
    StringConstraints(max_length=255,
                      pattern=r"^/?([A-Za-z0-9._-]|\{env\})+(/([A-Za-z0-9._-]|\{env\})+)*$"),
    _checked(_secrets_dir),
    Doc("A directory, absolute or relative to generated/<env>/: segments of "
        "letters, digits, ., _ and -, '..' only at the start of a relative path, "
        "and the placeholder {env}."),
]
Route = Annotated[
    str,
    StringConstraints(max_length=200, pattern=r"^/([A-Za-z0-9_~-][A-Za-z0-9._~-]{0,63}/)*$"),
    Doc("A URL path prefix that starts and ends with '/': segments of "
        "letters, digits and ._~- (not starting with '.')."),
]
HttpsUrl = Annotated[
    str,
    StringConstraints(max_length=255,
                      pattern=rf"^https://{_LABEL}(\.{_LABEL})*(:[0-9]{{1,5}})?"
                              r"(/[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,63})*/?$"),
    Doc("An https URL without query or credentials: https://host[:port]/path, the "
        "path of segments of letters, digits and ._~- (not starting with '.')."),
]
UrlPath = Annotated[
    str,
    StringConstraints(max_length=200,
                      pattern=r"^(/[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,63})+/?$"),
    Doc("An absolute URL path such as /metrics: segments of letters, digits "
        "and ._~- (not starting with '.')."),
]


# -- networks -----------------------------------------------------------------------
WORLD_PREFIX = {4: 8, 6: 7}
"""A network with a shorter prefix than this (per IP version) is effectively the
whole Internet: more than a /8 of IPv4 or the ULA block fc00::/7 of IPv6."""


def _network(value: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"expected a network such as 10.0.0.0/8 ({exc}), got {shown(value)}") from None
    if "/" not in value:
        raise ValueError(f"expected a network with its prefix length, e.g. {net}, got {shown(value)}")
    return str(net)


def is_world(cidr: str) -> bool:
    """True for a network that is effectively everyone (0.0.0.0/0, ::/0, 1.0.0.0/4...)."""
    net = ipaddress.ip_network(cidr, strict=False)
    return net.prefixlen < WORLD_PREFIX[net.version]


Cidr = Annotated[
    str,
    StringConstraints(max_length=43, pattern=r"^[0-9A-Fa-f:.]+/[0-9]{1,3}$"),
    _checked(_network),
    Doc("An IPv4 or IPv6 network with its prefix length, without host bits, "
        "such as 10.0.0.0/8."),
]


def _address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"expected an IP address such as 127.0.0.1, got {shown(value)}") from None


IpAddress = Annotated[
    str,
    StringConstraints(max_length=39, pattern=r"^[0-9A-Fa-f:.]+$"),
    _checked(_address),
    Doc("An IPv4 or IPv6 address."),
]
Port = Annotated[int, Field(ge=1, le=65535)]


def _host_port(value: str) -> str:
    port = int(value.rsplit(":", 1)[1])
    if not 1 <= port <= 65535:
        raise ValueError(f"expected a port 1-65535 after ':', got {shown(value)}")
    return value


HostPort = Annotated[
    str,
    StringConstraints(max_length=259, pattern=rf"^{_LABEL}(\.{_LABEL})*:[0-9]{{1,5}}$"),
    _checked(_host_port),
    Doc("host:port, e.g. smtp.example.com:587."),
]


# -- images -------------------------------------------------------------------------
_IMAGE_NAME = r"([a-z0-9.-]+(:[0-9]{1,5})?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*"


def _pinned(value: str) -> str:
    name = value.split("@", 1)[0]
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
    if "@" not in value and tag in ("", "latest"):
        raise ValueError(f"must be pinned to a tag (not latest) or a digest, got {shown(value)}")
    return value


ImageRef = Annotated[
    str,
    StringConstraints(
        max_length=255,
        pattern=rf"^{_IMAGE_NAME}(:[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?(@sha256:[a-f0-9]{{64}})?$",
    ),
    _checked(_pinned),
    Doc("An image reference pinned to a tag (not latest) or a sha256 digest."),
]
ImageRegistry = Annotated[
    str,
    StringConstraints(max_length=200, pattern=rf"^{_IMAGE_NAME}$"),
    Doc("Image name prefix: [registry-host[:port]/]path, lower case."),
]
ImageTag = Annotated[
    str,
    StringConstraints(max_length=128, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"),
    Doc("An image tag: letters, digits, _, . and - (a release, never latest)."),
]


# -- enums --------------------------------------------------------------------------
class RedisPolicy(StrEnum):
    """Redis maxmemory-policy values."""

    noeviction = "noeviction"
    allkeys_lru = "allkeys-lru"
    allkeys_lfu = "allkeys-lfu"
    allkeys_random = "allkeys-random"
    volatile_lru = "volatile-lru"
    volatile_lfu = "volatile-lfu"
    volatile_random = "volatile-random"
    volatile_ttl = "volatile-ttl"


# -- models -------------------------------------------------------------------------
class StrictModel(BaseModel):
    """Every model forbids unknown keys, infinities and NaN, and documents its fields
    from docstrings."""

    # Field docstrings become descriptions only for the JSON Schema (model/schema.py
    # reads them then): pydantic's use_attribute_docstrings parses every class's source
    # at import, about a tenth of the import time of every command.
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_default=True,
        allow_inf_nan=False,
    )


class Justification(StrictModel):
    """An explicit, named opt-in to something the model refuses by default."""

    reason: Annotated[str, StringConstraints(min_length=10, max_length=200,
                                             pattern=r"^[^\x00-\x1f\x7f]*$")]
    """Why this environment needs it (at least 10 characters), for the reviewer."""


class ResourceAmounts(StrictModel):
    cpus: float = Field(gt=0, le=256)
    """CPU cores (fractions allowed)."""
    memory: MemorySize
    """Memory, e.g. 512M or 4G."""


class Resources(StrictModel):
    limits: ResourceAmounts = ResourceAmounts(cpus=0.5, memory="256M")
    """Hard ceiling: the container is throttled (CPU) or killed (memory) above it."""
    reservations: ResourceAmounts | None = None
    """What the scheduler guarantees (swarm) and compose reserves."""
    pids: int = Field(default=256, ge=16, le=1_000_000)
    """Maximum number of processes/threads in the container."""
