"""Every expression of every text template is escaped for its context (issue 8).

The walk parses each bundled template (infra_gen/templates/) with the project's one Jinja
environment and looks at every expression that writes output (`{{ ... }}`). An
expression passes when:

- its outermost filter is one of its context's escaping filters (CONTEXTS), or
  `comment` on a line that is a comment of that context (`#`, `--`);
- it is a constant, or a conditional whose branches pass;
- `"%-15s" | format(x, ...)` with a constant format whose arguments all pass
  (padding adds spaces only);
- a call of `header(...)` with constant arguments (it checks the environment name
  with the comment filter itself), or of a macro defined in the same template:
  the macro's body is part of the template and walked like the rest, so the values
  passed to it are escaped where the body writes them.

`{% set %}` is not looked at: a set writes nothing, and its name is checked where
an expression writes it (a value escaped in a set and written bare fails, on
purpose: the escaping must be visible at the point of output).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

import pytest
from jinja2 import nodes

from infra_gen.render import BUNDLED_TEMPLATES, jinja_environment

TEMPLATES = BUNDLED_TEMPLATES


@dataclass(frozen=True)
class Context:
    filters: frozenset[str]
    """Outermost filters that make a value safe here."""
    comment: str | None
    """Line-comment marker, where `comment` is allowed on comment lines."""


def _ctx(comment: str | None, *filters: str) -> Context:
    return Context(frozenset(filters), comment)


SHELL = _ctx("#", "sh", "token", "tokens")
YAML = _ctx("#", "to_yaml", "to_json")
CONTEXTS: dict[str, Context] = {
    # Scripts run as root: values are shell words (sh) or asserted tokens.
    "backup/*.sh.j2": SHELL,
    "failover/*.sh.j2": SHELL,
    "compose/deploy-stack.sh.j2": SHELL,
    "firewall/ufw.sh.j2": SHELL,
    "backup/crontab.j2": _ctx("#", "cron_schedule", "cron_command", "token"),
    "postgres/*.sql.j2": _ctx("--", "sql_ident", "sql_str", "sql_order", "token"),
    "postgres/pg_hba.conf.j2": _ctx("#", "hba_name", "token"),
    "postgres/postgresql.conf.j2": _ctx("#", "token"),
    "nginx/*.j2": _ctx("#", "nginx_str", "nginx_location", "nginx_prefix_regex", "token"),
    "ssh/config.j2": _ctx("#", "ssh_value", "token"),
    "redis/redis.conf.j2": _ctx("#", "redis_value", "token"),
    "redis/sentinel.conf.j2": _ctx("#", "redis_value", "token"),
    "logrotate/*.j2": _ctx("#", "logrotate_path", "token"),
    "mtail/*.j2": _ctx("#", "token"),
    # YAML and JSON are dumped from data; text around the dump is comments only.
    "compose/compose.yaml.j2": YAML,
    "prometheus/*.yml.j2": YAML,
    "prometheus/*/*.yml.j2": YAML,
    "alertmanager/*.yml.j2": YAML,
    "grafana/*/*.json.j2": YAML,
    "grafana/*/*/*.yml.j2": YAML,
    "ci/*.yml.j2": YAML,
    "docs/env.example.j2": _ctx("#", "token"),
    "fluentd/fluent.conf.j2": _ctx("#", "fluentd_value", "token"),
    # Markdown: commands an operator pastes take tokens; code spans md_code, text
    # md_text; fragments the docs artifact composed from escaped parts pass as is.
    "docs/*.md.j2": _ctx(None, "token", "tokens", "md_code", "md_text", "fragment"),
}

PENDING: dict[str, str] = {}
"""Templates whose violations are reported but do not fail yet (owned elsewhere)."""


def template_names() -> list[str]:
    return sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.j2"))


def context_of(name: str) -> Context:
    matches = [pattern for pattern in CONTEXTS if fnmatch.fnmatchcase(name, pattern)]
    if not matches:
        raise KeyError(name)
    # The most specific pattern (fewest wildcards) decides.
    return CONTEXTS[min(matches, key=lambda p: (p.count("*"), -len(p)))]


def _ok(expr: nodes.Expr, ctx: Context, line: str, macros: set[str]) -> bool:
    if isinstance(expr, nodes.Const):
        return True
    if isinstance(expr, nodes.CondExpr):
        return _ok(expr.expr1, ctx, line, macros) and (
            expr.expr2 is None or _ok(expr.expr2, ctx, line, macros))
    if isinstance(expr, nodes.Filter):
        if expr.name in ctx.filters:
            return True
        if expr.name == "comment":
            return ctx.comment is not None and line.lstrip().startswith(ctx.comment)
        if expr.name == "format":
            return isinstance(expr.node, nodes.Const) and all(
                _ok(arg, ctx, line, macros) for arg in expr.args)
        return False
    if isinstance(expr, nodes.Call) and isinstance(expr.node, nodes.Name):
        if expr.node.name in macros:
            return True
        if expr.node.name == "header":
            return all(isinstance(a, nodes.Const) for a in expr.args)
    return False


def violations(name: str) -> list[str]:
    ctx = context_of(name)
    env = jinja_environment(TEMPLATES)
    source = TEMPLATES.joinpath(name).read_text()
    lines = source.splitlines()
    tree = env.parse(source)
    macros = {m.name for m in tree.find_all(nodes.Macro)}
    found = []
    for output in tree.find_all(nodes.Output):
        for expr in output.nodes:
            if isinstance(expr, nodes.TemplateData):
                continue
            line = lines[expr.lineno - 1]
            if not _ok(expr, ctx, line, macros):
                found.append(f"templates/{name}:{expr.lineno}: {line.strip()}")
    return found


def test_every_template_has_a_context() -> None:
    missing = []
    for name in template_names():
        try:
            context_of(name)
        except KeyError:
            missing.append(name)
    assert not missing, f"templates with no escaping context in CONTEXTS: {missing}"


def test_every_context_pattern_matches_a_template() -> None:
    names = template_names()
    stale = [p for p in CONTEXTS if not fnmatch.filter(names, p)]
    assert not stale, f"CONTEXTS patterns matching no template: {stale}"
    assert set(PENDING) <= set(names)


@pytest.mark.parametrize("name", [n for n in template_names() if n not in PENDING])
def test_every_expression_is_escaped_for_its_context(name: str) -> None:
    found = violations(name)
    assert not found, "expressions without their context's escaping filter:\n" + "\n".join(found)


def test_the_walk_catches_an_unescaped_expression(tmp_path: Path) -> None:
    """The walk itself: a bare value, a wrong context's filter and `comment` off a
    comment line are caught; escaped ones, constants and macros pass."""
    ctx = context_of("backup/backup_db.sh.j2")
    env = jinja_environment(TEMPLATES)
    cases = {
        "X={{ x }}": False,
        "X={{ x | sql_ident }}": False,
        "X={{ x | comment }}": False,
        "X={{ x | upper }}": False,
        "X={{ x | sh }}": True,
        "# about {{ x | comment }}": True,
        'X={{ "a" if y else x | sh }}': True,
        'X={{ x if y else "a" }}': False,
        "{% macro m() %}{{ x | sh }}{% endmacro %}{{ m() }}": True,
        '{{ header("#") }}': True,
        "{{ header(x) }}": False,
    }
    for source, expected in cases.items():
        tree = env.parse(source)
        macros = {m.name for m in tree.find_all(nodes.Macro)}
        results = [
            _ok(e, ctx, source, macros)
            for o in tree.find_all(nodes.Output) for e in o.nodes
            if not isinstance(e, nodes.TemplateData)
        ]
        assert all(results) is expected, source
