"""Escaping by context: the Jinja filters every value goes through in a text template.

Defense in depth behind the model's types (DESIGN.md, "No value can change a file's
structure"): the types refuse a hostile value at load time; these filters make sure
that a value which slipped past them still cannot change the structure of the file
it lands in. Each filter is for one context. Where a context has a quoting syntax the
filter quotes (shell, SQL, nginx and redis strings); where it has none, or quoting
cannot help (a newline in a comment, `%` in an ssh value, a cron schedule), the
filter refuses. A refusal is an ``EscapingError``: a bug, not a user error, since
the model should have refused the value first.

tests/unit/security/test_template_escaping.py walks every template and fails on an
expression whose outermost filter is not one its context allows (CONTEXT_FILTERS).
"""

from __future__ import annotations

import re
from typing import Any

from .errors import InfraGenError


class EscapingError(InfraGenError):
    """A value reached a template it could not be made safe for: the model's types
    should have refused it (a bug, not a user error)."""


def _text(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise EscapingError(f"{what}: expected a string or a number, got {type(value).__name__}")
    text = str(value)
    if "\0" in text:
        raise EscapingError(f"{what}: NUL character in {text!r}")
    return text


def _refuse(value: Any, what: str, pattern: re.Pattern[str]) -> str:
    text = _text(value, what)
    if not pattern.fullmatch(text):
        raise EscapingError(f"{what}: {text!r} is not allowed here (must match {pattern.pattern})")
    return text


_TOKEN = re.compile(r"[A-Za-z0-9_.:/@+,=-]*")


def token(value: Any) -> str:
    """A value whose type cannot carry a metacharacter (a number, an enum, a
    validated name): asserted at render time, rendered as is. Its characters are
    inert in every context here: no whitespace, quote, `$`, `;`, `{}`, `%`, `#`, `~`."""
    return _refuse(value, "token", _TOKEN)


def tokens(values: Any, separator: str = " ") -> str:
    """A list of tokens, joined."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise EscapingError(f"tokens: expected a list, got {type(values).__name__}")
    return separator.join(token(v) for v in values)


_LINE_BREAK = re.compile(r"[\r\n\v\f\x85\u2028\u2029]")


def comment(value: Any) -> str:
    """Text inside a line comment (`#`, `--`): anything but a line break."""
    text = _text(value, "comment")
    if _LINE_BREAK.search(text):
        raise EscapingError(f"comment: line break in {text!r}")
    return text


# -- POSIX shell ------------------------------------------------------------------

_SH_SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")


def sh(value: Any) -> str:
    """One shell word with exactly this value: bare when it has only inert
    characters, else single-quoted (a quote inside becomes '"'"'). Nothing in a
    single-quoted word is expanded, so `$(...)`, backquotes and `;` stay text."""
    text = _text(value, "sh")
    if _SH_SAFE.fullmatch(text):
        return text
    return "'" + text.replace("'", "'\"'\"'") + "'"


# -- crontab ------------------------------------------------------------------------

_CRON_FIELD = r"[0-9A-Za-z*,/-]+"
_CRON_SCHEDULE = re.compile(
    rf"@(yearly|annually|monthly|weekly|daily|hourly|reboot)|{_CRON_FIELD}( {_CRON_FIELD}){{4}}"
)


def cron_schedule(value: Any) -> str:
    """The five time fields of a crontab line (or an @nickname): one line, no more."""
    return _refuse(value, "cron_schedule", _CRON_SCHEDULE)


def cron_command(value: Any) -> str:
    """A command word of a crontab line: shell-quoted, and `%` escaped (cron turns an
    unescaped `%` into a newline and feeds the rest to the command's stdin)."""
    text = _text(value, "cron_command")
    if re.search(r"[\r\n]", text):
        raise EscapingError(f"cron_command: line break in {text!r}")
    return sh(text).replace("%", "\\%")


# -- logrotate -------------------------------------------------------------------

_LOGROTATE_PATH = re.compile(r"/[A-Za-z0-9_.:/@+,=*?\[\]-]*")


def logrotate_path(value: Any) -> str:
    """An absolute path or glob of a logrotate stanza. logrotate splits on
    whitespace and has no escape for quotes, braces or `#`: those are refused."""
    return _refuse(value, "logrotate_path", _LOGROTATE_PATH)


# -- SQL (PostgreSQL) ------------------------------------------------------------

_SQL_PLAIN = re.compile(r"[a-z_][a-z0-9_]*")
# PostgreSQL's reserved key words (SQL key words appendix): a bare one is a syntax
# error, so it is quoted like any other non-plain name.
_SQL_RESERVED = frozenset((
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric",
    "authorization", "binary", "both", "case", "cast", "check", "collate", "collation",
    "column", "concurrently", "constraint", "create", "cross", "current_catalog",
    "current_date", "current_role", "current_schema", "current_time", "current_timestamp",
    "current_user", "default", "deferrable", "desc", "distinct", "do", "else", "end",
    "except", "false", "fetch", "for", "foreign", "freeze", "from", "full", "grant",
    "group", "having", "ilike", "in", "initially", "inner", "intersect", "into", "is",
    "isnull", "join", "lateral", "leading", "left", "like", "limit", "localtime",
    "localtimestamp", "natural", "not", "notnull", "null", "offset", "on", "only", "or",
    "order", "outer", "overlaps", "placing", "primary", "references", "returning", "right",
    "select", "session_user", "similar", "some", "symmetric", "system_user", "table",
    "tablesample", "then", "to", "trailing", "true", "union", "unique", "user", "using",
    "variadic", "verbose", "when", "where", "window", "with"
))


def sql_ident(value: Any) -> str:
    """A PostgreSQL identifier: bare when plain lower-case and not reserved, else
    double-quoted with `"` doubled."""
    text = _text(value, "sql_ident")
    if not text:
        raise EscapingError("sql_ident: empty identifier")
    if _SQL_PLAIN.fullmatch(text) and text not in _SQL_RESERVED:
        return text
    return '"' + text.replace('"', '""') + '"'


def sql_str(value: Any) -> str:
    """A standard-conforming SQL string literal: single-quoted, `'` doubled (with
    standard_conforming_strings on, the default, a backslash is an ordinary character)."""
    return "'" + _text(value, "sql_str").replace("'", "''") + "'"


_SQL_ORDER = re.compile(r"ASC|DESC")


def sql_order(value: Any) -> str:
    """ASC or DESC."""
    return _refuse(value, "sql_order", _SQL_ORDER)


# -- pg_hba.conf -------------------------------------------------------------------

_HBA_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def hba_name(value: Any) -> str:
    """A database or role name of pg_hba.conf, always double-quoted: quoted, `all`,
    `replication`, `samerole` lose their meaning and a leading `+` or `@` is no
    group or file include. pg_hba.conf has no escape for `"`: such a name is refused."""
    return '"' + _refuse(value, "hba_name", _HBA_NAME) + '"'


# -- nginx --------------------------------------------------------------------------

_NGINX_SAFE = re.compile(r"[A-Za-z0-9_./:@+=,-]+")


def nginx_str(value: Any) -> str:
    """One nginx argument: bare when inert, else double-quoted with `\\` and `"`
    escaped (so `;`, `{`, `}`, `#` and spaces stay inside it). nginx has no escape
    for `$` (a variable) and a line break would split a header: both are refused."""
    text = _text(value, "nginx_str")
    if re.search(r"[$\r\n]", text):
        raise EscapingError(f"nginx_str: `$` or a line break in {text!r}")
    if _NGINX_SAFE.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def nginx_location(value: Any) -> str:
    """A location path. nginx reads a leading `=`, `~` or `^~` as a modifier even
    inside quotes, so the path must start with `/`; it is then an nginx_str."""
    text = _text(value, "nginx_location")
    if not text.startswith("/"):
        raise EscapingError(f"nginx_location: {text!r} does not start with /")
    return nginx_str(text)


def nginx_prefix_regex(value: Any) -> str:
    """A case-sensitive nginx regex (map, location ~) matching paths that start with
    this literal prefix: every regex metacharacter escaped, then an nginx_str."""
    text = _text(value, "nginx_prefix_regex")
    if not text.startswith("/"):
        raise EscapingError(f"nginx_prefix_regex: {text!r} does not start with /")
    return nginx_str("~^" + re.escape(text))


# -- ssh_config ---------------------------------------------------------------------

_SSH_VALUE = re.compile(r"[A-Za-z0-9_.:/@+,~-]+")


def ssh_value(value: Any) -> str:
    """An ssh_config argument. ssh_config splits on whitespace and `=`, has no escape
    for `"`, and expands `%` tokens and `${VAR}` in some keywords: only inert
    characters pass (`~` too, for ~/.ssh paths)."""
    return _refuse(value, "ssh_value", _SSH_VALUE)


# -- redis.conf ---------------------------------------------------------------------

_REDIS_SAFE = re.compile(r"[A-Za-z0-9_./:@+,-]+")


def redis_value(value: Any) -> str:
    """One redis.conf argument: bare when inert, else a double-quoted string in
    which `\\`, `"` and every non-printable character are escaped (redis' own
    sdssplitargs rules), so a line break cannot start a new directive."""
    text = _text(value, "redis_value")
    if _REDIS_SAFE.fullmatch(text):
        return text
    out = []
    for ch in text:
        if ch in '\\"':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode())
    return '"' + "".join(out) + '"'


# -- Markdown (runbook, architecture) -------------------------------------------------


class Fragment(str):
    """Markdown an artifact module composed from values it escaped itself (with
    token, md_code, md_text): the `fragment` filter passes only these."""


def fragment(value: Any) -> str:
    """A Fragment, as is; anything else is a bug (a plain string is not escaped)."""
    if not isinstance(value, Fragment):
        raise EscapingError(f"fragment: {value!r} is not a Fragment")
    return str(value)


def md_code(value: Any) -> str:
    """Text inside a Markdown code span: no backquote (it would end the span) and
    no line break. Commands someone may paste take `token` instead."""
    text = _text(value, "md_code")
    if "`" in text or _LINE_BREAK.search(text):
        raise EscapingError(f"md_code: backquote or line break in {text!r}")
    return text


_MD_TEXT_REFUSED = re.compile(r"[`|<>\\\[\]\"]")


def md_text(value: Any) -> str:
    """Markdown text, a table cell or a quoted Mermaid label: no line break, and none
    of the characters that open markup, end a cell or a label."""
    text = _text(value, "md_text")
    if _LINE_BREAK.search(text) or _MD_TEXT_REFUSED.search(text):
        raise EscapingError(f"md_text: markup character or line break in {text!r}")
    return text


# -- fluentd ------------------------------------------------------------------------

_FLUENTD_VALUE = re.compile(r"[A-Za-z0-9_.:/@+,=*-]+")


def fluentd_value(value: Any) -> str:
    """A fluentd parameter or tag pattern, unquoted. A double-quoted fluentd string
    runs `#{...}` as Ruby, and an unquoted value ends at the line: only inert
    characters pass (`*` too, for tag patterns and path globs)."""
    return _refuse(value, "fluentd_value", _FLUENTD_VALUE)


FILTERS = {
    f.__name__: f
    for f in (token, tokens, comment, fragment, md_code, md_text, sh, cron_schedule,
              cron_command, logrotate_path, sql_ident, sql_str, sql_order, hba_name, nginx_str,
              nginx_location, nginx_prefix_regex, ssh_value, redis_value, fluentd_value)
}
"""Registered in the one Jinja environment (render.jinja_environment)."""
