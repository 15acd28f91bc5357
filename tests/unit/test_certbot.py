"""tls.mode certbot: the model's ACME fields, the certbot service and what the load
balancer, compose, swarm placement, nginx.conf and the runbook make of them (the
stack test, tests/stack/test_stack_certbot.py, runs it against pebble)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from infra_gen.model import Environment, Tls, TlsMode
from infra_gen.model.platform import LETS_ENCRYPT
from infra_gen.project import Project
from infra_gen.render import render_environment
from infra_gen.topology import plan
from infra_gen.topology.certificates import CA_BUNDLE, SERVED_DIR, WEBROOT
from infra_gen.topology.swarm import placement

ROOT = Path(__file__).parents[2]
PROJECT = Project(ROOT)
HOOK = ROOT / "services" / "certbot" / "deploy-hook.sh"


def env_with(name: str, **tls: Any) -> Environment:
    data = PROJECT.load(name).model_dump(mode="json", by_alias=True)
    data["tls"] = {**data["tls"], **tls}
    return Environment.model_validate(data)


def test_defaults_are_lets_encrypt_production_twice_a_day() -> None:
    tls = Tls(mode=TlsMode.certbot, email="ops@example.com")
    assert tls.acme_server == LETS_ENCRYPT == "https://acme-v02.api.letsencrypt.org/directory"
    assert tls.acme_ca_bundle is None
    assert tls.renew_every == "12h"


@pytest.mark.parametrize("server", [
    "https://acme-staging-v02.api.letsencrypt.org/directory", "https://pebble:14000/dir",
    "https://10.0.0.5:14000/dir/"])
def test_acme_server_takes_https_urls(server: str) -> None:
    assert Tls(acme_server=server).acme_server == server


@pytest.mark.parametrize("server", [
    "http://pebble:14000/dir", "https://user:pw@ca.example/dir", "https://ca.example/dir?x=1",
    "https://ca.example/../dir", "https://ca.example/dir\nserver = evil", "ftp://ca.example/"])
def test_acme_server_refuses_anything_else(server: str) -> None:
    with pytest.raises(ValidationError):
        Tls(acme_server=server)


@pytest.mark.parametrize("bundle", ["relative/ca.pem", "/etc/../ca.pem", "/a b.pem"])
def test_ca_bundle_is_a_safe_absolute_path(bundle: str) -> None:
    with pytest.raises(ValidationError):
        Tls(acme_ca_bundle=bundle)


def test_renewing_more_than_once_a_minute_is_refused() -> None:
    with pytest.raises(ValidationError, match="renew_every"):
        Tls(mode=TlsMode.certbot, email="ops@example.com", renew_every="30s")


def test_prod_runs_certbot_beside_the_load_balancer() -> None:
    topo = plan(PROJECT.load("prod"))
    cb, lb = topo.container("certbot"), topo.container("lb")
    assert cb.kind == "certbot" and cb.image == "infra-gen/certbot:0.1.0"
    # nginx's uid: the key certbot writes is nginx's to read, nobody else's.
    assert cb.user == lb.user == "10002:10002" and cb.root_reason is None
    assert cb.writable_root is None and not cb.published
    env = dict(cb.environment)
    assert env["CERTBOT_DOMAIN"] == "churn.example.com"
    assert env["CERTBOT_EMAIL"] == "devops@example.com"
    assert env["ACME_SERVER"] == LETS_ENCRYPT
    assert env["RENEW_EVERY_SECONDS"] == "43200"
    assert env["CERTBOT_WEBROOT"] == WEBROOT and env["CERTBOT_SERVED_DIR"] == SERVED_DIR
    assert env["CERTBOT_PROBE_URL"] == "http://lb:8080"
    assert "REQUESTS_CA_BUNDLE" not in env
    # The same two volumes: certbot writes them, nginx only reads them.
    shared = {(m.source, m.target) for m in cb.mounts}
    assert shared == {("letsencrypt", "/etc/letsencrypt"), ("acme-webroot", WEBROOT)}
    assert all(m.named and not m.read_only for m in cb.mounts)
    lb_named = {(m.source, m.target): m.read_only for m in lb.mounts
                if m.named and m.source in {s for s, _ in shared}}
    assert lb_named == dict.fromkeys(shared, True)
    assert not [m for m in lb.mounts if m.source.startswith("/")], "no host path any more"
    # nginx starts on the temporary certificate certbot puts in place first, and
    # reloads when certbot's deploy hook replaces it.
    assert ("certbot", "service_healthy") in lb.depends_on
    assert dict(lb.environment)["LB_RELOAD_ON_CHANGE"] == topo.tls_certificate
    assert topo.tls_certificate == f"{SERVED_DIR}/fullchain.pem"
    assert topo.tls_key == f"{SERVED_DIR}/privkey.pem"
    assert cb.healthcheck.test[-1] == topo.tls_certificate
    assert {"letsencrypt", "acme-webroot"} <= set(topo.volumes)


def test_a_ca_bundle_is_mounted_read_only_and_trusted() -> None:
    topo = plan(env_with("staging", acme_server="https://pebble:14000/dir",
                         acme_ca_bundle="/srv/pebble/ca.pem", renew_every="1h"))
    cb = topo.container("certbot")
    assert [(m.source, m.target, m.read_only, m.named) for m in cb.mounts if not m.named] == [
        ("/srv/pebble/ca.pem", CA_BUNDLE, True, False)]
    env = dict(cb.environment)
    assert env["REQUESTS_CA_BUNDLE"] == CA_BUNDLE
    assert env["ACME_SERVER"] == "https://pebble:14000/dir"
    assert env["RENEW_EVERY_SECONDS"] == "3600"


@pytest.mark.parametrize("name", ["dev", "dev-ha", "swarm"])
def test_other_modes_have_no_certbot(name: str) -> None:
    topo = plan(PROJECT.load(name))
    assert not topo.of_kind("certbot")
    lb = topo.container("lb")
    assert "LB_RELOAD_ON_CHANGE" not in dict(lb.environment)
    # No certificate volume: the only one is the log exporter's socket directory.
    assert [m.source for m in lb.mounts if m.named] == ["lblog"]
    if topo.env.tls.mode is TlsMode.self_signed:
        assert topo.tls_certificate == "/etc/nginx/tls/fullchain.pem"


def _compose(name: str) -> dict[str, Any]:
    files = render_environment(PROJECT, name)
    return yaml.safe_load(files["compose.yaml"].content)


def test_compose_service_is_hardened_and_declares_the_volumes() -> None:
    doc = _compose("staging")
    svc = doc["services"]["certbot"]
    assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"]
    assert svc["security_opt"] == ["no-new-privileges:true"]
    assert "ports" not in svc and svc["networks"] == ["frontend-net"]
    assert doc["services"]["lb"]["depends_on"]["certbot"] == {"condition": "service_healthy"}
    assert {"letsencrypt", "acme-webroot"} <= set(doc["volumes"])


def test_swarm_pins_certbot_to_the_first_edge_node() -> None:
    env = PROJECT.load("prod")
    topo = plan(env)
    where = placement(env, topo.container("certbot"))
    assert where is not None and where.pinned_to == "app-1"
    assert env.deploy.nodes["app-1"].roles and "edge" in {r.value for r in env.deploy.nodes["app-1"].roles}


def test_nginx_serves_the_webroot_and_the_served_pair() -> None:
    conf = render_environment(PROJECT, "prod")["nginx/nginx.conf"].content.decode()
    assert f"ssl_certificate {SERVED_DIR}/fullchain.pem;" in conf
    assert f"ssl_certificate_key {SERVED_DIR}/privkey.pem;" in conf
    acme = conf[conf.index("location ^~ /.well-known/acme-challenge/ {"):]
    assert f"root {WEBROOT};" in acme[:acme.index("}")]
    assert WEBROOT == "/var/www/certbot"


def test_runbook_says_how_certificates_are_kept() -> None:
    runbook = render_environment(PROJECT, "prod")["RUNBOOK.md"].content.decode()
    assert "`$COMPOSE exec certbot certbot renew --force-renewal --no-random-sleep-on-renew`" in runbook
    assert LETS_ENCRYPT in runbook and "every 12h" in runbook
    dev = render_environment(PROJECT, "dev")["RUNBOOK.md"].content.decode()
    assert "certbot" not in dev


# -- the deploy hook (bash, run here on a fake lineage) -----------------------------


def test_deploy_hook_installs_key_then_certificate_private(tmp_path: Path) -> None:
    lineage, served = tmp_path / "live" / "churn.example.com", tmp_path / "served"
    archive = tmp_path / "archive"
    lineage.mkdir(parents=True)
    archive.mkdir()
    for name, text in (("privkey.pem", "KEY-2\n"), ("fullchain.pem", "CERT-2\n")):
        (archive / name.replace(".pem", "2.pem")).write_text(text)
        (lineage / name).symlink_to(archive / name.replace(".pem", "2.pem"))
    served.mkdir()
    (served / "fullchain.pem").write_text("TEMPORARY\n")
    env = {**os.environ, "RENEWED_LINEAGE": str(lineage), "CERTBOT_SERVED_DIR": str(served)}
    result = subprocess.run(["bash", str(HOOK)], env=env, capture_output=True, text=True,
                            check=False, timeout=30)
    assert result.returncode == 0, result.stderr
    assert (served / "fullchain.pem").read_text() == "CERT-2\n"
    assert (served / "privkey.pem").read_text() == "KEY-2\n"
    # Copies, not links into certbot's archive; readable by the owner only.
    assert not (served / "privkey.pem").is_symlink()
    assert (served / "privkey.pem").stat().st_mode & 0o077 == 0
    assert sorted(p.name for p in served.iterdir()) == ["fullchain.pem", "privkey.pem"]


def test_deploy_hook_without_a_lineage_fails_and_keeps_the_served_pair(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "fullchain.pem").write_text("KEEP\n")
    env = {**os.environ, "RENEWED_LINEAGE": str(tmp_path / "missing"),
           "CERTBOT_SERVED_DIR": str(served)}
    result = subprocess.run(["bash", str(HOOK)], env=env, capture_output=True, text=True,
                            check=False, timeout=30)
    assert result.returncode != 0
    assert (served / "fullchain.pem").read_text() == "KEEP\n"


