"""The structure of a rendered file, with every literal value abstracted away.

Two renders of one environment that differ only in the text of a string field
must have equal structures: the same crontab entries and command shapes, nginx
directives and blocks, ssh Host blocks and keywords, SQL statements, YAML/JSON
key paths, shell AST, conf directive names. A value that adds a line, closes a
quote, opens a block or splits a word shows up as a difference here.

Each extractor returns a hashable description; `structure(path, content)` picks
one by the file's path. A file that no longer parses has the structure
("unparsable", reason), which differs from any parsed one.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import yaml

Structure = Hashable


# -- YAML and JSON: the set of key paths ----------------------------------------
def key_paths(value: Any, rename: dict[str, str] | None = None) -> frozenset[tuple[str, ...]]:
    """Every mapping key path, list positions generalized to "[]"; rename maps a
    key that a test renamed on purpose (a fuzzed dict key) to a placeholder."""
    rename = rename or {}
    out: set[tuple[str, ...]] = set()

    def walk(node: Any, prefix: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                name = rename.get(str(key), str(key))
                here = (*prefix, name)
                out.add(here)
                walk(child, here)
        elif isinstance(node, list):
            for child in node:
                walk(child, (*prefix, "[]"))

    walk(value, ())
    return frozenset(out)


def yaml_structure(text: str, rename: dict[str, str] | None = None) -> Structure:
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        return ("unparsable", type(exc).__name__)
    return tuple(key_paths(d, rename) for d in docs)


def json_structure(text: str, rename: dict[str, str] | None = None) -> Structure:
    try:
        return key_paths(json.loads(text), rename)
    except ValueError as exc:
        return ("unparsable", type(exc).__name__)


# -- nginx: directive names, argument counts, variables, block nesting -------------
_NGINX_TOKEN = re.compile(
    r"""\s+|\#[^\n]*|(?P<q>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')|(?P<p>[{};])|(?P<w>(?:\\.|[^\s{};"'\\])+)""",
    re.DOTALL,
)
# A variable nginx expands in an argument ($host, ${host}); \$ is not one.
_NGINX_VAR = re.compile(r"(?<!\\)\$\{?[A-Za-z0-9_]")


# Blocks whose lines are "key value;" table entries, not directives.
_TABLE_BLOCKS = {"geo", "map", "split_clients", "types", "match"}


def nginx_tokens(text: str) -> Iterator[tuple[str, str]]:
    pos = 0
    while pos < len(text):
        m = _NGINX_TOKEN.match(text, pos)
        if m is None:
            yield ("error", text[pos:pos + 20])
            return
        pos = m.end()
        if m.group("q"):
            yield ("word", m.group("q"))
        elif m.group("p"):
            yield ("punct", m.group("p"))
        elif m.group("w"):
            yield ("word", m.group("w"))


def nginx_structure(text: str) -> Structure:
    """(depth, directive, number of arguments, variables per argument, ends with)."""
    out: list[tuple[Any, ...]] = []
    depth = 0
    blocks: list[str] = []
    words: list[str] = []
    for kind, tok in nginx_tokens(text):
        if kind == "error":
            return ("unparsable", tok)
        if kind == "word":
            words.append(tok)
            continue
        if tok == "}":
            if words:
                return ("unparsable", "directive without ;")
            depth -= 1
            blocks.pop() if blocks else None
            out.append((depth, "}"))
            continue
        if not words:
            return ("unparsable", f"empty directive before {tok}")
        name, args = words[0], words[1:]
        if blocks and blocks[-1] in _TABLE_BLOCKS:  # entries of a table: the first word is data
            name = "<entry>"
        out.append((depth, name, len(args), tuple(len(_NGINX_VAR.findall(a)) for a in args), tok))
        words = []
        if tok == "{":
            depth += 1
            blocks.append(name)
    if words or depth:
        return ("unparsable", "unterminated")
    return _sorted_blocks(out)


