"""Error tracking: no DSN, nothing initialised; a DSN file, events reach the DSN's
server (churn.errorsink, served here on loopback) with the release and environment
given, from the API's 500 handler and the test-only route."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from churn.api import create_app
from churn.api.services import ApiServices
from churn.config import Config
from churn.error_tracking import init_error_tracking, status
from churn.errors import ConfigError
from churn.errorsink import Events, parse_envelope, serve


@pytest.fixture(autouse=True)
def _no_client_left() -> Iterator[None]:
    yield
    # Never let one test's SDK client report the next test's errors.
    sentry_sdk.init(dsn=None)


@pytest.fixture
def sink() -> Iterator[tuple[Events, int]]:
    events = Events()
    server = serve(0, events, host="127.0.0.1")
    try:
        yield events, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _dsn_file(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "sentry_dsn"
    path.write_text(f"http://publickey@127.0.0.1:{port}/42\n")
    return path


def _wait_for_events(events: Events, count: int = 1) -> list[dict[str, Any]]:
    sentry_sdk.flush(timeout=5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = events.since(0)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{len(events.since(0))} events in the sink, expected {count}")


def test_without_a_dsn_nothing_is_initialised() -> None:
    assert init_error_tracking("api", {}) is False
    assert not sentry_sdk.get_client().is_active()
    assert status() == "error tracking off"
    assert init_error_tracking("api", {"SENTRY_RELEASE": "1.0", "SENTRY_DSN_FILE": ""}) is False
    assert not sentry_sdk.get_client().is_active()


def test_a_dsn_file_initialises_with_release_and_environment(tmp_path: Path,
                                                             sink: tuple[Events, int]) -> None:
    events, port = sink
    env = {"SENTRY_DSN_FILE": str(_dsn_file(tmp_path, port)), "SENTRY_RELEASE": "0.4.2",
           "SENTRY_ENVIRONMENT": "staging"}
    assert init_error_tracking("worker", env) is True
    client = sentry_sdk.get_client()
    assert client.is_active()
    assert client.options["release"] == "0.4.2"
    assert client.options["environment"] == "staging"
    assert not client.options.get("send_default_pii")
    assert status() == "error tracking on (release 0.4.2, environment staging)"
    try:
        raise ValueError("boom")
    except ValueError as exc:
        sentry_sdk.capture_exception(exc)
    [event] = _wait_for_events(events)
    assert (event["project"], event["release"], event["environment"]) == ("42", "0.4.2", "staging")
    assert event["exceptions"] == [{"type": "ValueError", "value": "boom"}]
    assert event["tags"]["service"] == "worker"


def test_the_api_reports_its_500s_and_the_test_route_raises_one(
        tmp_path: Path, sink: tuple[Events, int], api_services: ApiServices) -> None:
    events, port = sink
    env = {"SENTRY_DSN_FILE": str(_dsn_file(tmp_path, port)), "SENTRY_RELEASE": "9.9.9",
           "SENTRY_ENVIRONMENT": "dev"}
    assert init_error_tracking("api", env)
    api = create_app(Config(secret_key="k", test_error_route=True), services=api_services)
    response = api.test_client().get("/api/_test/error?marker=m-1")
    assert response.status_code == 500
    assert response.json == {"error": "internal error", "field": None}
    [event] = _wait_for_events(events)
    assert event["release"] == "9.9.9" and event["environment"] == "dev"
    assert event["exceptions"][0]["type"] == "DeliberateError"
    assert "m-1" in event["exceptions"][0]["value"]


def test_the_test_route_exists_only_when_asked_for(api: Any) -> None:
    assert api.get("/api/_test/error").status_code == 404
    assert Config.from_env({}).test_error_route is False
    assert Config.from_env({"TEST_ERROR_ROUTE": "1"}).test_error_route is True
    assert Config.from_env({"TEST_ERROR_ROUTE": "true"}).test_error_route is False


@pytest.mark.parametrize(("env", "message"), [
    ({"SENTRY_DSN_FILE": "/nonexistent/dsn"}, "SENTRY_DSN_FILE: cannot read"),
    ({"SENTRY_SAMPLE_RATE": "2"}, "SENTRY_SAMPLE_RATE must be between 0 and 1"),
    ({"SENTRY_SAMPLE_RATE": "lots"}, "SENTRY_SAMPLE_RATE must be a number"),
])
def test_bad_settings_are_one_clear_error(tmp_path: Path, env: dict[str, str], message: str) -> None:
    dsn = tmp_path / "dsn"
    dsn.write_text("http://k@127.0.0.1:9/1")
    with pytest.raises(ConfigError, match=message):
        init_error_tracking("api", {"SENTRY_DSN_FILE": str(dsn), **env})


def test_a_bad_dsn_is_refused_without_showing_it(tmp_path: Path) -> None:
    dsn = tmp_path / "dsn"
    dsn.write_text("not-a-dsn-secret-value")
    with pytest.raises(ConfigError) as info:
        init_error_tracking("api", {"SENTRY_DSN_FILE": str(dsn)})
    assert "not-a-dsn-secret-value" not in str(info.value)


def test_envelopes_parse_with_and_without_item_lengths() -> None:
    body = (b'{"event_id":"e1"}\n{"type":"event","length":17}\n{"release":"1.0"}\n'
            b'{"type":"client_report"}\n{"x":1}\n')
    header, items = parse_envelope(body)
    assert header == {"event_id": "e1"}
    assert [(i["type"], p) for i, p in items] == [("event", b'{"release":"1.0"}'),
                                                   ("client_report", b'{"x":1}')]
    events = Events()
    assert events.add("7", body) == 1
    assert events.since(0)[0]["release"] == "1.0"


def test_the_sinks_http_side(sink: tuple[Events, int]) -> None:
    import gzip
    import json
    import urllib.error
    import urllib.request

    _, port = sink
    base = f"http://127.0.0.1:{port}"
    envelope = (b'{}\n{"type":"event"}\n'
                b'{"event_id":"abc","release":"2.0","environment":"qa","level":"error",'
                b'"exception":{"values":[{"type":"KeyError","value":"x"}]}}\n')
    post = urllib.request.Request(f"{base}/api/5/envelope/", data=gzip.compress(envelope),
                                  headers={"Content-Encoding": "gzip"}, method="POST")
    with urllib.request.urlopen(post, timeout=5) as r:
        assert r.status == 200
    with urllib.request.urlopen(f"{base}/events?since=0", timeout=5) as r:
        [event] = json.loads(r.read())["events"]
    assert event["id"] == "abc" and event["project"] == "5"
    assert (event["release"], event["environment"]) == ("2.0", "qa")
    assert event["exceptions"] == [{"type": "KeyError", "value": "x"}]
    with urllib.request.urlopen(f"{base}/healthz", timeout=5) as r:
        assert r.read() == b"ok\n"
    for url, data, code in [(f"{base}/events?since=soon", None, 400),
                            (f"{base}/nothing", None, 404),
                            (f"{base}/api/5/envelope/", b"not json\n", 400),
                            (f"{base}/api/x/envelope/", envelope, 404)]:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=5)
        assert info.value.code == code, url
