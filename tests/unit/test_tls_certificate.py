"""The self-signed certificate `infra-gen up` makes fits Mozilla's "intermediate"
profile: ECDSA P-256 signed with SHA-256, the domain in its SAN, at most a year."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra_gen.stack.secrets import TLS_DAYS, certificate_lifetime_days, ensure_certificate

DOMAIN = "churn.example.test"


def _text(cert: Path) -> str:
    return subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout


def test_new_certificate_fits_the_profile(tmp_path: Path) -> None:
    assert ensure_certificate(DOMAIN, tmp_path) is True
    cert = tmp_path / "fullchain.pem"
    text = _text(cert)
    assert "id-ecPublicKey" in text
    assert "prime256v1" in text or "P-256" in text
    assert "Signature Algorithm: ecdsa-with-SHA256" in text
    assert f"DNS:{DOMAIN}" in text and "DNS:localhost" in text
    assert TLS_DAYS <= 365
    assert certificate_lifetime_days(cert) == TLS_DAYS
    # A good certificate is kept.
    assert ensure_certificate(DOMAIN, tmp_path) is False


@pytest.mark.parametrize(("days", "replaced"), [(825, True), (TLS_DAYS, False)])
def test_an_over_long_certificate_is_replaced(tmp_path: Path, days: int, replaced: bool) -> None:
    cert, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", str(days), "-subj", f"/CN={DOMAIN}",
         "-addext", f"subjectAltName=DNS:{DOMAIN}",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, check=True,
    )
    assert certificate_lifetime_days(cert) == days
    assert ensure_certificate(DOMAIN, tmp_path) is replaced
    assert certificate_lifetime_days(cert) == (TLS_DAYS if replaced else days)
