"""Property: no string value the model accepts changes the structure of a file.

For each shipped environment, every string slot the model has (derived from its
JSON Schema, see strategies.py) gets hostile strings; the examples the model
accepts are rendered in memory and every file that changed is compared, by its
structure (structure.py), with the render of the unmodified environment. Shell
scripts must also pass `bash -n`; a sample of them goes to shellcheck below.

Run with --hypothesis-show-statistics to see how many examples the model
accepted (event "accepted") or refused.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st
from pydantic import ValidationError

from infra_gen.errors import UserError
from infra_gen.loader import load_document
from infra_gen.model import Environment
from infra_gen.project import Project
from infra_gen.render import render_environment, render_topology
from infra_gen.topology import plan

from .strategies import Slot, allowed_strings, hostile_strings, set_slot, string_slots
from .structure import is_shell_script, structure

ROOT = Path(__file__).resolve().parents[3]
PROJECT = Project(ROOT)
ENVS = PROJECT.environment_names
SCHEMA = Environment.model_json_schema()
PRESENCE_ADDS: frozenset[tuple[str | int, ...]] = frozenset({
    ("tls", "acme_ca_bundle"),  # the CA file's mount and REQUESTS_CA_BUNDLE of certbot
})
"""Optional string fields that add an entry when set: compared value against value."""
# Changed shell scripts kept for the shellcheck test (distinct contents, bounded).
SHELL_SAMPLE: dict[str, tuple[str, str]] = {}
SHELL_SAMPLE_MAX = 60


def _complete(data: dict[str, Any]) -> dict[str, Any]:
    """The environment with every default written out, so every field is a slot."""
    return Environment.model_validate(data).model_dump(mode="json", by_alias=True)


@functools.cache
def shipped(name: str) -> dict[str, Any]:
    doc = load_document(PROJECT.environment_path(name))
    doc.data.setdefault("name", name)
    return _complete(doc.data)


def _canary(service: str) -> str:
    """A variable name of its own per service: renaming one must not rename all."""
    return "CANARY_" + service.upper().replace("-", "_")


@functools.cache
def base_data(name: str) -> dict[str, Any]:
    """shipped(name) with one environment variable per service, so variable names
    and values are slots too (the shipped files set none)."""
    data = shipped(name)
    augmented: dict[str, Any] = {**data, "services": {
        svc: {**spec, "environment": {**spec.get("environment", {}), _canary(svc): "canary"}}
        for svc, spec in data["services"].items()
    }}
    try:
        return _complete(augmented)
    except ValidationError:  # the model no longer takes that name: keep what it takes
        return data


def render_data(data: dict[str, Any]) -> dict[str, str]:
    env = Environment.model_validate(data)
    return {p: f.content.decode() for p, f in render_topology(plan(env), PROJECT.templates_dir).items()}


@functools.cache
def baseline(name: str) -> dict[str, str]:
    return render_data(base_data(name))


@functools.cache
def baseline_keys(name: str) -> frozenset[str]:
    """Every mapping key of the environment's YAML and JSON artifacts."""
    keys: set[str] = set()
    for path, text in baseline(name).items():
        shape = structure(path, text)
        if path.endswith((".yaml", ".yml", ".json")) and isinstance(shape, tuple | frozenset):
            docs = shape if isinstance(shape, tuple) else (shape,)
            keys.update(k for doc in docs if isinstance(doc, frozenset) for p in doc for k in p)
    return frozenset(keys)


@functools.cache
def slots(name: str) -> list[Slot]:
    return string_slots(SCHEMA, base_data(name))


def _get(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _diff(old: str, new: str) -> str:
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), "baseline", "hostile", lineterm="", n=1)
    return "\n".join(list(lines)[:40])


def _renamed(path: str, rename: dict[str, str] | None) -> str:
    if not rename:
        return path
    return "/".join(rename.get(part, part) for part in path.split("/"))


def bash_n(text: str) -> str | None:
    result = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True, check=False)
    return None if result.returncode == 0 else result.stderr.strip()


@pytest.mark.parametrize("name", ENVS)
def test_complete_data_renders_like_the_shipped_file(name: str) -> None:
    """The property starts from model_dump of each environment: that must render
    exactly what the environment file does, or the baseline would be wrong."""
    expected = {p: f.content.decode() for p, f in render_environment(PROJECT, name).items()}
    assert render_data(shipped(name)) == expected


def test_slots_cover_the_string_fields() -> None:
    """The walk of the schema finds the strings that reach artifacts; if a type
    change hid them from it, the property would test nothing."""
    found = {str(s) for name in ENVS for s in slots(name)}
    for expected in ("domain", "postgres.database", "postgres.user", "backups.directory",
                     "backups.database.schedule", "logging.logrotate.log_dir", "deploy.secrets_dir",
                     "ssh.bastion.identity_file", "key of ssh.hosts.app-1",
                     "services.api.environment.CANARY_API", "key of services.api.environment.CANARY_API",
                     "alerting.smtp.auth_username", "postgres.indexes.1.columns.0"):
        assert expected in found, sorted(found)


