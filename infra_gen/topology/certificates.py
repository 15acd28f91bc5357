"""TLS of the load balancer: where its certificate comes from, and the certbot service.

With `tls.mode: certbot` a certbot container in the stack owns the certificate:

* It shares two volumes with the load balancer: the ACME webroot (nginx serves
  /.well-known/acme-challenge/ from it on the HTTP port) and the certificate store
  (/etc/letsencrypt, nginx reads it read-only).
* nginx reads a fixed pair, `SERVED_DIR/fullchain.pem` and `privkey.pem`, never
  certbot's `live/<domain>/` links: at its first start the certbot container puts a
  temporary self-signed pair there (so nginx can start before any CA answered), and
  certbot's deploy hook replaces it with every certificate issued or renewed
  (key first, certificate last, each renamed into place).
* Both run as the same uid (nginx's), so the key needs no group or world read.
* The load balancer's image watches the served certificate (`LB_RELOAD_ON_CHANGE`)
  and reloads nginx when it changes: no Docker socket and no signal across
  containers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..model import Environment, TlsMode, duration_seconds
from .facts import FRONTEND_NET, NGINX_UID, PORTS, Container, Healthcheck, Link, Mount
from .observability import SMALL

LETSENCRYPT_DIR = "/etc/letsencrypt"
"""certbot's configuration directory (accounts, archive, live, renewal): a volume."""
WEBROOT = "/var/www/certbot"
"""The ACME HTTP-01 webroot (certbot --webroot -w): a volume nginx serves read-only."""
SERVED_DIR = f"{LETSENCRYPT_DIR}/infra-gen"
"""Where the certificate nginx serves lives (fullchain.pem, privkey.pem)."""
CA_BUNDLE = "/etc/infra-gen/acme-ca.pem"
"""Where the certbot container sees tls.acme_ca_bundle (REQUESTS_CA_BUNDLE)."""
CERTBOT = "certbot"
"""The certbot service's compose (and swarm) service name."""
STORE_VOLUME, WEBROOT_VOLUME = "letsencrypt", "acme-webroot"
VOLUMES = {STORE_VOLUME: LETSENCRYPT_DIR, WEBROOT_VOLUME: WEBROOT}
"""Named volume -> mount point, shared by certbot (read-write) and nginx (read-only)."""
SELF_SIGNED_DIR = "/etc/nginx/tls"
"""Where the load balancer reads the pair `infra-gen up` creates (self-signed mode)."""


@dataclass(frozen=True)
class CertbotFacts:
    """What the runbook says about the certbot service."""

    service: str
    acme_server: str
    renew_every: str
    store_volume: str
    webroot_volume: str


def certbot_facts(env: Environment) -> CertbotFacts | None:
    if env.tls.mode is not TlsMode.certbot:
        return None
    return CertbotFacts(CERTBOT, env.tls.acme_server, env.tls.renew_every,
                        STORE_VOLUME, WEBROOT_VOLUME)


def certificate_paths(env: Environment) -> tuple[str, str]:
    """(certificate, key) as the load balancer reads them."""
    where = SERVED_DIR if env.tls.mode is TlsMode.certbot else SELF_SIGNED_DIR
    return f"{where}/fullchain.pem", f"{where}/privkey.pem"


def lb_tls(env: Environment, secrets_dir: str) -> tuple[tuple[Mount, ...], tuple[tuple[str, str], ...]]:
    """(mounts, environment) the load balancer needs for its certificate."""
    if env.tls.mode is TlsMode.self_signed:
        return (Mount(f"{secrets_dir}/tls", SELF_SIGNED_DIR),), ()
    if env.tls.mode is TlsMode.certbot:
        mounts = tuple(Mount(name, target, named=True) for name, target in VOLUMES.items())
        return mounts, (("LB_RELOAD_ON_CHANGE", certificate_paths(env)[0]),)
    return (), ()


def certbot(env: Environment, image: Callable[[str], str]) -> Container | None:
    """The certbot service of `tls.mode: certbot` (None in the other modes)."""
    tls = env.tls
    if tls.mode is not TlsMode.certbot:
        return None
    cert = certificate_paths(env)[0]
    environment = [
        ("CERTBOT_DOMAIN", env.domain),
        ("CERTBOT_EMAIL", tls.email or ""),
        ("ACME_SERVER", tls.acme_server),
        ("CERTBOT_WEBROOT", WEBROOT),
        ("CERTBOT_SERVED_DIR", SERVED_DIR),
        # Waited for before the first request: the CA must find the webroot served.
        ("CERTBOT_PROBE_URL", f"http://lb:{PORTS['lb_http']}"),
        ("RENEW_EVERY_SECONDS", str(int(duration_seconds(tls.renew_every)))),
    ]
    mounts = [Mount(name, target, read_only=False, named=True) for name, target in VOLUMES.items()]
    if tls.acme_ca_bundle is not None:
        mounts.append(Mount(tls.acme_ca_bundle, CA_BUNDLE))
        environment.append(("REQUESTS_CA_BUNDLE", CA_BUNDLE))
    return Container(
        name=CERTBOT, kind="certbot", image=image("certbot"),
        # nginx's uid: the key it writes is readable by nginx and nobody else.
        user=NGINX_UID, resources=SMALL,
        # It reaches the ACME server (outside) and checks the load balancer's webroot.
        networks=(FRONTEND_NET,),
        environment=tuple(environment), mounts=tuple(mounts),
        links=(Link("lb", "certificate + ACME webroot"),),
        # Healthy once nginx has a certificate to start with (the temporary one).
        healthcheck=Healthcheck(("CMD", "test", "-s", cert), interval="5s", timeout="3s",
                                retries=3, start_period="10s"),
        # certbot's work and log directories.
        tmpfs=("/tmp", "/var/lib/letsencrypt", "/var/log/letsencrypt"),
    )


__all__ = [
    "CA_BUNDLE",
    "CERTBOT",
    "LETSENCRYPT_DIR",
    "SERVED_DIR",
    "VOLUMES",
    "WEBROOT",
    "CertbotFacts",
    "certbot",
    "certbot_facts",
    "certificate_paths",
    "lb_tls",
]
