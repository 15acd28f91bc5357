"""An SMTP sink for alert mail (`app-entrypoint mail-sink`): every message delivered
to it is kept as one file in MAIL_DIR, and an HTTP port lists them, so a test (or a
person) can read what Alertmanager sent without a mail server.

    SMTP_PORT (2525)  SMTP, no TLS, no authentication: only for the stack's own network
    API_PORT  (8025)  GET /messages -> {"messages": [{id, received, from, to, subject}]}
                      (oldest first; ?since=EPOCH keeps those received after it),
                      GET /healthz -> ok
    MAIL_DIR          one <received ns>.eml file per message; the oldest go past KEEP
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from email.parser import BytesHeaderParser
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from churn.sink_http import SinkApi

log = logging.getLogger("churn.mailsink")

KEEP = 1000
"""Messages kept; a sink that is never read must not fill its volume."""
MAX_MESSAGE = 1024 * 1024
"""Largest message accepted (SMTP SIZE): alert mail is a few kilobytes."""


class Store:
    """One file per message, written whole (temporary name, then rename)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()

    def add(self, content: bytes) -> Path:
        with self._lock:
            path = self.directory / f"{time.time_ns()}.eml"
            partial = path.with_suffix(".part")
            partial.write_bytes(content)
            partial.rename(path)
            for old in self._files()[:-KEEP]:
                old.unlink(missing_ok=True)
        return path

    def _files(self) -> list[Path]:
        return sorted(self.directory.glob("*.eml"), key=lambda p: int(p.stem))

    def messages(self, since: float = 0.0) -> list[dict[str, Any]]:
        out = []
        for path in self._files():
            received = int(path.stem) / 1e9
            if received <= since:
                continue
            try:
                with path.open("rb") as f:
                    headers = BytesHeaderParser(policy=default).parse(f)
            except FileNotFoundError:  # removed past KEEP meanwhile
                continue
            out.append({"id": path.stem, "received": received,
                        "from": str(headers.get("From", "")), "to": str(headers.get("To", "")),
                        "subject": str(headers.get("Subject", ""))})
        return out


class Handler:
    """aiosmtpd handler: keep every message."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def handle_DATA(self, server: SMTP, session: Session,  # noqa: N802 (aiosmtpd's name)
                          envelope: Envelope) -> str:
        content = envelope.original_content or b""
        path = await asyncio.to_thread(self.store.add, content)
        log.info("mail from %s to %s kept as %s", envelope.mail_from,
                 ",".join(envelope.rcpt_tos), path.name)
        return "250 Message accepted for delivery"


def api(store: Store) -> type[BaseHTTPRequestHandler]:
    class Api(SinkApi):
        list_path, list_key = "/messages", "messages"

        def items(self, since: float) -> list[dict[str, Any]]:
            return store.messages(since)

    return Api


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "info").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # aiosmtpd logs every SMTP command at info: one line per message is ours.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    directory = Path(os.environ.get("MAIL_DIR", "/var/spool/mail-sink"))
    directory.mkdir(parents=True, exist_ok=True)
    store = Store(directory)
    http = ThreadingHTTPServer(("", int(os.environ.get("API_PORT", "8025"))), api(store))
    threading.Thread(target=http.serve_forever, daemon=True).start()
    smtp_port = int(os.environ.get("SMTP_PORT", "2525"))

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        handler = Handler(store)
        server = await loop.create_server(
            lambda: SMTP(handler, data_size_limit=MAX_MESSAGE, hostname="mail-sink"),
            host="", port=smtp_port)
        log.info("SMTP sink on :%d, messages in %s, list on :%d/messages",
                 smtp_port, directory, http.server_address[1])
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
