"""error_tracking: off by default; on, api, worker and ml get the DSN as a secret file
with the release (image tag) and environment; dev runs the error sink and the stack
writes its DSN, prod needs the user's DSN; the test-only route is dev's alone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from infra_gen.errors import StackError
from infra_gen.model import Environment
from infra_gen.project import Project
from infra_gen.stack.secrets import ensure_secrets
from infra_gen.topology import plan

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Project(ROOT)
REPORTING = ("api", "worker", "ml")


def _env(container: Any) -> dict[str, str]:
    return dict(container.environment)


def test_off_by_default() -> None:
    topo = plan(PROJECT.load("staging"))
    assert not topo.env.error_tracking.enabled
    assert not topo.of_kind("error-sink")
    assert not topo.provided_secrets and not topo.derived_secrets
    for c in topo.containers:
        assert not any(k.startswith("SENTRY_") or k == "TEST_ERROR_ROUTE" for k in _env(c)), c.name
        assert "sentry_dsn" not in c.secrets


def test_dev_reports_to_the_sink_with_release_and_environment() -> None:
    topo = plan(PROJECT.load("dev"))
    (sink,) = topo.of_kind("error-sink")
    assert sink.image == topo.container("api").image and sink.command == ("error-sink",)
    assert dict(topo.derived_secrets) == {"sentry_dsn": f"http://infra-gen@error-sink:{sink.port}/1"}
    assert topo.provided_secrets == ()
    for name in REPORTING:
        c = topo.container(name)
        env = _env(c)
        assert env["SENTRY_DSN_FILE"] == "/run/secrets/sentry_dsn"
        assert env["SENTRY_RELEASE"] == topo.env.images.tag == c.image.rsplit(":", 1)[1]
        assert env["SENTRY_ENVIRONMENT"] == "dev"
        assert "sentry_dsn" in c.secrets
        assert ("TEST_ERROR_ROUTE" in env) == (name == "api")
    assert "sentry_dsn" in topo.secrets
    for c in topo.containers:
        if c.name not in REPORTING:
            assert "sentry_dsn" not in c.secrets, c.name


def test_prod_needs_the_users_dsn_and_has_no_test_route() -> None:
    topo = plan(PROJECT.load("prod"))
    assert topo.provided_secrets == ("sentry_dsn",) and not topo.derived_secrets
    assert not topo.of_kind("error-sink")
    stack = yaml.safe_load((ROOT / "generated/prod/stack.yaml").read_text())
    for name in REPORTING:
        svc = stack["services"][name]
        assert "sentry_dsn" in svc["secrets"]
        assert svc["environment"]["SENTRY_ENVIRONMENT"] == "prod"
        assert "TEST_ERROR_ROUTE" not in svc["environment"]
    assert stack["secrets"]["sentry_dsn"]["file"].endswith("/sentry_dsn")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_dsn_is_never_in_a_generated_file(env: str) -> None:
    text = "\n".join(p.read_text(errors="replace") for p in (ROOT / "generated" / env).rglob("*")
                     if p.is_file())
    assert not re.search(r"https?://[^\s/@]+@", text)
    topo = plan(PROJECT.load(env))
    compose = yaml.safe_load((ROOT / "generated" / env / "compose.yaml").read_text())
    assert compose["secrets"]["sentry_dsn"] == {"file": f"{topo.secrets_dir}/sentry_dsn"}


def test_up_writes_the_sinks_dsn_and_refuses_a_missing_user_dsn(tmp_path: Path) -> None:
    dev = plan(PROJECT.load("dev"))
    created = ensure_secrets(dev, tmp_path / "dev")
    dsn = tmp_path / "dev" / "sentry_dsn"
    assert "sentry_dsn" in created
    assert dsn.read_text().strip() == dict(dev.derived_secrets)["sentry_dsn"]
    dsn.write_text("stale\n")
    assert "sentry_dsn" in ensure_secrets(dev, tmp_path / "dev")
    assert ensure_secrets(dev, tmp_path / "dev") == []

    prod = plan(PROJECT.load("prod"))
    with pytest.raises(StackError, match=r"secret sentry_dsn is missing: write it to .*/sentry_dsn"):
        ensure_secrets(prod, tmp_path / "prod")
    assert not (tmp_path / "prod" / "sentry_dsn").exists()
    (tmp_path / "prod" / "sentry_dsn").write_text("https://key@sentry.example.com/7\n")
    assert "sentry_dsn" not in ensure_secrets(prod, tmp_path / "prod")
    assert (tmp_path / "prod" / "sentry_dsn").read_text() == "https://key@sentry.example.com/7\n"


BAD = [
    ({"sink": True}, "sink: only with enabled: true"),
    ({"test_error_route": True}, "test_error_route: only with enabled: true"),
    ({"enabled": True, "dsn_secret": "postgres_password"}, "dsn_secret: 'postgres_password' is a secret the stack makes"),
    ({"enabled": True, "sample_rate": 1.5}, "less than or equal to 1"),
    ({"enabled": True, "dsn_secret": "../etc/passwd"}, "dsn_secret"),
    ({"enabled": True, "dns_secret": "x"}, "dns_secret"),
]


@pytest.mark.parametrize(("tracking", "message"), BAD)
def test_bad_settings_are_refused(tracking: dict[str, Any], message: str) -> None:
    data = PROJECT.load("prod").model_dump(by_alias=True)
    data["error_tracking"] = tracking
    with pytest.raises(ValidationError, match=re.escape(message)):
        Environment.model_validate(data)
