"""Local secrets: outside generated/, ignored by git, the directory closed to other
host users, and each container able to read (only) the secrets it declares."""

from __future__ import annotations

import stat
import subprocess

import pytest

from infra_gen.model import TlsMode
from infra_gen.stack.secrets import DIR_MODE


def test_secrets_outside_generated_and_ignored(stack):
    d = stack.secrets
    assert stack.project.generated_dir not in d.parents
    assert stat.S_IMODE(d.stat().st_mode) == DIR_MODE
    for name in stack.topo.secrets:
        path = d / name
        assert path.is_file() and path.stat().st_size >= 32, name
        ignored = subprocess.run(["git", "check-ignore", "-q", str(path)],
                                 cwd=stack.project.root, check=False)
        if ignored.returncode == 128:
            pytest.skip("not a git checkout")
        assert ignored.returncode == 0, f"{path} is not ignored by git"


def test_every_container_reads_its_secrets(stack, topo, exec_in):
    for c in topo.containers:
        for name in c.secrets:
            check = f"test -s /run/secrets/{name} && head -c1 /run/secrets/{name} >/dev/null"
            if c.one_shot:
                # Exited by now: a fresh container of the service, as it would run.
                r = stack.compose("run", "--rm", "--no-deps", "-T", "--entrypoint", "sh",
                                  c.name, "-c", check, capture=True, check=False, timeout=120)
            else:
                r = exec_in(c.name, "sh", "-c", check)
            assert r.returncode == 0, f"{c.name} ({c.user}) cannot read {name}: {r.stderr}"


def test_self_signed_certificate_names_the_domain(stack, topo):
    if topo.env.tls.mode is not TlsMode.self_signed:
        pytest.skip("not tls: self-signed")
    cert = stack.secrets / "tls" / "fullchain.pem"
    out = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-ext", "subjectAltName",
                          "-checkend", "86400"], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert f"DNS:{topo.env.domain}" in out.stdout
