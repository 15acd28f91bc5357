"""Check results kept between runs, keyed by everything a result depends on.

A result is reused only when its key is the same: the bytes of the rendered files
the check reads (`Check.inputs`), the environment model when the check reads the
topology, the identity of every program it runs (its `--version` output, asked
again whenever the executable changes on disk), the id of every Docker image it
runs in, and a hash of infra-gen's own source (a changed check is a new key).
Anything else changed, the check runs again, so a failing check is never served as
passing. Only a result the check itself decided is kept: a skip (a tool or Docker
missing), a tool that timed out, or a crash always runs again next time.

Entries live under `<project>/.infra-gen-cache/` (ignored by git), one small JSON
file per key, written to a temporary file and renamed into place, so concurrent
runs never read half an entry (the same key always holds the same result). An entry
no run has used for 30 days is removed (checked at most once a day).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import Any

from .base import Check, Context, Finding, Result, Status, venv_tool

CACHE_DIR = ".infra-gen-cache"
# Bump when an entry's layout or the meaning of a key changes.
_FORMAT = "1"
_PACKAGE = Path(__file__).resolve().parents[1]

# How each program says its version (nginx writes it to stderr: output is both streams).
_VERSION_ARGS: Mapping[str, tuple[str, ...]] = {"nginx": ("-v",)}
_DOCKER_PLUGIN_DIRS = ("/usr/libexec/docker/cli-plugins", "/usr/lib/docker/cli-plugins",
                       "/usr/local/lib/docker/cli-plugins", "~/.docker/cli-plugins")
# Rendered files no check reads: MANIFEST only restates the others' hashes, and in a
# fresh render it changes with every byte of every file.
_NOT_AN_INPUT = frozenset({"MANIFEST"})


def matches(rel: str, pattern: str) -> bool:
    """`**` is every file, `dir/**` everything under dir, else fnmatch on the path."""
    if pattern == "**":
        return rel not in _NOT_AN_INPUT
    if pattern.endswith("/**"):
        return rel.startswith(pattern[:-2])
    return fnmatchcase(rel, pattern)


def tree_digests(root: Path) -> dict[str, str]:
    """sha256 of every file under root, by relative path (one read per file and run)."""
    out: dict[str, str] = {}
    for path in root.rglob("*"):
        if path.is_file():
            out[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """infra-gen's own source: an edited check (or model, or topology) is a new key."""
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        h.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _stamp(path: str) -> str:
    st = os.stat(path)
    return f"{path}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"


def _executable_stamp(name: str, exe: str) -> str:
    """What changes on disk when the program is upgraded (cheap: stat calls only)."""
    parts = [_stamp(os.path.realpath(exe))]
    if Path(exe).parent == Path(sys.executable).parent:
        # A console script of this venv (check-jsonschema, gixy): its entry file is
        # not rewritten when only a library under it changes; site-packages is.
        parts.append(_stamp(sysconfig.get_paths()["purelib"]))
    if name == "docker":  # compose is a plugin, upgraded on its own
        for d in _DOCKER_PLUGIN_DIRS:
            plugin = Path(d).expanduser() / "docker-compose"
            if plugin.exists():
                parts.append(_stamp(os.path.realpath(plugin)))
    return "|".join(parts)


