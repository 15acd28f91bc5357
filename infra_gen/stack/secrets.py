"""Local secrets of an environment: random values and a self-signed certificate.

Where they live: ``topo.secrets_dir`` resolved against generated/<env>/ (for the
shipped environments: <repo>/.secrets/<env>/, ignored by git, never under generated/ and never in
an image). Values are created once and kept across runs, so a database volume
initialised with a password keeps working.

Permissions (tested on Docker 26 / Compose 2.26): compose file secrets are bind
mounts that keep the host file's owner and mode, and `uid/gid/mode` on a service's
secret are ignored outside swarm. The containers run as several non-root uids
(10001 app, 10002 nginx, 999 postgres, redis, prometheus, 65534 nobody) and some
secrets are shared between them (postgres_password: app, postgres, exporter), so a
0600 root-owned file is unreadable in the containers ("Permission denied"). The
daemon resolves the bind source as root, so directory permissions on the host do
not matter to the containers, while they do to other host users. Hence:

* the secrets directory and its parents we create are 0700 root (the boundary on
  the host: no other user can even traverse to the files);
* each file is 0644, readable inside the containers by whichever uid runs there;
* tls/ is mounted as a directory, whose own mode applies inside the container:
  0711 (nginx traverses it, nobody lists it; on the host it sits inside the 0700
  directory).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

from ..errors import StackError
from ..model import TlsMode
from ..topology import Topology

DIR_MODE = 0o700
FILE_MODE = 0o644
TOKEN_FILE = "api_token"
"""API token for `infra-gen verify`, created by `up` (not a container secret)."""
TLS_DAYS = 365
"""Lifetime of the self-signed certificate: Mozilla's profiles allow at most a year
(366 days); a longer one already on disk is replaced."""
TLS_CURVE = "prime256v1"
"""ECDSA P-256 key: a certificate type and curve of Mozilla's "intermediate" profile,
signed ecdsa-with-SHA256."""
TLS_DIR_MODE = 0o711
"""tls/ is bind-mounted as a directory (/etc/nginx/tls), so its own mode applies in
the container: nginx (uid 10002) must traverse it; listing is not needed."""


def secrets_dir(topo: Topology, generated_env_dir: Path) -> Path:
    """The environment's secrets directory, absolute."""
    path = Path(topo.secrets_dir)
    if not path.is_absolute():
        path = generated_env_dir / path
    return Path(os.path.normpath(path))


def _make_dir(path: Path, mode: int = DIR_MODE) -> None:
    if not path.is_dir():
        path.mkdir(parents=True, mode=mode)
    os.chmod(path, mode)


def _write(path: Path, content: str | bytes, mode: int = FILE_MODE) -> None:
    data = content.encode() if isinstance(content, str) else content
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def ensure_secrets(topo: Topology, directory: Path) -> list[str]:
    """Create every secret the topology declares that is missing (random values; the
    derived ones with their content); return the new names. A secret only the user can
    give (a Sentry DSN) that is missing is an error, never made up."""
    _make_dir(directory)
    if directory.parent.name == ".secrets":
        # <repo>/.secrets/ itself: no other host user traverses it.
        os.chmod(directory.parent, DIR_MODE)
    missing = [name for name in topo.provided_secrets
               if not (directory / name).is_file() or (directory / name).stat().st_size == 0]
    if missing:
        raise StackError(f"secret {missing[0]} is missing: write it to {directory / missing[0]} "
                         "(error_tracking.dsn_secret: your Sentry project's DSN), or set "
                         "error_tracking.sink: true")
    created = []
    derived = dict(topo.derived_secrets)
    for name in topo.secrets:
        path = directory / name
        if name in derived:
            if not path.is_file() or path.read_text().strip() != derived[name]:
                _write(path, derived[name] + "\n")
                created.append(name)
            os.chmod(path, FILE_MODE)
            continue
        if name in topo.provided_secrets:
            os.chmod(path, FILE_MODE)
            continue
        if path.is_file() and path.stat().st_size > 0:
            os.chmod(path, FILE_MODE)
            continue
        # URL-safe: no quoting trouble in libpq password files, redis or SMTP.
        _write(path, secrets.token_urlsafe(32))
        created.append(name)
    if topo.env.tls.mode is TlsMode.self_signed and ensure_certificate(
        topo.env.domain, directory / "tls"
    ):
        created.append("tls")
    return created


def certificate_lifetime_days(cert: Path) -> int:
    """Whole days between the certificate's notBefore and notAfter."""
    result = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-startdate", "-enddate"],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise StackError(f"openssl cannot read {cert}: {result.stderr.strip()}")
    dates = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    # openssl's default form, e.g. "Dec  2 03:21:11 2026 GMT" (always GMT).
    start, end = (datetime.strptime(dates[k], "%b %d %H:%M:%S %Y GMT")
                  for k in ("notBefore", "notAfter"))
    return (end - start).days


def _certificate_ok(cert: Path, domain: str) -> bool:
    if not cert.is_file():
        return False
    result = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-checkend", "86400", "-ext",
         "subjectAltName"],
        capture_output=True, text=True, check=False,
    )
    return (result.returncode == 0 and f"DNS:{domain}" in result.stdout
            and certificate_lifetime_days(cert) <= TLS_DAYS)


def ensure_certificate(domain: str, tls_dir: Path) -> bool:
    """A self-signed pair for domain (and localhost) in tls_dir; True when made now."""
    cert, key = tls_dir / "fullchain.pem", tls_dir / "privkey.pem"
    _make_dir(tls_dir, TLS_DIR_MODE)
    if key.is_file() and _certificate_ok(cert, domain):
        os.chmod(cert, FILE_MODE)
        os.chmod(key, FILE_MODE)
        return False
    if shutil.which("openssl") is None:
        raise StackError("openssl is needed for the self-signed certificate (apt-get install openssl)")
    tmp_key, tmp_cert = tls_dir / ".privkey.pem.tmp", tls_dir / ".fullchain.pem.tmp"
    cmd = [
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", f"ec_paramgen_curve:{TLS_CURVE}",
        "-sha256", "-nodes", "-days", str(TLS_DAYS), "-subj", f"/CN={domain}",
        "-addext", f"subjectAltName=DNS:{domain},DNS:localhost,IP:127.0.0.1",
        # openssl's default v3_ca extensions (CA:TRUE) let clients trust this one
        # certificate as its own anchor (--cacert fullchain.pem); a CA:FALSE leaf
        # would be refused by OpenSSL as "self-signed certificate".
        "-keyout", str(tmp_key), "-out", str(tmp_cert),
    ]
    old_umask = os.umask(0o077)
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    finally:
        os.umask(old_umask)
    if result.returncode != 0:
        raise StackError(f"openssl could not make the certificate: {result.stderr.strip()}")
    os.chmod(tmp_key, FILE_MODE)
    os.chmod(tmp_cert, FILE_MODE)
    os.replace(tmp_key, key)
    os.replace(tmp_cert, cert)
    return True


def read_token(directory: Path) -> str | None:
    path = directory / TOKEN_FILE
    if not path.is_file():
        return None
    return path.read_text().strip() or None


def write_token(directory: Path, token: str) -> None:
    # Only the host's verify reads it: 0600.
    _write(directory / TOKEN_FILE, token + "\n", 0o600)
