"""Apply the model's `overrides` to a document an artifact built from data.

The patch forms are described in infra_gen/model/overrides.py and docs/contract.md
("Overrides"). A patch that does not apply (a path that is not there, a failed
`test`) is the user's error: one line at the patch's place in the environment file.
The patched document is what gets written and what `validate` checks, so a patch
is held to the same rules as the generated file (a privileged service fails the
hardening check like any other).
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import ConfigError, Problem
from .loader import Document, _dotted
from .model import Environment
from .model.overrides import Patch, PatchOperation

Loc = tuple[str | int, ...]


class PatchError(Exception):
    """A patch that does not apply; loc is where in the patch, message says why."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def apply(env: Environment, section: tuple[str, ...], document: Any) -> Any:
    """document with env.overrides.<section> applied (document itself is not changed)."""
    patch: Any = env.overrides
    for name in section:
        patch = getattr(patch, name)
    if patch is None:
        return document
    try:
        return apply_patch(document, patch)
    except PatchError as exc:
        loc: Loc = ("overrides", *section, *exc.loc)
        shown, line = Document({}, dict(env._places)).locate(loc) or (None, None)
        raise ConfigError([Problem(exc.message, shown, line, _dotted(loc))]) from None


def apply_patch(document: Any, patch: Patch) -> Any:
    if isinstance(patch, dict):
        return merge_patch(document, patch)
    doc = copy.deepcopy(document)
    for index, operation in enumerate(patch):
        doc = _operation(doc, operation, index)
    return doc


# -- RFC 7396 merge patch -------------------------------------------------------
def merge_patch(target: Any, patch: Any, loc: Loc = ()) -> Any:
    """Mappings merge key by key; anything else, lists included, replaces; None
    deletes the key. Deleting a key that is not there fails: it is a typo."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            if key not in out:
                raise PatchError((*loc, key), _missing("null deletes a key", out, key))
            del out[key]
        else:
            out[key] = merge_patch(out.get(key), value, (*loc, key))
    return out


def _missing(what: str, mapping: dict[str, Any], key: str) -> str:
    known = ", ".join(sorted(mapping)) or "none"
    return f"{what}, but the generated document has no key {key!r} here (keys: {known})"


# -- RFC 6902 JSON Patch ---------------------------------------------------------
def _tokens(pointer: str) -> list[str]:
    # The model's pattern already checked the syntax (every token after a /).
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def _index(container: list[Any], token: str, *, end_ok: bool) -> int:
    if token == "-" and end_ok:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise LookupError(f"{token!r} is not a list index")
    i = int(token)
    if i > len(container) or (i == len(container) and not end_ok):
        raise LookupError(f"index {i} is past the end of a list of {len(container)}")
    return i


def _parent(doc: Any, pointer: str) -> tuple[Any, str]:
    """The container holding pointer's last token, and that token."""
    tokens = _tokens(pointer)
    node, walked = doc, ""
    for token in tokens[:-1]:
        node = _child(node, token, walked)
        walked += "/" + token.replace("~", "~0").replace("/", "~1")
    return node, tokens[-1]


def _child(node: Any, token: str, walked: str) -> Any:
    where = walked or "the document root"
    if isinstance(node, dict):
        if token not in node:
            raise LookupError(f"no key {token!r} at {where} (keys: {', '.join(sorted(node)) or 'none'})")
        return node[token]
    if isinstance(node, list):
        return node[_index(node, token, end_ok=False)]
    raise LookupError(f"{where} is a value, not a mapping or list")


def _get(doc: Any, pointer: str) -> Any:
    if pointer == "":
        return doc
    parent, token = _parent(doc, pointer)
    return _child(parent, token, pointer.rsplit("/", 1)[0])


def _add(doc: Any, pointer: str, value: Any) -> Any:
    if pointer == "":
        return value
    parent, token = _parent(doc, pointer)
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, token, end_ok=True), value)
    else:
        raise LookupError(f"{pointer.rsplit('/', 1)[0] or 'the document root'} is a value, "
                          "not a mapping or list")
    return doc


def _remove(doc: Any, pointer: str) -> tuple[Any, Any]:
    if pointer == "":
        raise LookupError("the whole document cannot be removed")
    parent, token = _parent(doc, pointer)
    removed = _child(parent, token, pointer.rsplit("/", 1)[0])
    if isinstance(parent, dict):
        del parent[token]
    else:
        del parent[_index(parent, token, end_ok=False)]
    return doc, removed


def _operation(doc: Any, op: PatchOperation, index: int) -> Any:
    try:
        if op.op == "add":
            return _add(doc, op.path, copy.deepcopy(op.value))
        if op.op == "remove":
            return _remove(doc, op.path)[0]
        if op.op == "replace":
            _get(doc, op.path)  # replace needs the target to exist
            doc, _ = _remove(doc, op.path) if op.path else (doc, None)
            return _add(doc, op.path, copy.deepcopy(op.value))
        if op.op == "test":
            found = _get(doc, op.path)
            if found != op.value:
                raise PatchError((index, "value"), f"test failed: {op.path or '/'} is {found!r}")
            return doc
        assert op.from_ is not None  # the model requires it for move and copy
        source = op.from_
        try:
            value = _get(doc, source)
        except LookupError as exc:
            raise PatchError((index, "from"), f"{source}: {exc}") from None
        if op.op == "move":
            if op.path.startswith(source + "/"):
                raise PatchError((index, "path"), f"{op.path}: cannot move {source} into itself")
            doc, value = _remove(doc, source)
        return _add(doc, op.path, copy.deepcopy(value))
    except LookupError as exc:
        raise PatchError((index, "path"), f"{op.path}: {exc}") from None