class Refused(Exception):
    """The model (or the planner) refused the value: a clean error, not a render."""


def structure_changes(name: str, slot: Slot, value: str, reference: str | None = None) -> list[str]:
    """What value at slot does to the rendered files of name, compared with the
    baseline (or with reference at slot): one line per changed structure or
    failed `bash -n`."""
    base = base_data(name)
    current = slot.path[-1] if slot.is_key else _get(base, slot.path)
    old_files = baseline(name)
    if reference is not None and reference != current and not slot.is_key:
        try:
            old_files = render_data(set_slot(base, slot, reference))
            base, current = set_slot(base, slot, reference), reference
        except (ValidationError, UserError):
            pass
    if slot.is_key and value != current and value in _get(base, slot.path[:-1]):
        raise Refused("renaming onto a sibling would merge two entries")
    # A name can be a key of a YAML/JSON artifact (a secret name is a compose key):
    # there the old and the new name are one placeholder. A new name that is already
    # some other key would merge two entries: not a string's doing, left out.
    if value != current and value in baseline_keys(name):
        raise Refused("already a key of an artifact")
    try:
        topo = plan(Environment.model_validate(set_slot(base, slot, value)))
    except (ValidationError, UserError) as exc:
        raise Refused(str(exc)) from None
    rename_old = {current: "<value>"} if isinstance(current, str) and current else None
    rename_new = {value: "<value>"} if rename_old else None
    # A file named after a value (logrotate/<project>) is the same file renamed.
    files = {_renamed(p, rename_new): f.content.decode()
             for p, f in render_topology(topo, PROJECT.templates_dir).items()}
    old = {_renamed(p, rename_old): text for p, text in old_files.items()}
    if set(files) != set(old):
        return [f"files differ: {sorted(set(files) ^ set(old))}"]
    problems = []
    for path, text in files.items():
        if text == old[path]:
            continue
        before = structure(path, old[path], rename_old)
        if structure(path, text, rename_new) != before:
            problems.append(f"structure of {path} changed:\n{_diff(old[path], text)}")
        if is_shell_script(path, text):
            problem = bash_n(text)
            if problem is not None:
                problems.append(f"bash -n {path}: {problem}")
            digest = hashlib.sha256(text.encode()).hexdigest()
            if len(SHELL_SAMPLE) < SHELL_SAMPLE_MAX:
                SHELL_SAMPLE.setdefault(digest, (f"{name}/{path}: {slot}={value!r}", text))
    return problems


@given(st.data())
def test_string_fields_cannot_change_structure(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(ENVS), label="environment")
    slot = data.draw(st.sampled_from(slots(name)), label="slot")
    current = slot.path[-1] if slot.is_key else _get(base_data(name), slot.path)
    value = data.draw(hostile_strings(slot.schema, current if isinstance(current, str) else None),
                      label="value")
    # A list item is compared with another item of its type, not with the shipped
    # one: a renderer may add a shipped value itself (127.0.0.1/32 to admin_allow)
    # and drop the duplicate, which changes a line count, not a structure.
    reference = None
    if isinstance(slot.path[-1], int) and allowed_strings(slot.schema) is not None:
        reference = data.draw(allowed_strings(slot.schema), label="reference")
    # An optional field whose presence adds an entry by design (a mount, a variable)
    # is compared with another value of its type, not with its absence.
    if current is None and slot.path in PRESENCE_ADDS and allowed_strings(slot.schema) is not None:
        reference = data.draw(allowed_strings(slot.schema), label="reference")
    try:
        problems = structure_changes(name, slot, value, reference)
    except Refused:
        event("refused by the model")
        assume(False)
    event("accepted")
    assert not problems, f"{name}: {slot} = {value!r}:\n" + "\n".join(problems)


def test_sampled_scripts_pass_shellcheck(tmp_path: Path) -> None:
    """shellcheck on the baseline scripts and the distinct changed scripts the
    property produced (it runs first, in file order), in one batch."""
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (make tools)")
    scripts = {f"{n}/{p}": text for n in ENVS for p, text in baseline(n).items() if is_shell_script(p, text)}
    scripts.update({origin: text for origin, text in SHELL_SAMPLE.values()})
    names: dict[str, str] = {}
    for i, (origin, text) in enumerate(sorted(scripts.items())):
        path = tmp_path / f"script_{i}.sh"
        path.write_text(text)
        names[str(path)] = origin
    result = subprocess.run([shellcheck, "-f", "gcc", *names], capture_output=True, text=True, check=False)
    findings = [f"{names.get(line.split(':', 1)[0], '?')}: {line}" for line in result.stdout.splitlines()]
    assert result.returncode == 0, "\n".join(findings[:40])
