"""The generated logrotate configuration passes `logrotate -d` where it is installed."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def test_logrotate_debug_run(stack, tmp_path):
    configs = sorted((stack.env_dir / "logrotate").glob("*"))
    if not configs:
        pytest.skip("no logrotate configuration rendered")
    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if not shutil.which(logrotate):
        pytest.skip("logrotate is not installed here")
    for conf in configs:
        result = subprocess.run([logrotate, "-d", "-s", str(tmp_path / "state"), str(conf)],
                                capture_output=True, text=True, timeout=60, check=False)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "error:" not in output.lower(), output
