"""The API's OpenAPI document (GET /api/openapi.json): every route of the Flask app is
in it and nothing else, the security and bodies are those the code has, its schemas
are the pydantic models', and real responses validate against it."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from churn import schemas
from churn.api import create_app, responses
from churn.api.openapi import OPERATIONS, TEST_ONLY, build_document
from churn.api.services import ApiServices
from churn.config import Config
from churn_fakes import InMemoryStore
from conftest import AUTH, VALID_CUSTOMER

_IGNORED = {"HEAD", "OPTIONS"}


@pytest.fixture
def document(api: Any) -> dict[str, Any]:
    response = api.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    doc: dict[str, Any] = response.json
    return doc


def _flask_routes(app: Any) -> set[tuple[str, str]]:
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint in TEST_ONLY:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        out |= {(path, m.lower()) for m in rule.methods - _IGNORED}
    return out


def _operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(path, method): op for path, item in doc["paths"].items()
            for method, op in item.items()}


def test_every_route_is_documented_and_nothing_else(config: Config,
                                                    api_services: ApiServices,
                                                    document: dict[str, Any]) -> None:
    app = create_app(config, services=api_services)
    assert set(_operations(document)) == _flask_routes(app)
    assert document["openapi"] == "3.1.0"
    # Every entry of the table is a real endpoint: none is left over from a removed route.
    assert set(OPERATIONS) == {r.endpoint for r in app.url_map.iter_rules()} - {"static"}
    ids = [op["operationId"] for op in _operations(document).values()]
    assert len(ids) == len(set(ids))


def test_the_test_only_route_is_never_documented(config: Config,
                                                 api_services: ApiServices) -> None:
    app = create_app(Config(secret_key="k", test_error_route=True), services=api_services)
    with app.app_context():
        doc = build_document(app)
    assert "/api/_test/error" not in doc["paths"]
    assert any(r.rule == "/api/_test/error" for r in app.url_map.iter_rules())


def test_a_route_missing_from_the_table_fails_the_build(config: Config,
                                                        api_services: ApiServices) -> None:
    app = create_app(config, services=api_services)
    app.add_url_rule("/api/new", "new_thing", lambda: "")
    with app.app_context(), pytest.raises(KeyError, match="/api/new"):
        build_document(app)


def test_schemas_are_the_pydantic_models(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]
    for model in (schemas.CustomerCreate, schemas.CustomerPatch, schemas.PredictionRequest,
                  schemas.OutcomeRecord):
        expected = model.model_json_schema(ref_template="#/components/schemas/{model}")
        expected.pop("$defs", None)
        assert components[model.__name__] == expected, model.__name__
    for model in (responses.Customer, responses.ErrorBody, responses.PredictionState):
        expected = model.model_json_schema(mode="serialization",
                                           ref_template="#/components/schemas/{model}")
        expected.pop("$defs", None)
        assert components[model.__name__] == expected, model.__name__
    create = _operations(document)[("/api/customers", "post")]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CustomerCreate"}


def test_security_is_what_the_routes_enforce(api: Any, document: dict[str, Any]) -> None:
    for (path, method), op in _operations(document).items():
        concrete = path.replace("{customer_id}", "1").replace(
            "{task_id}", "00000000-0000-0000-0000-000000000000")
        answer = api.open(concrete, method=method.upper(), json={})
        needs_token = answer.status_code == 401
        assert ("security" in op) == needs_token, (method, path, answer.status_code)
        if needs_token:
            assert "401" in op["responses"]


def _validate(document: dict[str, Any], path: str, method: str, status: int,
              body: Any) -> None:
    op = _operations(document)[(path, method)]
    entry = op["responses"][str(status)]
    schema = entry["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator({**schema, "components": document["components"]}).validate(body)


def test_real_responses_match_the_document(api: Any, store: InMemoryStore,
                                           document: dict[str, Any]) -> None:
    created = api.post("/api/customers", json=VALID_CUSTOMER, headers=AUTH)
    _validate(document, "/api/customers", "post", 201, created.json)
    cid = created.json["id"]
    item = "/api/customers/{customer_id}"
    _validate(document, item, "get", 200, api.get(f"/api/customers/{cid}").json)
    _validate(document, item, "patch", 200,
              api.patch(f"/api/customers/{cid}", json={"name": "B"}, headers=AUTH).json)
    _validate(document, "/api/customers", "get", 200, api.get("/api/customers").json)
    _validate(document, "/api/customers/top-risk", "get", 200,
              api.get("/api/customers/top-risk").json)
    _validate(document, "/api/customers/{customer_id}/risk-history", "get", 200,
              api.get(f"/api/customers/{cid}/risk-history").json)
    _validate(document, "/api/customers/{customer_id}/outcome", "put", 200,
              api.put(f"/api/customers/{cid}/outcome", json={"churned": True}, headers=AUTH).json)
    accepted = api.post("/api/predictions", json={"customer_id": cid}, headers=AUTH)
    _validate(document, "/api/predictions", "post", 202, accepted.json)
    _validate(document, "/api/predictions/{task_id}", "get", 200,
              api.get(f"/api/predictions/{accepted.json['id']}").json)
    store.record_score(cid, accepted.json["id"], 0.4, "m1")
    _validate(document, "/api/predictions/{task_id}", "get", 200,
              api.get(f"/api/predictions/{accepted.json['id']}").json)
    _validate(document, "/health/", "get", 200, api.get("/health/").json)
    _validate(document, "/health/ready", "get", 200, api.get("/health/ready").json)
    # Errors: the shared error body.
    bad = api.post("/api/customers", json={**VALID_CUSTOMER, "tenure_months": -1}, headers=AUTH)
    _validate(document, "/api/customers", "post", 422, bad.json)
    _validate(document, item, "get", 404, api.get("/api/customers/999999").json)
    _validate(document, "/api/customers", "post", 401, api.post("/api/customers", json={}).json)


def test_generated_requests_never_get_a_500(config: Config, api_services: ApiServices) -> None:
    """schemathesis in process (the app on its fakes): valid and invalid requests from
    the document, none answered 5xx. tests/stack/test_stack_openapi.py does it live."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    app = create_app(config, services=api_services)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=10, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case: Any) -> None:
                response = case.call(headers=AUTH)
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.path}: {response.status_code} "
                                    f"{case.path_parameters} {case.query} {case.body!r}")

            try:
                call()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, operation.label
    assert not failures, "\n".join(failures[:10])
