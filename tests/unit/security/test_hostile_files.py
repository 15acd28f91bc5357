"""Hostile environment files (issue 8): each one is exit 2 with one located line.

Every case goes through the console script's entry point (infra_gen.entry.main) and must end
with exit code 2, an `error: environments/hostile.yaml:LINE: FIELD: ...` line, no
traceback, no raw control character on the terminal and nothing in generated/.
The first block is the injection vectors found so far: each is refused by the
type of its field, before any template sees it.
"""

from __future__ import annotations

import itertools
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra_gen.entry import main
from infra_gen.errors import ConfigError
from infra_gen.loader import load_document, load_environment
from infra_gen.render import render_topology
from infra_gen.topology import plan

ROOT = Path(__file__).resolve().parents[3]
FILE = "environments/hostile.yaml"

# (id, YAML after "extends: base\n" (so its first line is line 2), expected substring)
INJECTIONS = [
    ("backup-dir-command-substitution",
     "backups:\n  directory: /var/backups/x$(touch /tmp/pwned)\n",
     f"{FILE}:3: backups.directory: expected an absolute, normalized path"),
    ("database-name-shell-quote",
     'postgres:\n  database: \'churn"; touch /tmp/pwned; : "\'\n',
     f"{FILE}:3: postgres.database: expected a PostgreSQL identifier"),
    ("log-dir-ifs",
     "logging:\n  logrotate:\n    log_dir: /var/log/$(touch$IFS/tmp/pwned)\n",
     f"{FILE}:4: logging.logrotate.log_dir: expected an absolute, normalized path"),
    ("schedule-extra-crontab-line",
     'backups:\n  database:\n    schedule: "0 2 * * *\\n* * * * * root touch /tmp/pwned"\n',
     f"{FILE}:4: backups.database.schedule: expected a cron schedule: 5 fields"),
    ("secrets-dir-compose-include",
     'deploy:\n  secrets_dir: "/etc/x\\ninclude: /tmp/evil.yaml"\n',
     f"{FILE}:3: deploy.secrets_dir: expected a directory, absolute or relative to generated/<env>/"),
    ("bastion-user-proxycommand",
     'ssh:\n  bastion: {hostname: b.example.com, user: "ubuntu\\n  ProxyCommand touch /tmp/pwned"}\n',
     f"{FILE}:3: ssh.bastion.user: expected at most 32 characters"),
    ("identity-file-localcommand",
     'ssh:\n  bastion: {hostname: b.example.com, identity_file: "~/.ssh/k\\nLocalCommand touch /x"}\n',
     f"{FILE}:3: ssh.bastion.identity_file: expected a private key path"),
    ("ssh-host-key-new-host-block",
     'ssh:\n  hosts:\n    "app\\nHost *\\n  ProxyCommand touch /tmp/pwned": 10.0.1.10\n',
     f"{FILE}:4: ssh.hosts.app\\nHost *\\n  ProxyCommand touch /tmp/pwned: invalid key:"),
    ("route-nginx-block",
     "services:\n  api: {route: '/api/ { } location /x/ '}\n",
     f"{FILE}:3: services.api.route: expected a URL path prefix that starts and ends with '/'"),
    ("postgres-user-sql",
     "postgres:\n  user: \"churn'; CREATE ROLE evil SUPERUSER; --\"\n",
     f"{FILE}:3: postgres.user: expected a PostgreSQL identifier"),
    ("redis-policy-replicaof",
     'redis:\n  maxmemory_policy: "noeviction\\nreplicaof attacker 6379"\n',
     f"{FILE}:3: redis.maxmemory_policy: expected 'noeviction', 'allkeys-lru'"),
    ("environment-name-injection",
     "services:\n  api:\n    environment: {'A=1\\nB': x}\n",
     f"{FILE}:4: services.api.environment.A=1\\nB: invalid key:"),
    ("cidr-impossible-address",
     "firewall:\n  private_cidr: 999.999.999.999/99\n",
     f"{FILE}:3: firewall.private_cidr: expected a network such as 10.0.0.0/8"),
    ("cidr-impossible-mask",
     "firewall:\n  private_cidr: 10.0.0.0/33\n",
     f"{FILE}:3: firewall.private_cidr: expected a network such as 10.0.0.0/8"),
    ("cidr-host-bits",
     "firewall:\n  private_cidr: 10.0.0.1/8\n",
     "has host bits set"),
    ("private-cidr-world",
     "firewall:\n  private_cidr: 0.0.0.0/0\n",
     f"{FILE}:3: firewall.private_cidr: 0.0.0.0/0 is effectively everyone"),
    ("private-cidr-almost-world",
     "firewall:\n  private_cidr: 0.0.0.0/1\n",
     f"{FILE}:3: firewall.private_cidr: 0.0.0.0/1 is effectively everyone"),
    ("admin-allow-world",
     "load_balancer:\n  admin_allow: [10.0.0.0/8, 0.0.0.0/0]\n",
     f"{FILE}:3: load_balancer.admin_allow: 0.0.0.0/0 is effectively everyone"),
    ("admin-allow-world-v6",
     "load_balancer:\n  admin_allow: ['::/0']\n",
     f"{FILE}:3: load_balancer.admin_allow: ::/0 is effectively everyone"),
    ("ssh-port-public",
     "firewall:\n  ssh_port: 443\n",
     f"{FILE}:3: firewall.ssh_port: 443 is the SSH port, private"),
]

