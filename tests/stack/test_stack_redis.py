"""Redis (servers and Sentinels) answers PING only with the password (from inside
its container)."""

from __future__ import annotations


def test_ping_needs_the_password(topo, exec_in):
    for c in topo.of_kind("redis", "redis-replica", "redis-sentinel"):
        no_auth = exec_in(c.name, "redis-cli", "-h", "127.0.0.1", "-p", str(c.port), "ping")
        assert "PONG" not in no_auth.stdout, "redis answers PING without a password"
        assert "NOAUTH" in no_auth.stdout + no_auth.stderr
        wrong = exec_in(c.name, "env", "REDISCLI_AUTH=not-the-password", "redis-cli",
                        "--no-auth-warning", "-h", "127.0.0.1", "-p", str(c.port), "ping")
        assert "PONG" not in wrong.stdout
        ok = exec_in(c.name, "sh", "-c",
                     'REDISCLI_AUTH="$(cat "$REDIS_PASSWORD_FILE")" redis-cli --no-auth-warning '
                     f'-h 127.0.0.1 -p {c.port} ping')
        assert ok.stdout.strip() == "PONG", ok.stdout + ok.stderr
