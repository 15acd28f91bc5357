"""Loader: extends and merge rules, and one clear located line per bad input."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from infra_gen.errors import ConfigError
from infra_gen.loader import load_document, load_environment

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def envdir(tmp_path: Path) -> Path:
    d = tmp_path / "environments"
    d.mkdir()
    shutil.copy(ROOT / "environments" / "base.yaml", d / "base.yaml")
    return d


def write(d: Path, name: str, body: str) -> Path:
    path = d / f"{name}.yaml"
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_environment(path)
    return [str(p) for p in info.value.problems]


def test_extends_merges_mappings_and_replaces_lists(envdir: Path) -> None:
    write(envdir, "parent", """
        extends: base
        services:
          api: {replicas: 2, concurrency: 8}
        firewall: {public_ports: [80, 443]}
    """)
    path = write(envdir, "child", """
        extends: parent
        services:
          api: {replicas: 5}
        alerting:
          receivers:
            - {name: ops, email: {to: ops@example.com}}
          route: {receiver: ops}
    """)
    env = load_environment(path)
    assert env.name == "child"
    assert env.services["api"].replicas == 5  # overridden
    assert env.services["api"].concurrency == 8  # kept from parent: mappings merge
    assert env.services["worker"].replicas == 1  # kept from base
    assert [r.name for r in env.alerting.receivers] == ["ops"]  # lists replace
    assert env.alerting.route.group_wait == "30s"  # merged from base


def test_locations_follow_the_file_that_wrote_the_value(envdir: Path) -> None:
    path = write(envdir, "child", """
        extends: base
        services:
          api:
            replicas: 3
    """)
    doc = load_document(path)
    shown, line = doc.where[("services", "api", "replicas")]
    assert (Path(shown).name, line) == ("child.yaml", 4)
    shown, _ = doc.where[("postgres", "indexes")]
    assert Path(shown).name == "base.yaml"
    # A field nobody wrote is located at its nearest written parent.
    assert doc.locate(("services", "api", "environment", "X")) == doc.where[("services", "api")]


BAD_INPUTS = [
    pytest.param(
        "services:\n  api: {replicas: three}\n",
        ["bad.yaml:3: services.api.replicas: expected a valid integer, unable to parse string as an integer, got 'three'"],
        id="wrong-type",
    ),
    pytest.param(
        "services:\n  api: {replcas: 3}\n",
        ["bad.yaml:3: services.api.replcas: unknown field; did you mean 'replicas'? expected one of:"],
        id="typo-unknown-key",
    ),
    pytest.param(
        "load_balancer:\n  upstream: {fail_timeout: thirty}\n",
        ["bad.yaml:3: load_balancer.upstream.fail_timeout: expected a duration such as 30s, 5m, 1h or 7d (at most 6 digits), got 'thirty'"],
        id="bad-duration",
    ),
    pytest.param(
        "tls: {mode: letsencrypt}\n",
        ["bad.yaml:2: tls.mode: expected 'certbot', 'self-signed' or 'none', got 'letsencrypt'"],
        id="bad-enum",
    ),
    pytest.param(
        "tls: {mode: certbot}\n",
        ["bad.yaml:2: tls.email: required with mode certbot"],
        id="cross-field-certbot-email",
    ),
    pytest.param(
        "alerting:\n  route: {receiver: nobody}\n",
        ["bad.yaml:3: alerting.route.receiver: 'nobody' is not a receiver (expected one of: team-emails)"],
        id="bad-reference-receiver",
    ),
    pytest.param(
        "firewall: {public_ports: [80, 443, 8080]}\n",
        ["bad.yaml:2: firewall.public_ports: [80, 443, 8080] must be exactly the load balancer's published ports [80, 443]"],
        id="firewall-disagrees-with-lb",
    ),
    pytest.param(
        "services:\n  search: {replicas: 2}\n",
        ["bad.yaml:3: services.search.role: required for a service not named api, frontend, ml, worker"],
        id="custom-service-without-role",
    ),
    pytest.param(
        "services:\n  api2: {role: api}\n",
        ["bad.yaml:3: services.api2.route: '/api/' is already the route of services.api"],
        id="duplicate-route",
    ),
    pytest.param(
        "services:\n  api: {replicas: 2}\n  api: {replicas: 3}\n",
        ["bad.yaml:4: services.api: duplicate key (a later one would silently win)"],
        id="duplicate-key",
    ),
    pytest.param(
        "services: [api, worker\n",
        ["bad.yaml:3: invalid YAML: expected ',' or ']'"],
        id="broken-yaml",
    ),
    pytest.param(
        "name: prod\n",
        ["bad.yaml:2: name: expected 'bad' (the file name), got 'prod'"],
        id="name-mismatch",
    ),
    pytest.param(
        "images: {tag: latest}\n",
        ["bad.yaml:2: images.tag: must be a release, not latest"],
        id="latest-tag",
    ),
    pytest.param(
        "services:\n  redis: {role: api, route: /cache/}\n",
        ["bad.yaml:3: services.redis: the stack's own containers already use the name 'redis'"],
        id="platform-service-name",
    ),
    pytest.param(
        "deploy: {endpoint_mode: ingress}\n",
        ["bad.yaml:2: deploy.endpoint_mode: expected 'vip' or 'dnsrr', got 'ingress'"],
        id="bad-endpoint-mode",
    ),
    pytest.param(
        "postgres: {replicas: 2}\n",
        ["bad.yaml:2: postgres.replicas: expected less than or equal to 1, got 2"],
        id="out-of-range",
    ),
]


@pytest.mark.parametrize(("body", "expected"), BAD_INPUTS)
def test_bad_input_gets_one_located_line_per_problem(
    envdir: Path, monkeypatch: pytest.MonkeyPatch, body: str, expected: list[str]
) -> None:
    monkeypatch.chdir(envdir)
    path = write(envdir, "bad", "extends: base\n" + body)
    problems = errors_of(path)
    assert len(problems) == len(expected), problems
    for line, want in zip(problems, expected, strict=True):
        assert want in line, f"{want!r} not in {line!r}"
        assert "\n" not in line
        assert "Traceback" not in line


def test_missing_parent_names_the_known_files(envdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(envdir)
    path = write(envdir, "bad", "extends: bsae\n")
    assert errors_of(path) == ["bad.yaml:1: extends: no environment file 'bsae' (known: base)"]


def test_extends_cycle_is_reported(envdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(envdir)
    write(envdir, "a", "extends: b\n")
    path = write(envdir, "b", "extends: a\n")
    (problem,) = errors_of(path)
    assert "extends forms a cycle: b -> a -> b" in problem


def test_several_problems_are_all_reported(envdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(envdir)
    path = write(envdir, "bad", "extends: base\nservices:\n  api: {replicas: -1}\nredis: {maxmemory: lots}\n")
    problems = errors_of(path)
    assert len(problems) == 2
    assert problems[0].startswith("bad.yaml:3: services.api.replicas:")
    assert problems[1].startswith("bad.yaml:4: redis.maxmemory:")
