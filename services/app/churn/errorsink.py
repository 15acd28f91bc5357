"""A sink for error events (`app-entrypoint error-sink`): it accepts what a Sentry SDK
sends to a DSN (envelopes, POST /api/<project>/envelope/) and lists the events it
got, so a test (or a person) can see the stack's errors without a Sentry server.

    PORT (8030)  POST /api/<project>/envelope/  an envelope (gzip, deflate or plain)
                 GET /events -> {"events": [{id, received, project, release,
                                 environment, level, exceptions, tags}]} (oldest
                                 first; ?since=EPOCH keeps those received after it)
                 GET /healthz -> ok

No authentication: only for the stack's own network. Events are kept in memory, the
newest KEEP of them.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import threading
import time
import zlib
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from churn.sink_http import SinkApi

log = logging.getLogger("churn.errorsink")

KEEP = 1000
"""Events kept; a sink nobody reads must not grow without bound."""
MAX_BODY = 1024 * 1024
"""Largest envelope accepted, compressed or not (Sentry's own limit for one event)."""
_ENVELOPE_PATH = re.compile(r"^/api/(?P<project>[0-9]+)/envelope/?$")


class EnvelopeError(ValueError):
    """The body is not an envelope."""


def parse_envelope(data: bytes) -> tuple[dict[str, Any], list[tuple[dict[str, Any], bytes]]]:
    """An envelope's header and its items (header, payload): newline-separated JSON
    headers, each item's payload `length` bytes long or up to the next newline."""
    head, _, rest = data.partition(b"\n")
    try:
        header = json.loads(head or b"{}")
    except ValueError as exc:
        raise EnvelopeError(f"envelope header: {exc}") from exc
    items = []
    while rest.strip():
        line, _, rest = rest.partition(b"\n")
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise EnvelopeError(f"item header: {exc}") from exc
        length = item.get("length") if isinstance(item, dict) else None
        if isinstance(length, int) and length >= 0:
            payload, rest = rest[:length], rest[length:]
            rest = rest[1:] if rest.startswith(b"\n") else rest
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((item, payload))
    return header, items


def decompress(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli  # type: ignore[import-not-found]  # only where the SDK has it too

        out: bytes = brotli.decompress(body)
        return out
    raise EnvelopeError(f"unsupported Content-Encoding {encoding!r}")


def summary(project: str, event: dict[str, Any], received: float) -> dict[str, Any]:
    """What /events lists of one event."""
    values = (event.get("exception") or {}).get("values") or []
    return {
        "id": event.get("event_id"), "received": received, "project": project,
        "release": event.get("release"), "environment": event.get("environment"),
        "level": event.get("level"),
        "exceptions": [{"type": v.get("type"), "value": v.get("value")} for v in values],
        "tags": event.get("tags") or {},
    }


class Events:
    def __init__(self) -> None:
        self._events: deque[dict[str, Any]] = deque(maxlen=KEEP)
        self._lock = threading.Lock()

    def add(self, project: str, data: bytes) -> int:
        """Keep every event of an envelope; the number kept."""
        _, items = parse_envelope(data)
        kept = 0
        for item, payload in items:
            if item.get("type") != "event":
                continue  # sessions, client reports: not errors
            try:
                event = json.loads(payload)
            except ValueError as exc:
                raise EnvelopeError(f"event payload: {exc}") from exc
            with self._lock:
                self._events.append(summary(project, event, time.time()))
            kept += 1
        return kept

    def since(self, since: float) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._events if e["received"] > since]


def handler(events: Events) -> type[BaseHTTPRequestHandler]:
    class Api(SinkApi):
        list_path, list_key = "/events", "events"

        def items(self, since: float) -> list[dict[str, Any]]:
            return events.since(since)

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            match = _ENVELOPE_PATH.match(urlsplit(self.path).path)
            if match is None:
                self.send_json(404, {"error": "not found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                self.send_json(413 if length else 400, {"error": "body: empty or too large"})
                return
            try:
                body = decompress(self.rfile.read(length),
                                  self.headers.get("Content-Encoding", ""))
                kept = events.add(match["project"], body[: MAX_BODY * 10])
            except (EnvelopeError, OSError, zlib.error) as exc:
                self.send_json(400, {"error": str(exc)})
                return
            if kept:
                log.info("%d event(s) for project %s", kept, match["project"])
            self.send_json(200, {})

    return Api


def serve(port: int, events: Events | None = None, host: str = "") -> ThreadingHTTPServer:
    """A running sink on (host, port), served from a daemon thread (port 0: any)."""
    server = ThreadingHTTPServer((host, port), handler(events or Events()))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "info").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    port = int(os.environ.get("PORT", "8030"))
    server = ThreadingHTTPServer(("", port), handler(Events()))
    log.info("error sink on :%d (envelopes at /api/<project>/envelope/, list at /events)", port)
    server.serve_forever()


if __name__ == "__main__":
    main()
