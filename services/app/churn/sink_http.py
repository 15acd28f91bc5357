"""The HTTP side the sinks share (mail-sink, error-sink): GET /healthz, GET of the
list of what arrived (?since=EPOCH keeps what came after), JSON errors, no access
log (the health check polls every few seconds)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit


class SinkApi(BaseHTTPRequestHandler):
    list_path = "/items"
    """Where the list is served."""
    list_key = "items"
    """Its key in the JSON body."""

    def items(self, since: float) -> list[dict[str, Any]]:
        raise NotImplementedError

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/healthz":
            self.send_body(200, b"ok\n", "text/plain")
        elif url.path == self.list_path:
            try:
                since = float(parse_qs(url.query).get("since", ["0"])[0])
            except ValueError:
                self.send_json(400, {"error": "since: expected seconds"})
                return
            self.send_json(200, {self.list_key: self.items(since)})
        else:
            self.send_json(404, {"error": "not found"})

    def send_json(self, status: int, body: dict[str, Any]) -> None:
        self.send_body(status, json.dumps(body).encode() + b"\n", "application/json")

    def send_body(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass
