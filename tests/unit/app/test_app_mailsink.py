"""The SMTP sink (churn.mailsink): a real SMTP client delivers, the HTTP API lists."""

from __future__ import annotations

import json
import os
import smtplib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from conftest import APP_DIR


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[int, int, Path]]:
    smtp, api = _free_port(), _free_port()
    env = {**os.environ, "SMTP_PORT": str(smtp), "API_PORT": str(api),
           "MAIL_DIR": str(tmp_path / "mail"), "PYTHONPATH": str(APP_DIR)}
    proc = subprocess.Popen([sys.executable, "-m", "churn.mailsink"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", smtp), 0.5):
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "the sink did not listen"
                time.sleep(0.1)
        yield smtp, api, tmp_path / "mail"
    finally:
        proc.terminate()
        proc.wait(10)


def _get(api: int, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{api}{path}", timeout=5) as r:
            body = r.read()
            return r.status, json.loads(body) if path != "/healthz" else body.decode()
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _mail(smtp: int, subject: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "am@example.com", "team@example.com", subject
    msg.set_content("RedisDown\n")
    with smtplib.SMTP("127.0.0.1", smtp, timeout=10) as client:
        client.send_message(msg)


def test_every_message_is_kept_as_a_file_and_listed(sink: tuple[int, int, Path]) -> None:
    smtp, api, directory = sink
    assert _get(api, "/healthz") == (200, "ok\n")
    before = time.time()
    _mail(smtp, "[FIRING:1] RedisDown")
    _mail(smtp, "[RESOLVED] RedisDown")
    status, body = _get(api, "/messages")
    assert status == 200
    subjects = [(m["subject"], m["from"], m["to"]) for m in body["messages"]]
    assert subjects == [("[FIRING:1] RedisDown", "am@example.com", "team@example.com"),
                        ("[RESOLVED] RedisDown", "am@example.com", "team@example.com")]
    assert all(m["received"] >= before for m in body["messages"])
    files = sorted(directory.glob("*.eml"))
    assert len(files) == 2 and b"Subject: [FIRING:1] RedisDown" in files[0].read_bytes()
    # ?since= keeps what came after.
    first = body["messages"][0]["received"]
    assert [m["subject"] for m in _get(api, f"/messages?since={first}")[1]["messages"]] \
        == ["[RESOLVED] RedisDown"]


def test_bad_requests_are_4xx(sink: tuple[int, int, Path]) -> None:
    _, api, _ = sink
    assert _get(api, "/messages?since=yesterday")[0] == 400
    assert _get(api, "/nothing")[0] == 404
