"""Helpers of the running-stack tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import http.client
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3
from requests.adapters import HTTPAdapter

from infra_gen.model import TlsMode
from infra_gen.stack.docker import docker_binary
from infra_gen.topology import PORTS, Container, Topology


def docker(*args: str, check: bool = True, timeout: float = 120) -> str:
    result = subprocess.run([docker_binary(), *args], capture_output=True, text=True,
                            check=False, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


# -- HTTP through the load balancer -------------------------------------------------
class _SniAdapter(HTTPAdapter):
    """Connects to 127.0.0.1 but speaks TLS (SNI, certificate name) for the domain,
    trusting exactly the given certificate (the self-signed one) when there is one."""

    def __init__(self, server_name: str, cafile: Path | None) -> None:
        self.server_name = server_name
        self.cafile = cafile
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self.server_name
        if self.cafile is not None:
            kwargs["assert_hostname"] = self.server_name
            kwargs["ssl_context"] = ssl.create_default_context(cafile=str(self.cafile))
        super().init_poolmanager(*args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)
        if self.cafile is not None:  # our context, not requests' default bundle
            conn.ca_certs = None
            conn.cert_reqs = "CERT_REQUIRED"

    def build_connection_pool_key_attributes(self, request: Any, verify: Any,
                                             cert: Any = None) -> Any:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert)
        if self.cafile is not None:
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs["ssl_context"] = self.poolmanager.connection_pool_kw["ssl_context"]
            pool_kwargs["cert_reqs"] = "CERT_REQUIRED"
        return host_params, pool_kwargs


def _published(lb: Container, container_port: int) -> tuple[str, int] | None:
    for p in lb.published:
        if p.container_port == container_port:
            ip = "127.0.0.1" if p.host_ip in ("0.0.0.0", "", "::") else p.host_ip
            return ip, p.host_port
    return None


class Site:
    """The stack as a client on the host sees it, through the load balancer."""

    def __init__(self, topo: Topology, cert: Path | None) -> None:
        lb = topo.container("lb")
        self.domain = topo.env.domain
        http = _published(lb, PORTS["lb_http"])
        https = _published(lb, PORTS["lb_https"])
        assert http is not None, "the load balancer publishes no http port"
        self.http_base = f"http://{http[0]}:{http[1]}"
        self.tls = https is not None and topo.env.tls.mode is not TlsMode.none
        self.https_addr = https
        self.base = f"https://{https[0]}:{https[1]}" if self.tls and https else self.http_base
        rate = topo.env.load_balancer.rate_limit.requests_per_second
        self.min_interval = 1.0 / (0.75 * rate)
        self._last = 0.0
        self.session = requests.Session()
        self.session.headers["Host"] = self.domain if not https or https[1] == 443 \
            else f"{self.domain}:{https[1]}"
        if self.tls:
            trusted = cert if cert is not None and cert.is_file() else None
            self.session.mount("https://", _SniAdapter(self.domain, trusted))
            if trusted is None:  # certbot/real certificates: not checkable from here
                self.session.verify = False
                urllib3.disable_warnings()

    def new_session(self, token: str | None = None) -> requests.Session:
        """A client of its own (a load thread's), trusting and addressing the site as
        this one does; with token, authorized as the API's bearer."""
        session = requests.Session()
        session.headers.update(self.session.headers)
        if token is not None:
            session.headers["Authorization"] = f"Bearer {token}"
        for prefix, adapter in self.session.adapters.items():
            session.mount(prefix, adapter)
        session.verify = self.session.verify
        return session

    def _pace(self, throttle: bool) -> None:
        # Stay under the load balancer's rate limit (every check shares one client
        # address): at most 3/4 of the allowed rate, so no check meets a 429.
        if not throttle:
            return
        wait = self._last + self.min_interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last = time.monotonic()

    def get(self, path: str, throttle: bool = True, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 15)
        self._pace(throttle)
        return self.session.get(self.base + path, **kw)

    def post(self, path: str, throttle: bool = True, **kw: Any) -> requests.Response:
        return self.request("POST", path, throttle, **kw)

    def put(self, path: str, throttle: bool = True, **kw: Any) -> requests.Response:
        return self.request("PUT", path, throttle, **kw)

    def request(self, method: str, path: str, throttle: bool = True,
                **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 15)
        self._pace(throttle)
        return self.session.request(method, self.base + path, **kw)


def wait_for(check: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """check() until it returns something truthy; the last value (or exception) otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
            if value:
                return value
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
        if time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def cannot_run(reason: str) -> None:
    """A check that cannot run: skipped locally, a failure under CI (tests/conftest.py)."""
    pytest.skip(reason)


def topology_for(config: pytest.Config) -> Topology:
    """The topology under test, at collection time (for parametrizing)."""
    import os

    from infra_gen.stack import Stack

    try:
        option = config.getoption("--env")
    except ValueError:
        option = None
    env = option or os.environ.get("INFRA_GEN_ENV") or "dev"
    root = Path(os.environ.get("INFRA_GEN_ROOT") or Path(__file__).resolve().parents[2])
    return Stack.load(env, root).topo


def _closed_before_response(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, http.client.RemoteDisconnected):
            return True
        seen = seen.__cause__ or seen.__context__ or (
            seen.args[1] if len(seen.args) > 1 and isinstance(seen.args[1], BaseException)
            else seen.args[0] if seen.args and isinstance(seen.args[0], BaseException)
            else None)
    return False


@dataclass
class PacedLoad:
    """GET requests through the load balancer, paced under its rate limit, until
    stopped: (time, status, X-Served-By) of each; status 0 for a connection error."""

    site: Site
    path: str
    results: list[tuple[float, int, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    retried: list[float] = field(default_factory=list)
    """Times a GET was sent again because its kept-alive connection closed before
    any response byte (an nginx reload closes idle keep-alive connections)."""

    def _get(self) -> requests.Response:
        try:
            return self.site.get(self.path)
        except requests.ConnectionError as exc:
            # RFC 9112 9.3.1: a client may retry an idempotent request whose
            # connection closed before the response began, as browsers do; the
            # load balancer cannot prevent that race on a reused connection.
            if not _closed_before_response(exc):
                raise
            self.retried.append(time.monotonic())
            return self.site.get(self.path)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                r = self._get()
                self.results.append((time.monotonic(), r.status_code,
                                     r.headers.get("X-Served-By", "")))
            except requests.RequestException as exc:
                self.results.append((time.monotonic(), 0, repr(exc)))

    def failed(self) -> list[tuple[float, int, str]]:
        return [r for r in self.results if r[1] != 200]

    def first_from(self, host: str) -> float | None:
        return next((t for t, status, by in self.results if status == 200 and by == host), None)
