"""fluentd/fluent.conf: ship every container's Docker log to Elasticsearch.

Rendered only when logging.fluentd.enabled. Paths are the fluentd container's
mount targets in the topology (Docker's log directory and the buffer volume), so
the config and the compose file cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..topology import Container, Topology
from .base import ArtifactKind, Output

DOCKER_CONTAINERS_DIR = "/var/lib/docker/containers"
"""Host directory of Docker's json-file logs (<id>/<id>-json.log)."""
FORWARD_TAG_PREFIX = "forward"
TAG_PREFIX = "docker"
"""in_tail tags each record docker.<path with / as .>: docker.var.lib.docker.containers.<id>...."""


@dataclass(frozen=True)
class FluentdFacts:
    log_glob: str
    pos_file: str
    buffer_path: str
    tag: str
    match: str
    container_id_part: int
    """Index of the container id in the tag's dot-separated parts."""
    environment: str
    project: str
    es_host: str
    es_port: int
    index_prefix: str
    forward_port: int | None
    """Port of the forward input (logging.fluentd.forward), None without it."""
    forward_prefix: str
    """Tag prefix of forwarded records (they keep the sender's tag after it)."""

    @property
    def shipped(self) -> tuple[str, ...]:
        """The <match> patterns of the Elasticsearch output: container logs, and
        forwarded records when the forward input is on."""
        return (self.match, *((f"{self.forward_prefix}.**",) if self.forward_port else ()))


def _mount_target(c: Container, *, source: str | None = None, named: bool = False) -> str:
    for m in c.mounts:
        if (source is not None and m.source == source) or (named and m.named):
            return m.target
    raise ValueError(f"container {c.name} has no mount for {source or 'its buffer volume'}")


def facts(topo: Topology) -> FluentdFacts:
    env = topo.env
    c = topo.container("fluentd")
    logs = _mount_target(c, source=DOCKER_CONTAINERS_DIR)
    buffer = _mount_target(c, named=True)
    es = env.logging.fluentd.elasticsearch
    return FluentdFacts(
        log_glob=f"{logs}/*/*-json.log",
        pos_file=f"{buffer}/docker-containers.pos",
        buffer_path=f"{buffer}/elasticsearch",
        tag=f"{TAG_PREFIX}.*",
        match=f"{TAG_PREFIX}.**",
        container_id_part=1 + len(logs.strip("/").split("/")),
        environment=env.name,
        project=env.project,
        es_host=es.host,
        es_port=es.port,
        index_prefix=f"{env.project}-{env.name}",
        forward_port=c.port if env.logging.fluentd.forward else None,
        forward_prefix=FORWARD_TAG_PREFIX,
    )


def outputs(topo: Topology) -> list[Output]:
    if not topo.env.logging.fluentd.enabled:
        return []
    return [Output("fluentd/fluent.conf", "fluentd/fluent.conf.j2", {"f": facts(topo)})]


ARTIFACT = ArtifactKind(
    "fluentd", "fluentd config: container logs to Elasticsearch (when enabled)", outputs
)
