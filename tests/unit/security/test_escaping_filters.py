"""The escaping filters one by one: what each makes of a value, and what it refuses."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from infra_gen import escaping
from infra_gen.errors import InfraGenError, UserError
from infra_gen.escaping import EscapingError
from infra_gen.render import BUNDLED_TEMPLATES, jinja_environment

TEMPLATES = BUNDLED_TEMPLATES

NASTY = [
    "plain", "", "a b", "it's", '"dq"', "$(id)", "`id`", "${HOME}", "a;b&c|d", "x\ny",
    "tab\there", "back\\slash", "glob*?[a]", "~root", "-n", "100%", "é ünïcode", "'\"'\"'",
]


@pytest.mark.parametrize("value", NASTY)
def test_sh_round_trips_through_bash(value: str) -> None:
    done = subprocess.run(["bash", "-c", f"printf %s {escaping.sh(value)}"],
                          capture_output=True, text=True, check=True)
    assert done.stdout == value


@pytest.mark.parametrize("filt, value, expected", [
    (escaping.sh, "/var/backups/churn", "/var/backups/churn"),
    (escaping.sh, "a b", "'a b'"),
    (escaping.sh, "it's", "'it'\"'\"'s'"),
    (escaping.sh, 7, "7"),
    (escaping.token, 7, "7"),
    (escaping.token, "churn-prediction_prod:8080/x", "churn-prediction_prod:8080/x"),
    (escaping.comment, "any 'thing' $(x) ;{}", "any 'thing' $(x) ;{}"),
    (escaping.cron_schedule, "0 2 * * *", "0 2 * * *"),
    (escaping.cron_schedule, "*/15 0-6 1,15 jan mon", "*/15 0-6 1,15 jan mon"),
    (escaping.cron_schedule, "@daily", "@daily"),
    (escaping.cron_command, "/opt/a b/run.sh", "'/opt/a b/run.sh'"),
    (escaping.cron_command, "/opt/100%/run.sh", "/opt/100\\%/run.sh"),
    (escaping.logrotate_path, "/var/log/app/*.log", "/var/log/app/*.log"),
    (escaping.sql_ident, "churn", "churn"),
    (escaping.sql_ident, "Churn", '"Churn"'),
    (escaping.sql_ident, "select", '"select"'),
    (escaping.sql_ident, 'a"; DROP TABLE x; --', '"a""; DROP TABLE x; --"'),
    (escaping.sql_str, "it's", "'it''s'"),
    (escaping.sql_str, "back\\slash", "'back\\slash'"),
    (escaping.sql_order, "DESC", "DESC"),
    (escaping.hba_name, "churn", '"churn"'),
    (escaping.hba_name, "all", '"all"'),
    (escaping.nginx_str, "/api/", "/api/"),
    (escaping.nginx_str, "a b;c{d}", '"a b;c{d}"'),
    (escaping.nginx_str, 'say "hi" \\o/', '"say \\"hi\\" \\\\o/"'),
    (escaping.nginx_location, "/api/", "/api/"),
    (escaping.nginx_location, "/a } b/", '"/a } b/"'),
    (escaping.nginx_prefix_regex, "/prometheus/", '"~^/prometheus/"'),
    (escaping.nginx_prefix_regex, "/a.b/", '"~^/a\\\\.b/"'),
    (escaping.ssh_value, "~/.ssh/id_ed25519", "~/.ssh/id_ed25519"),
    (escaping.redis_value, "noeviction", "noeviction"),
    (escaping.redis_value, "a b", '"a b"'),
    (escaping.redis_value, 'x"\ny\\', '"x\\"\\x0ay\\\\"'),
    (escaping.fluentd_value, "churn.**", "churn.**"),
    (escaping.md_code, "0 2 * * * | $(x)", "0 2 * * * | $(x)"),
    (escaping.md_text, "api-1 (http) :8000", "api-1 (http) :8000"),
    (escaping.fragment, escaping.Fragment("`a` b"), "`a` b"),
    (escaping.fluentd_value, "/var/lib/docker/containers/*/*-json.log",
     "/var/lib/docker/containers/*/*-json.log"),
])
def test_filter_output(filt: Callable[[Any], str], value: Any, expected: str) -> None:
    assert filt(value) == expected


@pytest.mark.parametrize("filt, value, message", [
    (escaping.token, "a b", "token"),
    (escaping.token, "$(id)", "token"),
    (escaping.token, "x\ny", "token"),
    (escaping.token, "~root", "token"),
    (escaping.token, None, "expected a string or a number"),
    (escaping.token, True, "expected a string or a number"),
    (escaping.sh, "a\0b", "NUL"),
    (escaping.comment, "a\nb", "line break"),
    (escaping.comment, "a\rb", "line break"),
    (escaping.comment, "a\u2028b", "line break"),
    (escaping.cron_schedule, "0 2 * * *\n* * * * * root id", "cron_schedule"),
    (escaping.cron_schedule, "0 2 * * * root", "cron_schedule"),
    (escaping.cron_command, "/a\n* * * * * root id", "line break"),
    (escaping.logrotate_path, "/var/log/x {", "logrotate_path"),
    (escaping.logrotate_path, "/var/log/a b", "logrotate_path"),
    (escaping.logrotate_path, "logs/*.log", "logrotate_path"),
    (escaping.sql_ident, "", "empty"),
    (escaping.sql_str, "a\0", "NUL"),
    (escaping.sql_order, "DESC; DROP", "sql_order"),
    (escaping.hba_name, 'a" all', "hba_name"),
    (escaping.hba_name, "+admins", "hba_name"),
    (escaping.nginx_str, "$host", "nginx_str"),
    (escaping.nginx_str, "a\r\nX-Evil: 1", "nginx_str"),
    (escaping.nginx_location, "~ ^/", "does not start with /"),
    (escaping.nginx_location, "=/exact", "does not start with /"),
    (escaping.nginx_prefix_regex, "^~/x", "does not start with /"),
    (escaping.ssh_value, "u\n    ProxyCommand id", "ssh_value"),
    (escaping.ssh_value, "u ProxyCommand=id", "ssh_value"),
    (escaping.ssh_value, "~/.ssh/%d", "ssh_value"),
    (escaping.ssh_value, "${HOME}/k", "ssh_value"),
    (escaping.fluentd_value, "es\n  @type exec", "fluentd_value"),
    (escaping.fluentd_value, "#{`id`}", "fluentd_value"),
    (escaping.fluentd_value, "es # x", "fluentd_value"),
    (escaping.md_code, "a`b", "md_code"),
    (escaping.md_code, "a\nb", "md_code"),
    (escaping.md_text, "a | b", "md_text"),
    (escaping.md_text, "<script>", "md_text"),
    (escaping.md_text, '"]; evil["', "md_text"),
    (escaping.fragment, "`plain str`", "not a Fragment"),
    (escaping.tokens, "ab", "expected a list"),
])
def test_filter_refuses(filt: Callable[[Any], str], value: Any, message: str) -> None:
    with pytest.raises(EscapingError, match=message):
        filt(value)


def test_tokens_joins_checked_tokens() -> None:
    assert escaping.tokens(["api-1", "api-2"], ", ") == "api-1, api-2"
    with pytest.raises(EscapingError, match="token"):
        escaping.tokens(["api-1", "a b"])


def test_every_filter_is_registered() -> None:
    env = jinja_environment(TEMPLATES)
    for name, filt in escaping.FILTERS.items():
        assert env.filters[name] is filt
    assert env.from_string("X={{ v | sh }}").render(v="a b") == "X='a b'"


def test_escaping_errors_are_bugs_not_user_errors() -> None:
    """A refusal means a type let the value through: it keeps its traceback."""
    assert issubclass(EscapingError, InfraGenError)
    assert not issubclass(EscapingError, UserError)
