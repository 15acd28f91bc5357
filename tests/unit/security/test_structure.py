"""The structure extractors see what a hostile value does and ignore a safe one.

Each row: a file, a different safe value (same structure), and an injected one
(another structure). If an extractor stopped seeing a kind of injection, the
property tests would pass for the wrong reason.
"""

from __future__ import annotations

import pytest

from .structure import structure

CASES = [
    # path, baseline, same structure, changed structure
    ("nginx/nginx.conf", "server { server_name a.com; }", 'server { server_name "b c"; }',
     "server { server_name a; return 200; }"),
    ("nginx/nginx.conf", 'location /a/ { proxy_pass http://x; }', 'location "/b c/" { proxy_pass http://y; }',
     "location /a/ { proxy_pass http://$host; }"),
    ("backup/crontab", "SHELL=/bin/bash\n0 2 * * * root /x/backup.sh\n", "SHELL=/bin/bash\n5 3 * * 1 root '/y z/b.sh'\n",
     "SHELL=/bin/bash\n0 2 * * * root /x/backup.sh; id\n"),
    ("backup/crontab", "0 2 * * * root /x/b.sh\n", "0 2 * * * root /x/b\\%d.sh\n", "0 2 * * * root /x/b%d.sh\n"),
    ("backup/crontab", "0 2 * * * root /x/b.sh\n", "1 1 * * * root /x/c.sh\n", "0 2 * * * root /x/b.sh\n* * * * * root id\n"),
    ("ssh/config", "Host a\n    HostName b\n", "Host c\n    HostName 10.0.0.1\n",
     "Host a\n    HostName b\n    ProxyCommand id\n"),
    ("ssh/config", "Host a\n    User u\n", 'Host a\n    User "v w"\n', "Host a b\n    User u\n"),
    ("postgres/indexes.sql", "CREATE INDEX IF NOT EXISTS i ON t (c);", "CREATE INDEX IF NOT EXISTS j ON u (d);",
     "CREATE INDEX IF NOT EXISTS i ON t (c); DROP TABLE t;"),
    ("postgres/init.sql", "REVOKE ALL ON DATABASE churn FROM PUBLIC;", 'REVOKE ALL ON DATABASE "a;b" FROM PUBLIC;',
     "REVOKE ALL ON DATABASE churn FROM PUBLIC; GRANT ALL ON DATABASE churn TO PUBLIC;"),
    ("backup/backup_db.sh", 'DIR="${DIR:-/var/x}"\nrun "$DIR"\n', 'DIR="${DIR:-/var/y z}"\nrun "$DIR"\n',
     'DIR="${DIR:-/var/$(id)}"\nrun "$DIR"\n'),
    ("backup/backup_db.sh", "X='a'\n", "X='a b;$(id)'\n", "X='a' b\n"),
    ("backup/backup_db.sh", "X='a'\n", "X='a\nb'\n", "X='a'\nid\n"),
    ("backup/backup_db.sh", "cat <<EOF\nhello $X\nEOF\n", "cat <<EOF\nbye $Y\nEOF\n", "cat <<EOF\nhello $(id)\nEOF\n"),
    ("backup/backup_db.sh", "cat <<'EOF'\nhello\nEOF\nls\n", "cat <<'EOF'\n$(id)\nEOF\nls\n",
     "cat <<'EOF'\nhello\nEOF\nid\nEOF\nls\n"),
    ("compose.yaml", "a: {b: 1}\n", "a: {b: 2}\n", "a: {b: 1, c: 2}\n"),
    ("grafana/dashboards/x.json", '{"a": [{"b": 1}]}', '{"a": [{"b": 2}, {"b": 3}]}', '{"a": [{"b": 1, "c": 1}]}'),
    ("logrotate/churn", "/var/log/x/*.log {\n    daily\n}\n", "/var/log/y/*.log {\n    daily\n}\n",
     "/var/log/x/*.log {\n    daily\n    postrotate\n}\n"),
    ("fluentd/fluent.conf", "<match a.**>\n  @type null\n</match>\n", "<match b.**>\n  @type null\n</match>\n",
     "<match a.**>\n  @type null\n</match>\n<match **>\n  @type exec\n</match>\n"),
    ("env.example", "A=\nB=\n", "A=\n# x\nB=\n", "A=\nB=\nC=\n"),
    ("postgres/postgresql.conf", "port = 5432\nlisten_addresses = '*'\n", "port = 6000\nlisten_addresses = 'a b'\n",
     "port = 5432\nlisten_addresses = '*'\nssl = off\n"),
    ("redis/redis.conf", "maxmemory-policy noeviction\n", "maxmemory-policy allkeys-lru\n",
     "maxmemory-policy noeviction\nrename-command CONFIG \"\"\n"),
]


@pytest.mark.parametrize(("path", "baseline", "same", "changed"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_extractor_sees_injection_not_values(path: str, baseline: str, same: str, changed: str) -> None:
    assert structure(path, same) == structure(path, baseline)
    assert structure(path, changed) != structure(path, baseline)