def _sorted_blocks(items: list[tuple[Any, ...]]) -> Structure:
    """The directives as a tree whose siblings are sorted: a value that reorders
    blocks (upstreams sorted by route) keeps the structure; one that adds,
    removes or reshapes a directive does not."""
    root: list[Any] = []
    stack = [root]
    for item in items:
        if item[1] == "}":
            stack.pop()
            continue
        children: list[Any] = []
        stack[-1].append((item[1:], children))
        if item[-1] == "{":
            stack.append(children)

    def freeze(nodes: list[Any]) -> tuple[Any, ...]:
        return tuple(sorted(((head, freeze(kids)) for head, kids in nodes), key=repr))

    return freeze(root)


# -- line-oriented formats ------------------------------------------------------
def _content_lines(text: str, comment: str = "#") -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(comment)]


def _shell_shape(command: str) -> Structure:
    """Shell words abstracted: operators kept, every word counted as "w"."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError as exc:
        return ("unparsable", str(exc))
    return tuple(t if t and set(t) <= set("();<>|&") else "w" for t in tokens)


def crontab_structure(text: str) -> Structure:
    """Per content line: a variable assignment (its name) or an entry: a schedule of
    five fields (or an @keyword), a user, and a command's shape. `%` in a command is
    a newline to cron unless escaped, so unescaped ones are counted."""
    out: list[Structure] = []
    for line in _content_lines(text):
        assignment = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=", line)
        if assignment:
            out.append(("var", assignment.group(1)))
            continue
        fields = line.split()
        n_schedule = 1 if fields[0].startswith("@") else 5
        command = " ".join(fields[n_schedule + 1:])
        out.append(("entry", n_schedule, len(fields) > n_schedule,
                    len(re.findall(r"(?<!\\)%", command)), _shell_shape(command)))
    return tuple(out)


def ssh_config_structure(text: str) -> Structure:
    """Host/Match blocks: each keyword (lower-cased) and its number of arguments."""
    out: list[Structure] = []
    for line in _content_lines(text):
        try:
            words = shlex.split(line.replace("=", " ", 1), posix=True)
        except ValueError as exc:
            return ("unparsable", str(exc))
        out.append((words[0].lower(), len(words) - 1))
    return tuple(out)


def directive_names(text: str, separator: str | None = None) -> Structure:
    """redis.conf, postgresql.conf: the directive of each content line, in order,
    and the number of words of its value (postgresql.conf: quoted as one)."""
    out: list[Structure] = []
    for line in _content_lines(text):
        if separator and separator in line:
            name, value = line.split(separator, 1)
            try:
                words = shlex.split(value, comments=True, posix=True)
            except ValueError as exc:
                return ("unparsable", str(exc))
            out.append((name.strip(), len(words)))
        else:
            try:
                words = shlex.split(line, posix=True)
            except ValueError as exc:
                return ("unparsable", str(exc))
            out.append((words[0], len(words) - 1))
    return tuple(out)


def fields_per_line(text: str) -> Structure:
    """pg_hba.conf: the number of fields of each rule (quotes keep a field whole)."""
    out: list[Structure] = []
    for line in _content_lines(text):
        try:
            out.append(len(shlex.split(line, comments=True, posix=True)))
        except ValueError as exc:
            return ("unparsable", str(exc))
    return tuple(out)


def logrotate_structure(text: str) -> Structure:
    """Blocks: the number of paths before each `{`, the directive names inside."""
    out: list[Structure] = []
    paths = 0
    inside = False
    for line in _content_lines(text):
        try:
            words = shlex.split(line, posix=True)
        except ValueError as exc:
            return ("unparsable", str(exc))
        if inside:
            if words == ["}"]:
                out.append("}")
                inside = False
            else:
                out.append((words[0], len(words) - 1))
            continue
        if words[-1] == "{":
            out.append(("block", paths + len(words) - 1))
            paths = 0
            inside = True
        else:
            paths += len(words)
    return ("unparsable", "unterminated") if inside or paths else tuple(out)


def fluentd_structure(text: str) -> Structure:
    """<section> nesting and the directive name of every other line."""
    out: list[Structure] = []
    stack: list[str] = []
    for line in _content_lines(text):
        s = line.strip()
        close = re.fullmatch(r"</([A-Za-z_@.-]+)>", s)
        open_ = re.fullmatch(r"<([A-Za-z_@.-]+)(\s[^<>]*)?>", s)
        if close:
            if not stack or stack.pop() != close.group(1):
                return ("unparsable", s[:40])
            out.append(("end", close.group(1)))
        elif open_:
            stack.append(open_.group(1))
            out.append(("section", open_.group(1), len((open_.group(2) or "").split())))
        elif s.startswith("<"):
            return ("unparsable", s[:40])
        else:
            out.append(("directive", s.split()[0], len(stack)))
    return ("unparsable", "unclosed") if stack else tuple(out)


def env_file_structure(text: str) -> Structure:
    """env.example: one empty assignment per content line (the names follow the
    secret names, which are values)."""
    return tuple(
        "NAME=" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=", line) else ("not an assignment",)
        for line in _content_lines(text)
    )


def sql_structure(text: str) -> Structure:
    """The kind of each statement (pglast's node names, with constants and names
    abstracted) and the statement count."""
    import pglast  # type: ignore[import-untyped]

    try:
        stmts = pglast.parse_sql(text)
    except pglast.parser.ParseError as exc:
        return ("unparsable", str(exc))
    return tuple(_node_shape(s.stmt) for s in stmts)


def _node_shape(node: Any) -> Structure:
    """The tree of node types; strings and numbers become "v" (they are the values)."""
    from pglast import ast  # type: ignore[import-untyped]

    if isinstance(node, ast.Node):
        children = []
        for name in node.__slots__:
            child = getattr(node, name, None)
            if child is None or name == "location" or name.endswith("_location"):
                continue
            children.append((name, _node_shape(child)))
        return (type(node).__name__, tuple(children))
    if isinstance(node, tuple | list):
        return tuple(_node_shape(c) for c in node)
    if isinstance(node, str | int | float):
        return "v"
    return type(node).__name__


def markdown_structure(text: str) -> Structure:
    """Headings, fences and table rows: a value must not start any of them."""
    return tuple(
        ln.split(" ", 1)[0] if ln.startswith("#") else ln[:3] if ln.startswith("```") else "|"
        for ln in text.splitlines()
        if ln.startswith(("#", "```", "|"))
    )


def shell_structure(text: str) -> Structure:
    """Tokens of the script with the literal text of words dropped (shell_lex.py)."""
    from .shell_lex import ShellSyntax, shell_tokens

    try:
        return shell_tokens(text)
    except ShellSyntax as exc:
        return ("unparsable", str(exc))


Extractor = Callable[[str], Structure]

# First match wins: (regex on the relative path, extractor).
EXTRACTORS: list[tuple[str, Extractor]] = [
    (r"(^|/)MANIFEST$", lambda t: len(t.splitlines())),  # the file set is compared apart
    (r"\.ya?ml$", yaml_structure),
    (r"\.json$", json_structure),
    (r"(^|/)nginx/.*\.conf$", nginx_structure),
    (r"(^|/)crontab$", crontab_structure),
    (r"(^|/)ssh/config$", ssh_config_structure),
    (r"\.sql$", sql_structure),
    (r"(^|/)postgresql\.conf$", lambda t: directive_names(t, "=")),
    (r"(^|/)redis\.conf$", directive_names),
    (r"(^|/)pg_hba\.conf$", fields_per_line),
    (r"(^|/)logrotate/", logrotate_structure),
    (r"(^|/)fluentd/.*\.conf$", fluentd_structure),
    (r"(^|/)env\.example$", env_file_structure),
    (r"\.md$", markdown_structure),
    (r"\.sh$", shell_structure),
]


def extractor_for(path: str) -> Extractor:
    for pattern, extract in EXTRACTORS:
        if re.search(pattern, path):
            return extract
    # Unknown kinds: at least no value may add a line.
    return lambda t: len(t.splitlines())


def structure(path: str, content: str, rename: dict[str, str] | None = None) -> Structure:
    extract = extractor_for(path)
    if rename and extract in (yaml_structure, json_structure):
        return extract(content, rename)  # type: ignore[call-arg]
    return extract(content)


def is_shell_script(path: str, content: str) -> bool:
    return path.endswith(".sh") or content.startswith(("#!/bin/bash", "#!/usr/bin/env bash", "#!/bin/sh"))