SEMANTICS = [
    ("datastore-port-public",
     "load_balancer: {http_port: 5432}\nfirewall: {public_ports: [5432, 443]}\n",
     f"{FILE}:2: load_balancer.http_port: 5432 is the postgres port, private"),
    ("http-equals-https",
     "load_balancer: {http_port: 8443, https_port: 8443}\nfirewall: {public_ports: [8443]}\n",
     f"{FILE}:2: load_balancer.https_port: 8443 is also load_balancer.http_port"),
    ("memory-zero",
     "services:\n  api: {resources: {limits: {cpus: 1, memory: 0M}}}\n",
     f"{FILE}:3: services.api.resources.limits.memory: expected a size above zero"),
    ("memory-bare-zero",
     "services:\n  api: {resources: {limits: {cpus: 1, memory: 0}}}\n",
     f"{FILE}:3: services.api.resources.limits.memory: expected a valid string"),
    ("api-without-replicas",
     "services:\n  api: {replicas: 0}\n",
     f"{FILE}:3: services.api.replicas: a routed service (/api/) needs at least 1 replica"),
    ("frontend-without-replicas",
     "services:\n  frontend: {replicas: 0}\n",
     f"{FILE}:3: services.frontend.replicas: a routed service (/) needs at least 1 replica"),
    ("ml-without-replicas-but-workers",
     "services:\n  ml: {replicas: 0}\n",
     f"{FILE}:3: services.ml.replicas: services.worker (a worker) calls the ml service"),
    ("route-shadows-prometheus",
     "services:\n  search: {role: api, route: /prometheus/}\n",
     f"{FILE}:3: services.search.route: '/prometheus/' would shadow the prometheus admin route"),
    ("route-under-grafana",
     "services:\n  search: {role: api, route: /grafana/x/}\n",
     f"{FILE}:3: services.search.route: '/grafana/x/' would shadow the grafana admin route"),
    ("route-is-api-health",
     "services:\n  search: {role: api, route: /health/}\n",
     f"{FILE}:3: services.search.route: '/health/' would shadow the load balancer's own location"),
    ("route-dot-segment",
     "services:\n  search: {role: api, route: /a/../b/}\n",
     f"{FILE}:3: services.search.route: expected a URL path prefix"),
    ("service-named-lb", "services:\n  lb: {role: worker}\n",
     f"{FILE}:3: services.lb: the stack's own containers already use the name 'lb'"),
    ("service-named-postgres", "services:\n  postgres: {role: worker}\n",
     f"{FILE}:3: services.postgres: the stack's own containers already use the name"),
    ("service-named-node", "services:\n  node: {role: worker}\n",
     f"{FILE}:3: services.node: the stack's own containers already use the name"),
    ("service-named-like-a-replica", "services:\n  api-1: {role: worker}\n",
     f"{FILE}:3: services.api-1: 'api-1' is the name of a replica of services.api"),
    ("postgres-superuser", "postgres: {user: postgres}\n",
     f"{FILE}:2: postgres.user: 'postgres' is a reserved role name"),
    ("cron-minute-out-of-range", "backups:\n  database: {schedule: '61 2 * * *'}\n",
     f"{FILE}:3: backups.database.schedule: minute '61' is not in 0-59"),
    ("cron-four-fields", "backups:\n  database: {schedule: '0 2 * *'}\n",
     f"{FILE}:3: backups.database.schedule: expected a cron schedule: 5 fields"),
    ("cron-zero-step", "backups:\n  database: {schedule: '*/0 * * * *'}\n",
     f"{FILE}:3: backups.database.schedule: minute step '0' is not in 1-59"),
    ("email-header-injection",
     "tls: {mode: certbot, email: \"a@example.com\\nBcc: evil@example.com\"}\n",
     f"{FILE}:2: tls.email: expected an e-mail address"),
    ("smarthost-bad-port",
     "alerting:\n  receivers:\n    - name: team-emails\n      email: {to: a@example.com, from: b@example.com,"
     " smarthost: 'smtp.example.com:99999', auth_username: u, auth_password_secret: smtp}\n",
     f"{FILE}:5: alerting.receivers[0].email.smarthost: expected a port 1-65535"),
    ("image-unpinned", "images: {grafana: 'grafana/grafana:latest'}\n",
     f"{FILE}:2: images.grafana: must be pinned to a tag (not latest) or a digest"),
    ("image-with-spaces", "images: {grafana: 'grafana/grafana:11 --privileged'}\n",
     f"{FILE}:2: images.grafana: expected an image reference pinned to a tag"),
    ("bind-address-not-an-address", "load_balancer: {bind_address: '0.0.0.0:22:22'}\n",
     f"{FILE}:2: load_balancer.bind_address: expected an IP address"),
    ("index-column-sql",
     "postgres:\n  indexes: [{name: i, table: t, columns: ['x); DROP TABLE customer; --']}]\n",
     f"{FILE}:3: postgres.indexes[0].columns[0]: expected a PostgreSQL identifier"),
    ("group-by-injection", "alerting:\n  route: {receiver: team-emails, group_by: [\"a\\nb\"]}\n",
     f"{FILE}:3: alerting.route.group_by[0]: expected a Prometheus label name"),
    ("duration-too-long", "monitoring: {retention: 99999999999d}\n",
     f"{FILE}:2: monitoring.retention: expected at most 10 characters"),
    ("secrets-dir-other-placeholder", "deploy: {secrets_dir: '/etc/{project}/x'}\n",
     f"{FILE}:2: deploy.secrets_dir: expected a directory, absolute or relative to generated/<env>/"),
    ("secrets-dir-option", "deploy: {secrets_dir: '-rf'}\n",
     f"{FILE}:2: deploy.secrets_dir: must not start with '-'"),
    ("secrets-dir-climbs-later", "deploy: {secrets_dir: 'secrets/../../../etc'}\n",
     f"{FILE}:2: deploy.secrets_dir: '..' only at the start of a relative path"),
    ("log-dir-dot-dot", "logging:\n  logrotate: {log_dir: /var/log/../../etc}\n",
     f"{FILE}:3: logging.logrotate.log_dir: '.' and '..' segments are not allowed"),
    ("host-impossible-ip", "ssh:\n  hosts: {db-1: 999.1.1.1}\n",
     f"{FILE}:3: ssh.hosts.db-1: expected a host name or an IPv4 address"),
    ("world-opt-in-without-reason",
     "firewall: {private_cidr: 0.0.0.0/0, allow_world_private: {}}\n",
     f"{FILE}:2: firewall.allow_world_private.reason: required field is missing"),
]

