"""The load balancer's TLS, scanned by sslyze against Mozilla's "intermediate" profile.

This is the check `sslyze --mozilla_config=intermediate HOST:PORT` makes (protocol
versions, cipher suites, key exchange groups and sizes, certificate type, signature
and lifetime, known TLS vulnerabilities), through sslyze's Python API so the
findings come back as data. With the self-signed certificate of dev, its trust is
the one finding expected: no public store has it, and it cannot be given to sslyze
as its own anchor (sslyze's validation, cryptography's web PKI policy, refuses a
certificate that is both CA and end entity, which the self-signed one must be for
OpenSSL clients to trust it alone)."""

from __future__ import annotations

from typing import Any

import pytest
from sslyze import (
    Scanner,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanStatusEnum,
)
from sslyze.mozilla_tls_profile.tls_config_checker import (
    SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
    MozillaTlsConfiguration,
    ServerNotCompliantWithTlsConfiguration,
    TlsConfigurationEnum,
    check_server_against_tls_configuration,
)

from infra_gen.model import TlsMode

# Field of sslyze's result per protocol version, as the profile names the versions.
VERSION_FIELDS = {
    "SSLv2": "ssl_2_0_cipher_suites", "SSLv3": "ssl_3_0_cipher_suites",
    "TLSv1": "tls_1_0_cipher_suites", "TLSv1.1": "tls_1_1_cipher_suites",
    "TLSv1.2": "tls_1_2_cipher_suites", "TLSv1.3": "tls_1_3_cipher_suites",
}
# sslyze's own bundled trust stores hold a root with a non-positive serial number.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Parsed a serial number which wasn't positive:cryptography.utils.CryptographyDeprecationWarning")
UNTRUSTED = "certificate_path_validation"
"""sslyze's finding for a certificate no trust store vouches for."""


@pytest.fixture(scope="module")
def scan(site) -> Any:
    if not site.tls:
        pytest.skip("tls: none in this environment")
    host, port = site.https_addr
    request = ServerScanRequest(
        server_location=ServerNetworkLocation(hostname=site.domain, port=port, ip_address=host),
        network_configuration=ServerNetworkConfiguration(tls_server_name_indication=site.domain),
        scan_commands=SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
    )
    scanner = Scanner()
    scanner.queue_scans([request])
    (result,) = list(scanner.get_results())
    assert result.scan_status is ServerScanStatusEnum.COMPLETED, result.connectivity_error_trace
    return result


def test_mozilla_intermediate_profile_has_no_finding_but_dev_trust(scan, topo):
    profile = MozillaTlsConfiguration.get(TlsConfigurationEnum.MOZILLA_INTERMEDIATE)
    try:
        check_server_against_tls_configuration(scan, profile)
        issues: dict[str, str] = {}
    except ServerNotCompliantWithTlsConfiguration as exc:
        issues = dict(exc.issues)
    if topo.env.tls.mode is TlsMode.self_signed:
        issues.pop(UNTRUSTED, None)
    assert not issues, f"not Mozilla intermediate: {issues}"


def test_exactly_tls_12_and_13_are_accepted(scan):
    # The profile only forbids other versions; it must also offer both of these.
    accepted = {name for name, field in VERSION_FIELDS.items()
                if getattr(scan.scan_result, field).result.is_tls_version_supported}
    assert accepted == {"TLSv1.2", "TLSv1.3"}


def test_every_key_exchange_group_of_the_profile_is_accepted(scan):
    # The profile only forbids other groups; ssl_ecdh_curve must offer each of its own.
    profile = MozillaTlsConfiguration.get(TlsConfigurationEnum.MOZILLA_INTERMEDIATE)
    curves = {c.name for c in scan.scan_result.elliptic_curves.result.supported_curves}
    assert curves == profile.tls_curves
