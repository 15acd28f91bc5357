"""model.reserved is the one list of what the stack takes for itself: the topology
and the nginx artifact must use exactly those names, routes and ports."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from infra_gen.model import Role
from infra_gen.model.checks import located
from infra_gen.model.reserved import (
    ADMIN_ROUTES,
    DATASTORE_PORTS,
    INFRA_CONTAINERS,
    LB_EXACT_PATHS,
    LB_PREFIX_PATHS,
    RESERVED_SERVICE_NAMES,
    route_collision,
)
from infra_gen.model.roles import ROLE_SPECS
from infra_gen.project import Project
from infra_gen.render import render_topology
from infra_gen.topology import PORTS, plan

PROJECT = Project(Path(__file__).resolve().parents[2])


@pytest.fixture(scope="module")
def prod():  # type: ignore[no-untyped-def]
    return plan(PROJECT.load("prod"))  # grafana, fluentd and a replica: every container


def test_the_stack_names_its_containers_from_the_reserved_list(prod) -> None:  # type: ignore[no-untyped-def]
    own = {c.name for c in prod.containers if c.name not in prod.env.services}
    assert own == INFRA_CONTAINERS
    jobs = {j.job for j in prod.scrape_jobs if j.job not in prod.env.services}
    assert jobs <= RESERVED_SERVICE_NAMES


def test_admin_routes_and_ports_are_the_reserved_ones(prod) -> None:  # type: ignore[no-untyped-def]
    for kind, route in ADMIN_ROUTES.items():
        assert urlsplit(prod.urls[kind]).path == route
    assert {k: PORTS[k] for k in DATASTORE_PORTS} == DATASTORE_PORTS
    assert ROLE_SPECS[Role.api].health_path in LB_EXACT_PATHS
    conf = render_topology(prod, PROJECT.templates_dir)["nginx/nginx.conf"].content.decode()
    served = set(re.findall(r"location (?:= |\^~ )?(\S+) \{", conf))
    app_routes = {p.route for p in prod.upstreams}
    assert served - app_routes - {"/"} <= {*ADMIN_ROUTES.values(), *LB_EXACT_PATHS, *LB_PREFIX_PATHS}


@pytest.mark.parametrize(("route", "clash"), [
    ("/prometheus/", "prometheus admin route"),
    ("/alertmanager/api/", "alertmanager admin route"),
    ("/health/", "/health/"),
    ("/", None),
    ("/api/", None),
    ("/healthz/", None),
])
def test_route_collision(route: str, clash: str | None) -> None:
    found = route_collision(route)
    assert (found is None) if clash is None else (found is not None and clash in found)


def test_a_validator_that_crashes_gives_a_value_error() -> None:
    @located
    def check(value: str) -> str:
        return str(int(value) // 0)

    with pytest.raises(ValueError, match="invalid value \\(ZeroDivisionError"):
        check("1")
    with pytest.raises(ValueError, match="TypeError"):
        located(lambda v: v + 1)("x")


def test_every_model_validator_is_located() -> None:
    """A TypeError in a validator would escape pydantic as a traceback: each custom
    validator goes through model.checks.located."""
    from infra_gen.model import Environment

    models, seen = [Environment], set()
    while models:
        model = models.pop()
        if model in seen:
            continue
        seen.add(model)
        for dec in model.__pydantic_decorators__.model_validators.values():
            assert hasattr(dec.func, "__wrapped__"), f"{model.__name__}.{dec.cls_var_name}"
        for info in model.model_fields.values():
            models += [t for t in _models_in(info.annotation)]
    assert len(seen) > 20


def _models_in(annotation: object) -> list[type]:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]