LOADER = [
    ("yaml-custom-tag", "services:\n  api: !custom {replicas: 2}\n",
     f"{FILE}:3: services.api: YAML tag '!custom' is not supported"),
    ("yaml-int-tag-on-text", "services:\n  api: {replicas: !!int abc}\n",
     f"{FILE}:3: services.api.replicas: not a valid int: 'abc'"),
    ("yaml-python-tag", "services:\n  api: !!python/object/apply:os.system ['touch /tmp/pwned']\n",
     f"{FILE}:3: services.api: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'"),
    ("yaml-binary-tag", "project: !!binary aGVsbG8=\n",
     f"{FILE}:2: project: YAML tag 'tag:yaml.org,2002:binary' is not supported"),
    ("self-referencing-alias", "services: &s\n  api: *s\n",
     f"{FILE}:3: services.api: an alias refers to a node that contains it"),
    ("deep-nesting", "services: " + "[" * 3000 + "]" * 3000 + "\n",
     f"{FILE}:2: nesting deeper than 32 levels"),
    ("infinity", "services:\n  api: {resources: {limits: {cpus: .inf, memory: 1G}}}\n",
     f"{FILE}:3: services.api.resources.limits.cpus: expected a finite number, got inf"),
    ("nan", "monitoring:\n  thresholds: {drift_psi: .nan}\n",
     f"{FILE}:3: monitoring.thresholds.drift_psi: expected a finite number"),
    ("float-overflow", "services:\n  api: {resources: {limits: {cpus: 1e400, memory: 1G}}}\n",
     f"{FILE}:3: services.api.resources.limits.cpus: expected a finite number"),
    ("400-digit-number", "services:\n  api: {replicas: 1" + "0" * 400 + "}\n",
     f"{FILE}:3: services.api.replicas: expected less than or equal to 50, got 1000"),
    ("5000-digit-number", "services:\n  api: {replicas: 1" + "0" * 5000 + "}\n",
     f"{FILE}:3: services.api.replicas: not a valid int: '1000"),
    ("huge-pids", "services:\n  api: {resources: {pids: 99999999999999999999}}\n",
     f"{FILE}:3: services.api.resources.pids: expected less than or equal to 1000000"),
    ("complex-key", "services:\n  ? [a, b]\n  : {role: api}\n",
     f"{FILE}:3: services: a key must be plain text"),
    ("merge-of-a-scalar", "services:\n  api:\n    <<: 3\n",
     f"{FILE}:4: services.api: << (merge) expects a mapping"),
]

