"""Hostile clients at the load balancer: a foreign Host, a trickled body, bodies the
database cannot store or the parser cannot nest. None of them disturbs the stack."""

from __future__ import annotations

import json
import socket
import ssl
import time
from urllib.parse import urlsplit

import requests
from stack_support import Site, cannot_run


def test_foreign_host_is_never_reflected_in_a_redirect(site: Site) -> None:
    if not site.tls:
        cannot_run("tls.mode none: the HTTP port serves the site, nothing redirects")
    r = requests.get(site.http_base + "/api/customers", headers={"Host": "evil.com"},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 301, r.text[:200]
    location = r.headers["Location"]
    assert "evil.com" not in location
    assert urlsplit(location).hostname == site.domain
    assert location.endswith("/api/customers")


def _connect(site: Site) -> socket.socket:
    host, port = urlsplit(site.base).hostname or "127.0.0.1", urlsplit(site.base).port or 443
    raw = socket.create_connection((host, port), timeout=30)
    if not site.tls:
        return raw
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the certificate is not what this checks
    return context.wrap_socket(raw, server_hostname=site.domain)


def test_a_trickled_body_is_cut_off_by_client_body_timeout(site: Site, topo) -> None:
    """One byte every 5 s used to hold a connection for minutes."""
    from infra_gen.model import duration_seconds

    limit = duration_seconds(topo.env.load_balancer.timeouts.client_body)
    conn = _connect(site)
    head = (f"POST /api/customers HTTP/1.1\r\nHost: {site.session.headers['Host']}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n")
    conn.sendall(head.encode())
    started = time.monotonic()
    answer = b""
    try:
        for _ in range(20):
            conn.sendall(b" ")
            conn.settimeout(5.0)
            try:
                chunk = conn.recv(4096)
            except TimeoutError:
                continue
            answer += chunk
            if not chunk or answer:
                break
    except OSError:
        pass  # reset by the server: cut off, which is the point
    finally:
        conn.close()
    held = time.monotonic() - started
    print(f"\ntrickled body: connection held {held:.1f} s, answer {answer[:12]!r}")
    assert held < limit + 6, f"connection held {held:.1f} s (client_body_timeout {limit} s)"
    assert not answer or answer.startswith(b"HTTP/1.1 408"), answer[:80]


def test_nul_and_deep_nesting_are_4xx_through_the_stack(site: Site, api_token: str) -> None:
    auth = {"Authorization": f"Bearer {api_token}", "Content-Type": "application/json"}
    customer = {"external_id": "nul-1", "name": "a\u0000b", "email": "n@example.com",
                "tenure_months": 1, "monthly_charges": 1.0, "total_charges": 1.0,
                "contract_type": "one-year", "support_calls": 0}
    deep = '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}"
    for body in (json.dumps(customer), deep):
        r = site.post("/api/customers", data=body, headers=auth)
        assert r.status_code == 400, f"{r.status_code}: {r.text[:200]}"
