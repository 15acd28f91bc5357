"""A tiny service of one's own: answers on PORT (9100), serves Prometheus metrics on
METRICS_PORT (9101) at /internal/metrics, with the conventional HTTP metric names."""

from __future__ import annotations

import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "9100"))
METRICS_PORT = int(os.environ.get("METRICS_PORT", "9101"))
HOST = socket.gethostname()
COUNTS: dict[str, int] = {}
LOCK = threading.Lock()


def _reply(handler: BaseHTTPRequestHandler, status: int, body: bytes, kind: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("X-Served-By", HOST)
    handler.end_headers()
    handler.wfile.write(body)


class App(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 500 if self.path.endswith("/fail") else 200
        _reply(self, status, f"billing {self.path} from {HOST}\n".encode(), "text/plain")
        with LOCK:
            COUNTS[str(status)] = COUNTS.get(str(status), 0) + 1

    def log_message(self, *args: object) -> None:
        pass


class Metrics(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/internal/metrics":
            _reply(self, 404, b"not found\n", "text/plain")
            return
        with LOCK:
            counts = sorted(COUNTS.items())
        total = sum(n for _, n in counts)
        lines = ["# TYPE http_requests_total counter"]
        lines += [f'http_requests_total{{method="GET",status="{s}"}} {n}' for s, n in counts]
        lines += ["# TYPE http_request_duration_seconds histogram"]
        lines += [f'http_request_duration_seconds_bucket{{le="{le}"}} {total}'
                  for le in ("0.1", "+Inf")]
        lines += [f"http_request_duration_seconds_count {total}",
                  "http_request_duration_seconds_sum 0"]
        _reply(self, 200, ("\n".join(lines) + "\n").encode(), "text/plain; version=0.0.4")

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    metrics = ThreadingHTTPServer(("", METRICS_PORT), Metrics)
    threading.Thread(target=metrics.serve_forever, daemon=True).start()
    ThreadingHTTPServer(("", PORT), App).serve_forever()
