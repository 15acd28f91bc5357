"""Find the line of a key path in a YAML file, so a tool's message can point at it."""

from __future__ import annotations

import re

import yaml

_SEGMENT = re.compile(r"\['([^']*)'\]|\[(\d+)\]|\.?([^.\[\]]+)")


def split_path(path: str) -> list[str | int]:
    """`$.services['api-1'].ports[0]` or `services.api-1.ports.0` -> segments."""
    path = path.removeprefix("$")
    out: list[str | int] = []
    for quoted, index, plain in _SEGMENT.findall(path):
        if index:
            out.append(int(index))
        else:
            seg = quoted or plain
            out.append(int(seg) if seg.isdigit() else seg)
    return out


def yaml_line(text: str, path: list[str | int]) -> int | None:
    """1-based line of the deepest node on `path` that exists (None when unparsable)."""
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    line: int = node.start_mark.line + 1
    for seg in path:
        if isinstance(node, yaml.MappingNode):
            match = next((kv for kv in node.value if kv[0].value == str(seg)), None)
            if match is None:
                return line
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(seg, int) and seg < len(node.value):
            node = node.value[seg]
            line = node.start_mark.line + 1
        else:
            return line
    return line
