"""Hypothesis strategies that break a shipped environment file.

A mutated file is the shipped file's data with one to three data mutations
(a value's type swapped, a key deleted or renamed, a value replaced by a random
scalar, list or mapping, a huge number, .inf/.nan, a deep duplicate of a subtree,
an unknown key), dumped back to YAML, then zero to two text mutations (a YAML
tag, anchors and aliases, a merge key, deep flow nesting, garbage bytes,
truncation, a duplicated line, a tab).
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import strategies as st

Path_ = tuple[str | int, ...]


def paths(data: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every path to a value in data (the root excluded)."""
    out: list[Path_] = []
    items: Any = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, child in items:
        out.append((*prefix, key))
        out.extend(paths(child, (*prefix, key)))
    return out


def _parent(data: Any, path: Path_) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from([10**100, -(10**30), 2**63, -1, 0]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["", " ", "\n", "~", "null", "yes", "no", "0x1F", "1e400", "-.inf", "{}", "[]"]),
    st.integers(1000, 100_000).map(lambda n: "x" * n),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated_data(draw: st.DrawFn, data: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, 3))):
        candidates = paths(out)
        if not candidates:
            out[draw(st.text(max_size=10))] = draw(values)
            continue
        path = draw(st.sampled_from(candidates))
        parent = _parent(out, path)
        last = path[-1]
        op = draw(st.sampled_from(["delete", "replace", "wrap", "stringify", "duplicate", "unknown", "rename"]))
        if op == "delete":
            del parent[last]
        elif op == "replace":
            parent[last] = draw(values)
        elif op == "wrap":
            parent[last] = draw(st.sampled_from([[parent[last]], {"value": parent[last]}]))
        elif op == "stringify":
            parent[last] = str(parent[last])
        elif op == "duplicate":  # the subtree nested in copies of itself
            node = parent[last]
            for _ in range(draw(st.integers(1, 6))):
                node = {"copy": copy.deepcopy(node), **(node if isinstance(node, dict) else {"v": node})}
            parent[last] = node
        elif op == "unknown" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(values)
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = parent.pop(last)
    return out


def _dump(data: Any) -> str:
    try:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)
    except (yaml.YAMLError, RecursionError):
        return "{}\n"


TAGS = ["!!python/object/apply:os.system ['id']", "!!python/name:os.system", "!!binary aGVsbG8=", "!!set {a, b}",
        "!!timestamp 2001-12-14", "!custom x", "!!str", "!!int x", "!!float", "!!map [1]", "!!omap [a: 1]"]


@st.composite
def mutated_text(draw: st.DrawFn, data: dict[str, Any]) -> bytes:
    lines = _dump(draw(mutated_data(data))).splitlines()
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, max(len(lines) - 1, 0)))
        line = lines[at] if lines else ""
        indent = line[: len(line) - len(line.lstrip())]
        op = draw(st.sampled_from(["tag", "anchors", "merge", "nesting", "duplicate", "tab", "truncate", "bomb"]))
        if op == "tag" and ":" in line:
            key = line.split(":", 1)[0]
            lines[at] = f"{key}: {draw(st.sampled_from(TAGS))}"
        elif op == "anchors":
            lines[at:at] = [f"{indent}anchored: &a {{x: 1}}", f"{indent}aliased: *a", f"{indent}undefined: *nope"]
        elif op == "merge":
            lines[at:at] = [f"{indent}base_: &m {{replicas: 2, port: 80}}", f"{indent}merged: {{<<: *m}}",
                            f"{indent}<<: *m"]
        elif op == "nesting":  # deeper than any recursive walk can go
            depth = draw(st.sampled_from([50, 500, 5000, 50000]))
            key = line.split(":", 1)[0] if ":" in line else "deep"
            lines[at] = f"{key}: {'[' * depth}{']' * depth}"
        elif op == "duplicate" and lines:
            lines.insert(at, line)
        elif op == "tab":
            lines[at] = "\t" + line
        elif op == "truncate":
            lines = lines[:at] + [line[: draw(st.integers(0, len(line)))]]
        elif op == "bomb":  # aliases that expand geometrically
            width = draw(st.integers(2, 9))
            levels = draw(st.integers(2, 9))
            bomb = ["l0: &l0 [x]"] + [
                f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)
            ]
            lines = bomb + lines
    text = ("\n".join(lines) + "\n").encode()
    garbage = draw(st.one_of(st.none(), st.binary(min_size=1, max_size=8),
                             st.sampled_from([b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\x80", b"\r", b"\x1b[31m"])))
    if garbage is not None:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + garbage + text[at:]
    return text
