"""overrides: a key of a generated file the model does not cover, set without forking.

Each artifact built from data (compose.yaml, stack.yaml, prometheus.yml,
alertmanager.yml, Grafana's provisioning and dashboards) takes a patch, applied to
the document before it is written and before `validate` checks it (infra_gen/
overrides.py; the rule is in docs/contract.md, "Overrides"). A patch is either

- a mapping: an RFC 7396 merge patch (mappings merge key by key, any other value,
  lists included, replaces; `null` deletes the key, and deleting a key that is not
  there is an error: it is a typo), or
- a list of RFC 6902 JSON Patch operations (add, remove, replace, move, copy, test),
  for what a merge cannot say: one list item, an item appended (`/-`).

The values reach YAML and JSON documents only, which are dumped from data: a patch
can change what a file says, never make it stop being one document.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, JsonValue, StringConstraints, Tag, model_validator

from .common import Doc, StrictModel, located

JsonPointer = Annotated[
    str,
    StringConstraints(max_length=500, pattern=r"^(/([^~/\x00-\x1f]|~[01])*)*$"),
    Doc("An RFC 6901 JSON Pointer such as /services/api/ulimits (~1 is /, ~0 is ~; "
        "- after a list is its end)."),
]


class PatchOperation(StrictModel):
    """One RFC 6902 operation."""

    op: Literal["add", "remove", "replace", "move", "copy", "test"]
    """What to do at path."""
    path: JsonPointer
    """Where, in the generated document."""
    value: JsonValue = None
    """The value to add, replace with or test for (add, replace, test)."""
    from_: JsonPointer | None = Field(default=None, alias="from")
    """Where the value comes from (move, copy)."""

    @model_validator(mode="after")
    @located
    def _operands(self) -> PatchOperation:
        if self.op in ("add", "replace", "test") and "value" not in self.model_fields_set:
            raise ValueError(f"value: required by op {self.op}")
        if self.op in ("move", "copy") and self.from_ is None:
            raise ValueError(f"from: required by op {self.op}")
        if self.op not in ("move", "copy") and self.from_ is not None:
            raise ValueError(f"from: only move and copy take it, not {self.op}")
        return self


MERGE, JSON_PATCH = "merge patch", "JSON patch"
PATCH_TAGS = (MERGE, JSON_PATCH)
"""Union tags pydantic puts in an error's location; the loader leaves them out."""


def _patch_kind(value: Any) -> str:
    return JSON_PATCH if isinstance(value, list) else MERGE


Patch = Annotated[
    Annotated[dict[str, JsonValue], Tag(MERGE)] | Annotated[list[PatchOperation], Tag(JSON_PATCH)],
    Discriminator(_patch_kind),
]


class GrafanaDashboardOverrides(StrictModel):
    system: Patch | None = None
    """Patch of grafana/dashboards/system.json."""
    application: Patch | None = None
    """Patch of grafana/dashboards/application.json."""
    ml: Patch | None = None
    """Patch of grafana/dashboards/ml.json."""


class GrafanaOverrides(StrictModel):
    datasource: Patch | None = None
    """Patch of grafana/provisioning/datasources/prometheus.yml."""
    dashboard_provider: Patch | None = None
    """Patch of grafana/provisioning/dashboards/provider.yml."""
    dashboards: GrafanaDashboardOverrides = GrafanaDashboardOverrides()
    """Patches of the dashboards, by name."""


class Overrides(StrictModel):
    compose: Patch | None = None
    """Patch of compose.yaml (checked like the rest by `validate`: hardening, schema,
    `docker compose config`)."""
    stack: Patch | None = None
    """Patch of stack.yaml (deploy.swarm only); compose's patch does not apply to it."""
    prometheus: Patch | None = None
    """Patch of prometheus/prometheus.yml (and prometheus.swarm.yml)."""
    alertmanager: Patch | None = None
    """Patch of alertmanager/alertmanager.yml."""
    grafana: GrafanaOverrides = GrafanaOverrides()
    """Patches of Grafana's provisioning files and dashboards."""
