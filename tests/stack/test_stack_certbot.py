"""Certificates end to end: `tls.mode: certbot` against a real ACME server.

The dev environment is rendered again in certbot mode with its ACME directory at a
pebble (Let's Encrypt's test CA, Debian's package) that this test runs on the
stack's frontend network, its HTTPS certificate from a throw-away CA that the model
names as `tls.acme_ca_bundle`. pebble resolves the domain to the load balancer
(`--add-host`, its resolver reads /etc/hosts) and validates HTTP-01 for real: it
fetches the token certbot wrote into the shared webroot through nginx's
/.well-known/acme-challenge/ location (PEBBLE_VA_ALWAYS_VALID is not set).

Checked: nginx starts on the temporary self-signed certificate, then serves the one
pebble issued (issuer, and the serial of certbot's lineage); `certbot renew
--force-renewal` in the certbot container gets a new certificate that nginx serves
within seconds, reloaded by its own watcher (same master process, the container
not restarted). The stack is put back as generated afterwards (disruptive: runs
after the other tests).
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from stack_support import docker

from infra_gen.project import Project
from infra_gen.render import render_environment, write_tree
from infra_gen.stack.docker import docker_binary
from infra_gen.topology import FRONTEND_NET

pytestmark = pytest.mark.disruptive(3)

HERE = Path(__file__).resolve().parent
PEBBLE_IMAGE = "infra-gen-test/pebble:1"
PEBBLE = "infra-gen-test-pebble"
LB_HTTP = 8080
"""The load balancer's HTTP port inside its container: where pebble's VA connects."""


def _compose(project: str, env_dir: Path, *args: str) -> str:
    result = subprocess.run([docker_binary(), "compose", "-p", project, "-f",
                             str(env_dir / "compose.yaml"), *args], cwd=env_dir, text=True,
                            capture_output=True, timeout=300, check=False)
    assert result.returncode == 0, f"compose {' '.join(args)}: {result.stderr[-2000:]}"
    return result.stdout


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def _pebble_files(where: Path) -> Path:
    """pebble's config, and its HTTPS pair from a throw-away CA; returns the CA file."""
    where.mkdir()
    ca_key, ca, key, csr, cert = (where / n for n in ("ca.key", "ca.pem", "pebble.key",
                                                      "pebble.csr", "pebble.pem"))
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "2", "-subj", "/CN=infra-gen test ACME CA",
             "-keyout", str(ca_key), "-out", str(ca))
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-subj", "/CN=pebble", "-keyout", str(key), "-out", str(csr))
    ext = where / "san.ext"
    ext.write_text("subjectAltName=DNS:pebble\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert))
    (where / "config.json").write_text(json.dumps({"pebble": {
        "listenAddress": "0.0.0.0:14000", "managementListenAddress": "0.0.0.0:15000",
        "certificate": "/etc/pebble/pebble.pem", "privateKey": "/etc/pebble/pebble.key",
        "httpPort": LB_HTTP, "tlsPort": 5001, "ocspResponderURL": "",
        "externalAccountBindingRequired": False}}))
    for p in where.iterdir():
        p.chmod(0o644)
    where.chmod(0o755)
    return ca


def served_certificate(host: str, port: int, domain: str) -> x509.Certificate:
    """The certificate the load balancer presents for the domain (not verified)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname=domain) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der, "no certificate presented"
    return x509.load_der_x509_certificate(der)


def _issuer(cert: x509.Certificate) -> str:
    return str(cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _wait(what: str, check: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(2)
    return value


def _logs(container: str) -> str:
    out = subprocess.run([docker_binary(), "logs", container], capture_output=True, text=True,
                         timeout=60, check=False)
    return out.stdout + out.stderr


def _exec(container: str, *cmd: str, timeout: float = 180) -> str:
    return docker("exec", container, *cmd, timeout=timeout)


def _serial(container: str, pem: str) -> int:
    """The serial number of a certificate file in a container (openssl's hex)."""
    out = _exec(container, "openssl", "x509", "-noout", "-serial", "-in", pem).strip()
    assert out.startswith("serial="), out
    return int(out.removeprefix("serial="), 16)


def test_certbot_issues_and_renews_with_pebble(stack, topo, site, tmp_path):
    if topo.name != "dev":
        pytest.skip("turns the dev environment's load balancer to certbot mode")
    docker("build", "-q", "-t", PEBBLE_IMAGE, str(HERE / "pebble"), timeout=600)
    ca = _pebble_files(tmp_path / "pebble")
    domain = topo.env.domain
    root = tmp_path / "project"
    shutil.copytree(stack.project.root / "environments", root / "environments")
    dev = root / "environments" / "dev.yaml"
    dev.write_text(dev.read_text() + (
        "tls:\n  mode: certbot\n  email: devops@example.com\n"
        "  acme_server: https://pebble:14000/dir\n"
        f"  acme_ca_bundle: {ca}\n"))
    (root / ".secrets").symlink_to(stack.project.root / ".secrets")
    env_dir = root / "generated" / "dev"
    write_tree(env_dir, render_environment(Project(root), "dev"))
    project = topo.compose_project
    network = f"{project}_{FRONTEND_NET}"
    https = site.https_addr
    volumes = [f"{project}_letsencrypt", f"{project}_acme-webroot"]
    docker("rm", "-f", PEBBLE, check=False)
    try:
        # Only what certbot mode changes: the certbot service and the load balancer.
        _compose(project, env_dir, "up", "-d", "--wait", "--wait-timeout", "180", "--no-deps",
                 "certbot", "lb")
        lb = _compose(project, env_dir, "ps", "-q", "lb").strip()
        certbot = _compose(project, env_dir, "ps", "-q", "certbot").strip()
        # nginx started on the temporary certificate certbot put in place.
        temporary = served_certificate(*https, domain)
        assert temporary.issuer == temporary.subject, temporary.issuer
        lb_ip = json.loads(docker("inspect", lb))[0]["NetworkSettings"]["Networks"][network][
            "IPAddress"]
        docker("run", "-d", "--name", PEBBLE, "--network", network, "--network-alias", "pebble",
               # HTTP-01 for real: the domain is the load balancer, as public DNS would say.
               "--add-host", f"{domain}:{lb_ip}",
               "-e", "PEBBLE_VA_NOSLEEP=1", "-e", "PEBBLE_WFE_NONCEREJECT=0",
               "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
               "-v", f"{ca.parent}:/etc/pebble:ro", PEBBLE_IMAGE,
               "-config", "/etc/pebble/config.json")
        # The first request went out before pebble ran (it needs the load balancer's
        # new address): a restart asks again now instead of after the back-off.
        _wait("pebble answers", lambda: "ACME directory available" in _logs(PEBBLE), timeout=60)
        _compose(project, env_dir, "restart", "certbot")

        def issued_by_pebble() -> x509.Certificate | None:
            cert = served_certificate(*https, domain)
            return cert if _issuer(cert).startswith("Pebble Intermediate CA") else None

        first = _wait("the certificate pebble issued is served", issued_by_pebble, timeout=180)
        lineage = f"/etc/letsencrypt/live/{domain}/cert.pem"
        assert _serial(certbot, lineage) == first.serial_number
        assert domain in [n.value for n in first.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value]
        master = _exec(lb, "cat", "/tmp/nginx.pid").strip()
        started = docker("inspect", "-f", "{{.State.StartedAt}}", lb).strip()

        # Without a terminal certbot renew first sleeps up to 8 minutes (load spreading).
        out = _exec(certbot, "certbot", "renew", "--force-renewal", "--no-random-sleep-on-renew")
        renewed = _wait("the renewed certificate is served", lambda: (
            c if (c := served_certificate(*https, domain)).serial_number != first.serial_number
            else None), timeout=60)
        assert _issuer(renewed).startswith("Pebble Intermediate CA"), _issuer(renewed)
        assert _serial(certbot, lineage) == renewed.serial_number, out
        # Reloaded, not restarted: the same nginx master, the same container run.
        assert _exec(lb, "cat", "/tmp/nginx.pid").strip() == master
        assert docker("inspect", "-f", "{{.State.StartedAt}}", lb).strip() == started
        assert "nginx reloaded" in _logs(lb)
    finally:
        print("pebble:", _logs(PEBBLE)[-3000:])
        print("certbot:", _logs(f"{project}-certbot-1")[-3000:])
        _compose(project, env_dir, "rm", "--stop", "--force", "certbot")
        _compose(project, stack.env_dir, "up", "-d", "--wait", "--wait-timeout", "180",
                 "--no-deps", "lb")
        docker("rm", "-f", PEBBLE, check=False)
        docker("volume", "rm", *volumes, check=False)
