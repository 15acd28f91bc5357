"""Hypothesis strategies derived from the model itself, so they follow its types.

`string_slots` walks Environment's JSON Schema alongside a complete environment
(every default filled in) and lists every place a string goes: a field whose
schema is a string (pattern, maxLength, format kept), an item of a list of
strings, or the key of a dict of scalars (ssh.hosts aliases, environment
variable names). Enums and consts are choices, not strings: they are left out,
and so are numbers, booleans and list lengths, which change a file's structure
on purpose (replicas, ports, receivers).

`hostile_strings(schema)` draws what the type allows (from its pattern) and what
an attacker would try (newlines, quotes, $, backticks, ;, braces, %, unicode),
alone or glued to an allowed value; the test keeps those the model accepts.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

# Characters that end a line, a quote, a word, a block or a statement somewhere.
NASTY_CHARS = list("\n\r\t '\"`$;{}()[]<>|&%#\\!*?=,:@/.-_~^") + [
    "\x00", "\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\ufeff", "é", "\u202e", "💥",
]

PAYLOADS = [
    "", " ", "\n", "\r\n", "'", '"', "`id`", "$(id)", "${IFS}", "$HOME", "a; id", "a && id", "a | id",
    "a\nid", "a\n  ProxyCommand id", "x\nHost *\n  ProxyCommand id", "';DROP TABLE x;--",
    '";DROP TABLE x;--', "$$;DROP TABLE x;$$", "x\\", "\\'", "}", "{", "} location / { return 200; }",
    "a;\n    return 200", "%", "%s%n", "0 2 * * * root id", "* * * * * root id\n", "{{ 7*7 }}", "{% raw %}",
    "#", "# comment", "--", "/*", "*/", "..", "../../etc/passwd", "/etc/passwd", "~", "-rf", "--help",
    "a b", "\t", "\x00", "\u2028", "é", "💥", "include /etc/passwd;", "key: value", "- item", "&a", "*a",
    "!!python/object/apply:os.system ['id']", "<script>", "</match>\n<match **>", "@include /etc/passwd",
    "a=b", "A=b\nB", "!", "\\n", "0.0.0.0/0", "127.0.0.1 ; id", "x" * 300,
]


@dataclass(frozen=True)
class Slot:
    """Where a string goes: path into the environment data; is_key when the
    string is a dict key (path then ends with the existing key)."""

    path: tuple[str | int, ...]
    schema: dict[str, Any]
    is_key: bool = False

    def __str__(self) -> str:
        shown = ".".join(str(p) for p in self.path)
        return f"key of {shown}" if self.is_key else shown


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = {**root["$defs"][name], **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


# A pattern that only lists words (^(daily|weekly|monthly)$) is an enum in disguise.
_ALTERNATION = re.compile(r"^\^?\(?[A-Za-z0-9_-]+(\|[A-Za-z0-9_-]+)+\)?\$?$")


def _is_choice(schema: dict[str, Any]) -> bool:
    return "enum" in schema or "const" in schema or bool(_ALTERNATION.match(schema.get("pattern", "")))


def _options(schema: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            return [o for s in schema[combinator] for o in _options(_resolve(s, root), root)]
    return [schema]


def string_slots(schema_root: dict[str, Any], data: Any) -> list[Slot]:
    slots: list[Slot] = []

    def walk(schema: dict[str, Any], value: Any, path: tuple[str | int, ...]) -> None:
        for option in _options(_resolve(schema, schema_root), schema_root):
            kind = option.get("type")
            if _is_choice(option):
                continue
            if kind == "string" and (value is None or isinstance(value, str)):
                slots.append(Slot(path, option))
                return
            if kind == "object" and isinstance(value, dict):
                props = option.get("properties", {})
                for key, child in value.items():
                    if key in props:
                        walk(props[key], child, (*path, key))
                        continue
                    # A dict field: its values by patternProperties or additionalProperties.
                    extra, keys = option.get("additionalProperties"), option.get("propertyNames", {})
                    for pattern, sub in option.get("patternProperties", {}).items():
                        if re.search(pattern, key):
                            extra, keys = sub, {**keys, "pattern": pattern}
                            break
                    if isinstance(extra, dict):
                        walk(extra, child, (*path, key))
                        if _scalar(_resolve(extra, schema_root), schema_root):
                            key_schema = {"type": "string", **_resolve(keys, schema_root)}
                            slots.append(Slot((*path, key), key_schema, is_key=True))
                return
            if kind == "array" and isinstance(value, list) and "items" in option:
                # Lists of strings: their last item only, the others may equal an
                # item the renderer adds itself (127.0.0.1/32 in admin_allow), and
                # a duplicate collapses: a list length change, not the string's.
                for i, child in enumerate(value):
                    if i == len(value) - 1 or not isinstance(child, str):
                        walk(option["items"], child, (*path, i))
                return

    walk(schema_root, data, ())
    return slots


def _scalar(schema: dict[str, Any], root: dict[str, Any]) -> bool:
    scalars = ("string", "integer", "number", "boolean", "null")
    return all(o.get("type") in scalars for o in _options(schema, root))


def set_slot(data: dict[str, Any], slot: Slot, value: str) -> dict[str, Any]:
    """A deep copy of data with value at slot (a renamed key, for a key slot)."""
    out = copy.deepcopy(data)
    node: Any = out
    for part in slot.path[:-1]:
        node = node[part]
    last = slot.path[-1]
    if slot.is_key:
        assert isinstance(last, str)
        node[value] = node.pop(last)
    else:
        node[last] = value
    return out


_FORMATS: dict[str, st.SearchStrategy[str]] = {
    "email": st.emails(),
    "ipv4": st.ip_addresses(v=4).map(str),
    "ipv6": st.ip_addresses(v=6).map(str),
    "ipvanyaddress": st.ip_addresses().map(str),
    "ipv4network": st.ip_addresses(v=4).map(lambda a: f"{a}/32"),
    "ipvanynetwork": st.ip_addresses(v=4).map(lambda a: f"{a}/32"),
    "ipvanyinterface": st.ip_addresses(v=4).map(lambda a: f"{a}/24"),
    "hostname": st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){0,3}", fullmatch=True),
    "uri": st.from_regex(r"https?://[a-z]{1,10}\.example\.com(/[a-z0-9]{0,8}){0,3}", fullmatch=True),
    "path": st.from_regex(r"(/[A-Za-z0-9._-]{1,12}){1,4}", fullmatch=True),
}


def allowed_strings(schema: dict[str, Any]) -> st.SearchStrategy[str] | None:
    """Strings the schema describes, or None when it says nothing useful."""
    if "pattern" in schema:
        try:
            # pydantic's Rust regex and Python's agree on the patterns used here;
            # a pattern Python cannot compile just loses this branch.
            re.compile(schema["pattern"])
            return st.from_regex(schema["pattern"], fullmatch=True)
        except (re.error, Exception):
            return None
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    return None


def hostile_strings(schema: dict[str, Any], current: str | None) -> st.SearchStrategy[str]:
    return _hostile(json.dumps(schema, sort_keys=True), current)


@functools.lru_cache(maxsize=512)
def _hostile(schema_json: str, current: str | None) -> st.SearchStrategy[str]:
    """Built once per (schema, current value): compiling regex strategies is slow."""
    schema = json.loads(schema_json)
    limit = min(int(schema.get("maxLength", 80)), 80)
    nasty = st.text(alphabet=st.sampled_from(NASTY_CHARS) | st.characters(codec="utf-8"),
                    min_size=0, max_size=limit)
    payload = st.sampled_from(PAYLOADS)
    allowed = allowed_strings(schema)
    seeds = [allowed] if allowed is not None else []
    if current:
        seeds.append(st.just(current))
    base = st.one_of(*seeds) if seeds else st.just("a")
    glue = st.sampled_from(["", " ", "\n", ";", "'", '"', "\\", "$"])
    glued = st.tuples(base, glue, payload, st.booleans()).map(
        lambda t: f"{t[2]}{t[1]}{t[0]}" if t[3] else f"{t[0]}{t[1]}{t[2]}"
    )
    branches: list[st.SearchStrategy[str]] = [nasty, payload, glued]
    if allowed is not None:
        # Weighted: the type's own strings are the ones that reach the renderer.
        branches = [allowed, allowed, *branches]
    return st.one_of(*branches)