def _ask_version(name: str, exe: str) -> str:
    argvs = [[exe, *_VERSION_ARGS.get(name, ("--version",))]]
    if name == "docker":
        argvs.append([exe, "compose", "version"])
    texts = []
    for argv in argvs:
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
            texts.append(f"{proc.returncode}:{proc.stdout.strip()}|{proc.stderr.strip()}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            texts.append(f"unknown: {exc}")
    return "\n".join(texts)


@dataclass
class ResultCache:
    """The result store of one project, and the memo of tool and image identities."""

    directory: Path
    read: bool = True
    """False for --no-cache: every check runs (and its result replaces the entry)."""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._tools: dict[str, str] = {}
        self._images: dict[str, str] = {}
        self._trees: dict[Path, dict[str, str]] = {}

    @classmethod
    def for_project(cls, root: Path, read: bool = True) -> ResultCache:
        return cls(root / CACHE_DIR, read)

    # -- identities ------------------------------------------------------------
    def tool(self, name: str) -> str:
        """name and its --version output; asked once per executable on disk."""
        with self._lock:
            if name in self._tools:
                return self._tools[name]
        exe = venv_tool(name)
        if exe is None:
            ident = f"{name}: absent"
        else:
            stamp = _executable_stamp(name, exe)
            memo = self.directory / "tools" / hashlib.sha256(stamp.encode()).hexdigest()
            try:
                version = memo.read_text()
            except OSError:
                version = _ask_version(name, exe)
                _write_atomic(memo, version)
            ident = f"{name}: {version}"
        with self._lock:
            self._tools[name] = ident
        return ident

    def image(self, ref: str, again: bool = False) -> str:
        """The image's id, or `absent`; asked once per run (again: an absent one is asked
        again, after a check that may have built it)."""
        with self._lock:
            known = self._images.get(ref)
        if known is not None and not (again and known == "absent"):
            return known
        ident = "absent"
        if venv_tool("docker") is not None:
            try:
                proc = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", ref],
                                      capture_output=True, text=True, timeout=30, check=False)
                if proc.returncode == 0:
                    ident = proc.stdout.strip()
            except (OSError, subprocess.TimeoutExpired):
                pass
        with self._lock:
            self._images[ref] = ident
        return ident

    def tree(self, root: Path) -> dict[str, str]:
        with self._lock:
            if root not in self._trees:
                self._trees[root] = tree_digests(root)
            return self._trees[root]

    # -- keys and entries -----------------------------------------------------
    def key(self, ctx: Context, check: Check, after_run: bool = False) -> str:
        h = hashlib.sha256()

        def feed(*parts: str) -> None:
            for part in parts:
                h.update(part.encode() + b"\0")

        feed(_FORMAT, code_fingerprint(), ctx.env, check.artifact, check.name)
        if check.topology:
            feed("topology", ctx.topo.env.model_dump_json())
        for rel, digest in sorted(self.tree(ctx.root).items()):
            if any(matches(rel, p) for p in check.inputs):
                feed("file", rel, digest)
        for name in sorted({*check.tools, *check.versions}):
            feed("tool", self.tool(name))
        for ref in check.images(ctx) if check.images else ():
            feed("image", ref, self.image(ref, again=after_run))
        return h.hexdigest()

    def _entry(self, key: str) -> Path:
        return self.directory / "validate" / key[:2] / f"{key}.json"

    def get(self, key: str, env: str) -> Result | None:
        if not self.read:
            return None
        try:
            entry = self._entry(key)
            data = json.loads(entry.read_text())
            os.utime(entry)  # in use: kept by prune()
            return Result(env, data["check"], data["artifact"], Status(data["status"]),
                          tuple(Finding(**f) for f in data["findings"]), data["reason"],
                          float(data["seconds"]), cached=True)
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent, or unreadable: run the check

    def put(self, key: str, result: Result) -> None:
        data: dict[str, Any] = {
            "check": result.check, "artifact": result.artifact, "status": result.status.value,
            "findings": [{"message": f.message, "file": f.file, "line": f.line}
                         for f in result.findings],
            "reason": result.reason, "seconds": result.seconds,
        }
        with contextlib.suppress(OSError):  # a read-only project still validates, uncached
            _write_atomic(self._entry(key), json.dumps(data, sort_keys=True))


    def prune(self, max_age_days: float = 30) -> int:
        """Remove entries no run has used for max_age_days (at most once a day); how many."""
        now = time.time()
        stamp = self.directory / "validate" / ".pruned"
        try:
            if now - stamp.stat().st_mtime < 86_400:
                return 0
        except OSError:
            pass
        removed = 0
        for entry in (self.directory / "validate").glob("*/*.json"):
            with contextlib.suppress(OSError):
                if now - entry.stat().st_mtime > max_age_days * 86_400:
                    entry.unlink()
                    removed += 1
        with contextlib.suppress(OSError):
            _write_atomic(stamp, "")
        return removed


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


Runner = Callable[[Context, Check], tuple[Result, bool]]


def cached_run(ctx: Context, check: Check, cache: ResultCache | None, run: Runner) -> Result:
    """run(ctx, check) -> (result, decided by the check), through the cache when there is one."""
    if cache is None:
        return run(ctx, check)[0]
    key = cache.key(ctx, check)
    hit = cache.get(key, ctx.env)
    if hit is not None:
        return hit
    result, decided = run(ctx, check)
    if decided:
        # Keyed again after the run: a check may have built the image it ran in.
        cache.put(cache.key(ctx, check, after_run=True) if check.images else key,
                  replace(result, cached=False))
    return result


def warm(cache: ResultCache, contexts: Iterable[Context]) -> None:
    """Hash each rendered tree before the checks fan out (each file read once)."""
    for ctx in contexts:
        cache.tree(ctx.root)