EXTENDS = [
    ("extends-path", "extends: ../../etc/passwd\n",
     f"{FILE}:1: extends: expected the name of another file in environments/"),
    ("extends-cidr", "extends: 10.0.0.0/8\n",
     f"{FILE}:1: extends: expected the name of another file in environments/"),
    ("extends-mapping", "extends: {a: 1}\n",
     f"{FILE}:1: extends: expected the name of another file in environments/"),
]

CASES = [pytest.param("extends: base\n" + body, want, id=name)
         for name, body, want in INJECTIONS + SEMANTICS + LOADER]
CASES += [pytest.param(body, want, id=name) for name, body, want in EXTENDS]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    for part in ("environments", "templates"):
        shutil.copytree(ROOT / part, root / part)
    return root


@pytest.fixture
def hostile(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(project)
    path = project / FILE
    yield path
    path.unlink(missing_ok=True)
    assert not (project / "generated").exists(), "a hostile file got something written"


def run_cli(capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
            *args: str) -> tuple[int, str]:
    """The console script's entry point, in-process: SystemExit carries the code, and
    any other exception (a traceback for the user) fails the test."""
    monkeypatch.setattr(sys, "argv", ["infra-gen", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    out, err = capfd.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out + err


def assert_one_clean_error(code: int, output: str, want: str) -> None:
    assert code == 2, output
    lines = output.splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    assert want in lines[0], f"{want!r} not in {lines[0]!r}"
    assert all(c.isprintable() for c in lines[0]), repr(lines[0])
    assert "Traceback" not in output


BYTES = [
    pytest.param(b"extends: base\nproject: caf\xe9\n", f"{FILE}:2: not UTF-8 text (byte 0xe9",
                 id="latin-1"),
    pytest.param(b"\x7fELF\x02\x01\x01\x00\x00\x00", f"{FILE}:1: invalid YAML: character '\\x7f'",
                 id="binary"),
    pytest.param(b"extends: base\nproject: a\x00b\n", f"{FILE}:2: invalid YAML: character '\\x00'",
                 id="nul-byte"),
    pytest.param(b"extends: base\nproject: \x1b[31mred\n", f"{FILE}:2: invalid YAML: character '\\x1b'",
                 id="raw-ansi"),
    pytest.param(b"extends: base\ndomain: " + b"a" * 50 * 1024 * 1024 + b"\n",
                 f"{FILE}: file is larger than 1 MiB", id="50-MB-value"),
]


@pytest.mark.parametrize(("content", "want"), CASES + BYTES)
def test_hostile_file_is_one_located_error(
    hostile: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    content: str | bytes, want: str,
) -> None:
    hostile.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert_one_clean_error(*run_cli(capfd, monkeypatch, "render", "hostile"), want)


def test_escaped_user_text_reaches_the_terminal_escaped(
    hostile: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # YAML's own escapes (\e, \n, \u202e) give a key with ESC, a newline and a
    # right-to-left override: all shown as escapes, on one line.
    hostile.write_text('extends: base\nservices:\n  "\\e[2J\\e[31mx\\nerror: all good\\u202e": {}\n')
    code, output = run_cli(capfd, monkeypatch, "render", "hostile")
    assert_one_clean_error(code, output, "services.\\x1b[2J\\x1b[31mx\\nerror: all good\\u202e")
    assert "\x1b" not in output and "\u202e" not in output


def test_line_numbers_are_not_read_as_emoji_codes(
    hostile: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # rich would print "hostile.yaml:100:" as "hostile.yaml💯" and "[red]" as markup.
    hostile.write_text("extends: base\n" + "#\n" * 97 + "project: '[red]:100:'\n")
    code, output = run_cli(capfd, monkeypatch, "render", "hostile")
    assert_one_clean_error(code, output, f"{FILE}:99: project: expected lower-case letters, digits and _")
    hostile.write_text("extends: base\n" + "#\n" * 98 + "project: '[red]:100:'\n")
    code, output = run_cli(capfd, monkeypatch, "render", "hostile")
    assert_one_clean_error(code, output, f"{FILE}:100: project:")
    assert "'[red]:100:'" in output


def test_alias_bomb_is_refused_fast(hostile: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    hostile.write_text("\n".join(lines) + "\n")
    assert hostile.stat().st_size < 1024
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="expands to more than 20000 values"):
        load_document(hostile)
    assert time.perf_counter() - started < 1.0


def test_merge_keys_are_supported_with_their_lines(hostile: Path) -> None:
    hostile.write_text(
        "extends: base\n"
        "services:\n"
        "  api: &app\n"
        "    replicas: 2\n"
        "    concurrency: 3\n"
        "  search:\n"
        "    <<: *app\n"
        "    role: api\n"
        "    route: /search/\n"
        "    concurrency: 5\n"
    )
    env = load_environment(hostile)
    assert env.services["search"].replicas == 2  # merged in
    assert env.services["search"].concurrency == 5  # the mapping's own key wins
    where = load_document(hostile).where
    assert where[("services", "search", "replicas")][1] == 4  # written on the anchor's line
    hostile.write_text(hostile.read_text().replace("replicas: 2", "replicas: -2"))
    with pytest.raises(ConfigError) as info:
        load_environment(hostile)
    lines = [str(p) for p in info.value.problems]
    assert any(line.endswith(":4: services.search.replicas: expected greater than or equal "
                             "to 0, got -2") for line in lines), lines


def test_world_networks_with_a_named_opt_in_are_accepted(hostile: Path) -> None:
    hostile.write_text(
        "extends: base\n"
        "firewall: {private_cidr: 0.0.0.0/0, allow_world_private: {reason: throw-away lab}}\n"
        "load_balancer: {admin_allow: ['::/0'], allow_world_admin: {reason: 'demo, no data'}}\n"
    )
    env = load_environment(hostile)
    assert env.firewall.private_cidr == "0.0.0.0/0"
    assert env.load_balancer.admin_allow == ["::/0"]


def test_dollar_in_an_environment_value_stays_literal(hostile: Path) -> None:
    """`${HOME}` is text the user wrote, not a variable: compose gets `$${HOME}`."""
    hostile.write_text(
        "extends: base\nservices:\n  api:\n    environment: {GREETING: '${HOME} $(id)'}\n")
    env = load_environment(hostile)
    assert env.services["api"].environment["GREETING"] == "${HOME} $(id)"
    compose = render_topology(plan(env), hostile.parents[1] / "templates")["compose.yaml"]
    text = compose.content.decode()
    assert "GREETING: $${HOME} $$(id)" in text
    assert "${HOME}" not in text.replace("$${HOME}", "")


def test_all_environments_render_nothing_when_one_is_hostile(
    hostile: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    hostile.write_text("extends: base\nbackups: {directory: '/x\\n/y'}\n")
    code, output = run_cli(capfd, monkeypatch, "render", "--all")
    assert_one_clean_error(code, output, f"{FILE}:2: backups.directory:")


def test_extends_with_a_trailing_newline_is_not_a_name(hostile: Path) -> None:
    hostile.write_text('extends: "base\\n"\n')
    with pytest.raises(ConfigError, match="extends: expected the name of another file"):
        load_environment(hostile)


def test_a_long_extends_chain_is_refused(hostile: Path) -> None:
    envs = hostile.parent
    names = [f"chain{i}" for i in range(12)]
    try:
        for child, parent in itertools.pairwise(names):
            (envs / f"{child}.yaml").write_text(f"extends: {parent}\n")
        (envs / f"{names[-1]}.yaml").write_text("extends: base\n")
        with pytest.raises(ConfigError, match="extends: more than 8 files extend one another"):
            load_document(envs / "chain0.yaml")
    finally:
        for name in names:
            (envs / f"{name}.yaml").unlink()


@pytest.mark.parametrize("args", [
    ("render", "--bogus\x1b[2J"),
    ("nosuch\x1b[2J",),
    ("validate", "dev", "--format", "\x1b[2J"),
    ("render", "\x1b[31mqa"),
], ids=["option", "command", "bad-format", "environment-name"])
def test_bad_command_lines_are_escaped_usage_errors(
    project: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
) -> None:
    monkeypatch.chdir(project)
    code, output = run_cli(capfd, monkeypatch, *args)
    assert code == 2, output
    assert "\x1b" not in output and "Traceback" not in output
    assert "\\x1b" in output
