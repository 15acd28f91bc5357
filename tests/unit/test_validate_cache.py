"""The validate result cache (infra_gen/validate/cache.py): a result is reused only
when nothing it depends on changed, and a check reads only what it declares."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import stat
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from infra_gen.project import Project
from infra_gen.render import render_environment, write_tree
from infra_gen.topology import plan
from infra_gen.validate import Check, Context, Finding, Status, parse, run_checks
from infra_gen.validate import compose as compose_checks
from infra_gen.validate import firewall as firewall_checks
from infra_gen.validate import nginx as nginx_checks
from infra_gen.validate.base import Skip, ToolFailed
from infra_gen.validate.cache import ResultCache, matches
from infra_gen.validate.registry import CHECKS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, Path]:
    project = Project(ROOT)
    root = tmp_path_factory.mktemp("cache") / "prod"
    write_tree(root, render_environment(project, "prod"))
    return project, root


@pytest.fixture
def ctx(rendered: tuple[Project, Path], tmp_path: Path) -> Context:
    """A private copy of the rendered prod tree (tests edit it)."""
    project, root = rendered
    copy = tmp_path / "prod"
    write_tree(copy, {p.relative_to(root).as_posix(): _file(p) for p in root.rglob("*") if p.is_file()})
    return Context(plan(project.load("prod")), copy)


def _file(path: Path):  # type: ignore[no-untyped-def]
    from infra_gen.render import RenderedFile

    return RenderedFile(path.read_bytes(), bool(path.stat().st_mode & stat.S_IXUSR))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ResultCache:
    """A cache in tmp_path; tools and images fixed unless a test says otherwise."""
    store = ResultCache(tmp_path / "cache")
    monkeypatch.setattr(store, "tool", lambda name: f"{name} 1.0")
    monkeypatch.setattr(store, "image", lambda ref, again=False: "sha256:0")
    return store


def counting(checks: tuple[Check, ...], calls: Counter[str],
             verdict: Callable[[Context, Check], list[Finding]] = lambda c, k: []) -> list[Check]:
    """The checks as declared (inputs, topology, tools, images), each run only counted."""
    def stub(check: Check) -> Check:
        def fn(ctx: Context) -> list[Finding]:
            calls[check.name] += 1
            return verdict(ctx, check)
        return dataclasses.replace(check, fn=fn, tools=())
    return [stub(c) for c in checks]


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-2] = ord("x") if data[-2] != ord("x") else ord("y")
    path.write_bytes(bytes(data))


def test_second_run_is_served_from_cache(ctx: Context, cache: ResultCache) -> None:
    calls: Counter[str] = Counter()
    checks = counting(CHECKS, calls)
    first = run_checks([ctx], checks, cache=cache)
    second = run_checks([ctx], checks, cache=cache)
    assert all(calls[c.name] == 1 for c in checks)
    assert not any(r.cached for r in first) and all(r.cached for r in second)
    assert [(r.check, r.status) for r in first] == [(r.check, r.status) for r in second]


# One byte changed in one file: exactly the checks that read that file run again.
READERS = {
    "nginx/nginx.conf": {"nginx -t", "gixy-ng", "upstreams are services", "docker compose config",
                         "shellcheck", "secrets in env.example",
                         "mtail counts nginx's access lines"},
    "mtail/lb_access.mtail": {"mtail --compile_only", "mtail counts nginx's access lines",
                              "docker compose config", "shellcheck", "secrets in env.example"},
    "alertmanager/alertmanager.yml": {"amtool check-config", "routes name receivers",
                                      "docker compose config", "shellcheck", "secrets in env.example"},
    "prometheus/rules/alerts.yml": {"promtool check config", "promtool check rules",
                                    "promtool test rules", "rule test coverage",
                                    "scrape targets are services", "docker compose config",
                                    "shellcheck", "secrets in env.example"},
    "logrotate/churn_prediction": {"logrotate -d", "docker compose config", "shellcheck",
                                   "secrets in env.example"},
    "compose.yaml": {"compose-spec schema", "docker compose config", "images pinned",
                     "services hardened", "upstreams are services", "scrape targets are services",
                     "compose self-contained", "host ports unique", "datastores unpublished",
                     "ufw ports = lb ports", "ufw in a container", "stop_grace_period > graceful",
                     "shellcheck", "secrets in env.example", "log sink reachable",
                     "placement names node labels", "stack ports host mode on edge",
                     "nothing swarm ignores"},
    "ci/github-workflow.yml": {"github-workflows schema", "docker compose config", "shellcheck",
                               "secrets in env.example"},
    # MANIFEST restates the other files' hashes: no check reads it.
    "MANIFEST": set(),
}


@pytest.mark.parametrize("rel", sorted(READERS))
def test_one_byte_reruns_exactly_the_checks_that_read_it(ctx: Context, cache: ResultCache,
                                                         rel: str) -> None:
    calls: Counter[str] = Counter()
    checks = counting(CHECKS, calls)
    run_checks([ctx], checks, cache=cache)
    calls.clear()
    _flip_byte(ctx.path(rel))
    fresh = ResultCache(cache.directory)  # a new run: the tree is hashed again
    fresh.tool, fresh.image = cache.tool, cache.image  # type: ignore[method-assign]
    results = run_checks([ctx], checks, cache=fresh)
    assert set(calls) == READERS[rel]
    assert {r.check for r in results if not r.cached} == READERS[rel]


def test_failure_is_not_served_as_a_pass_once_its_input_changed(ctx: Context, cache: ResultCache) -> None:
    """A failing check stays failed from cache while nothing changed, and runs again
    (and passes) once the file it reads is fixed; the old failure comes back with it."""
    conf = ctx.path("nginx/nginx.conf")
    good = conf.read_bytes()
    calls: Counter[str] = Counter()

    def verdict(c: Context, check: Check) -> list[Finding]:
        bad = b"BROKEN" in c.path("nginx/nginx.conf").read_bytes()
        return [Finding("broken", "nginx/nginx.conf", 1)] if bad else []

    (check,) = counting((next(c for c in CHECKS if c.name == "gixy-ng"),), calls, verdict)

    def run() -> tuple[Status, bool]:
        (r,) = run_checks([ctx], [check], cache=ResultCache(cache.directory))
        return r.status, r.cached

    conf.write_bytes(good + b"# BROKEN\n")
    assert run() == (Status.failed, False)
    assert run() == (Status.failed, True)
    conf.write_bytes(good)
    assert run() == (Status.passed, False)
    conf.write_bytes(good + b"# BROKEN\n")
    assert run() == (Status.failed, True)
    assert calls["gixy-ng"] == 2


def test_environment_change_reruns_only_checks_of_the_topology(ctx: Context, cache: ResultCache,
                                                                rendered: tuple[Project, Path]) -> None:
    calls: Counter[str] = Counter()
    checks = counting(CHECKS, calls)
    run_checks([ctx], checks, cache=cache)
    calls.clear()
    env = ctx.topo.env.model_copy(update={"domain": "other.example.com"})
    moved = Context(plan(env), ctx.root)
    run_checks([moved], checks, cache=cache)
    assert set(calls) == {c.name for c in CHECKS if c.topology}
    assert "promtool check rules" not in calls and "nginx -t" in calls


def test_tool_version_change_reruns(ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tool is known by its --version output, asked again whenever the executable
    changes on disk; a different version is a new key."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "fakelint"

    def install(version: str) -> None:
        tool.write_text(f"#!/bin/sh\necho fakelint {version}\n")
        tool.chmod(0o755)
        mtime = tool.stat().st_mtime_ns + 1_000_000_000  # a new mtime even within one tick
        os.utime(tool, ns=(mtime, mtime))

    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    calls: Counter[str] = Counter()

    def fn(c: Context) -> list[Finding]:
        calls["fakelint"] += 1
        return []

    check = Check("fakelint", "nginx", fn, ("fakelint",), inputs=("nginx/**",), topology=False)

    def run() -> bool:
        (r,) = run_checks([ctx], [check], cache=ResultCache(tmp_path / "cache"))
        return r.cached

    install("1.0")
    assert (run(), run()) == (False, True)
    install("2.0")
    assert (run(), run()) == (False, True)
    install("2.0")  # reinstalled, same version: asked again, same key
    assert run() is True
    assert calls["fakelint"] == 2


def test_no_cache_runs_everything_and_refreshes(ctx: Context, cache: ResultCache) -> None:
    calls: Counter[str] = Counter()
    checks = counting(CHECKS, calls)
    run_checks([ctx], checks, cache=cache)
    no_cache = ResultCache(cache.directory, read=False)
    no_cache.tool, no_cache.image = cache.tool, cache.image  # type: ignore[method-assign]
    results = run_checks([ctx], checks, cache=no_cache)
    assert all(calls[c.name] == 2 for c in checks) and not any(r.cached for r in results)
    assert all(r.cached for r in run_checks([ctx], checks, cache=cache))


@pytest.mark.parametrize("outcome", [Skip("docker not running"), ToolFailed("timed out"),
                                     RuntimeError("crash")])
def test_only_a_decided_result_is_kept(ctx: Context, cache: ResultCache, outcome: Exception) -> None:
    """A skip, a tool that could not run, or a crash runs again next time."""
    calls: Counter[str] = Counter()

    def fn(c: Context) -> list[Finding]:
        calls["x"] += 1
        raise outcome

    check = Check("x", "nginx", fn, inputs=("nginx/**",))
    run_checks([ctx], [check], cache=cache)
    (r,) = run_checks([ctx], [check], cache=cache)
    assert calls["x"] == 2 and not r.cached


def test_a_torn_or_foreign_entry_is_a_miss(ctx: Context, cache: ResultCache) -> None:
    calls: Counter[str] = Counter()
    (check,) = counting((CHECKS[0],), calls)
    run_checks([ctx], [check], cache=cache)
    (entry,) = (cache.directory / "validate").rglob("*.json")
    entry.write_text('{"check": "compose-spec')
    (r,) = run_checks([ctx], [check], cache=cache)
    assert calls[check.name] == 2 and not r.cached
    assert not list(entry.parent.glob(".tmp-*"))  # written by rename: no temporary left


class Recording(Context):
    """A Context that notes every rendered path a check touches through it."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.read: set[str] = set()

    def path(self, rel: str) -> Path:
        self.read.add(rel)
        return super().path(rel)

    def exists(self, rel: str) -> bool:
        self.read.add(rel)
        return super().exists(rel)

    def glob(self, pattern: str) -> list[str]:
        found = super().glob(pattern)
        self.read.update(found)
        return found


def _covered(rel: str, inputs: tuple[str, ...]) -> bool:
    """rel (a file, or a directory a check copies whole) is within the declared inputs."""
    return any(matches(rel, p) or (p.endswith("/**") and rel == p[:-3]) or p == "**" for p in inputs)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
def test_a_check_reads_only_its_declared_inputs(check: Check, rendered: tuple[Project, Path],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Every path a real check touches is in Check.inputs: an undeclared read would let
    a changed file be served a stale result. Docker is kept out (nginx -t runs the
    host's nginx; the container checks skip after reading what they need)."""
    project, root = rendered
    for module in (compose_checks, nginx_checks, firewall_checks):
        monkeypatch.setattr(module, "docker_available", lambda: "no docker in this test")
    monkeypatch.setattr(nginx_checks, "image_exists", lambda ref: False)
    monkeypatch.setattr(parse, "_docker_compose_config", lambda c: None)
    ctx = Recording(plan(project.load("prod")), root)
    with contextlib.suppress(Exception):  # a skip or a missing tool still read what it read
        check.fn(ctx)
    # A check that reads nothing through its context (shellcheck walks the tree) must
    # declare the whole tree.
    assert ctx.read or check.inputs == ("**",), "the check read nothing through its context"
    assert {rel for rel in ctx.read if not _covered(rel, check.inputs)} == set()


def test_prune_removes_entries_unused_for_a_month(ctx: Context, cache: ResultCache) -> None:
    calls: Counter[str] = Counter()
    checks = counting(CHECKS[:2], calls)
    run_checks([ctx], checks, cache=cache)
    old, used = sorted((cache.directory / "validate").rglob("*.json"))
    month_ago = old.stat().st_mtime - 31 * 86_400
    os.utime(old, (month_ago, month_ago))
    assert cache.prune() == 1 and not old.exists() and used.exists()
    os.utime(used, (month_ago, month_ago))
    assert cache.prune() == 0 and used.exists()  # pruned today already
    # A hit marks its entry used: the first check's entry is gone, the second's served.
    run_checks([ctx], checks, cache=cache)
    assert used.stat().st_mtime > month_ago + 30 * 86_400


def test_concurrent_writers_of_one_key_never_leave_half_an_entry(ctx: Context, cache: ResultCache) -> None:
    """Two runs (here: threads) storing the same key: a reader sees a whole entry or none."""
    import threading

    from infra_gen.validate import Result

    result = Result("prod", "x", "nginx", Status.failed, (Finding("m" * 5000, "f", 1),), "", 1.0)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(50):
                cache.put("ab" + "0" * 62, result)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    seen = 0
    while any(t.is_alive() for t in threads):
        got = cache.get("ab" + "0" * 62, "prod")
        if got is not None:
            assert got.findings == result.findings
            seen += 1
    for t in threads:
        t.join()
    assert not errors and cache.get("ab" + "0" * 62, "prod") is not None
    assert not list((cache.directory / "validate").rglob(".tmp-*"))


def test_image_id_keys_the_result_also_when_the_check_built_it(ctx: Context, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that runs in an image is keyed by the image's id, looked up again after a
    run that may have built it (the ufw check builds its image on first use)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    image_id = tmp_path / "image-id"
    docker = bin_dir / "docker"  # `docker image inspect --format {{.Id}} REF`, faked
    docker.write_text(f'#!/bin/sh\n[ -f "{image_id}" ] || exit 1\ncat "{image_id}"\n')
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    calls: Counter[str] = Counter()

    def fn(c: Context) -> list[Finding]:
        calls["x"] += 1
        if not image_id.exists():
            image_id.write_text("sha256:1\n")  # built on first use
        return []

    check = Check("x", "firewall", fn, inputs=("firewall/**",), topology=False,
                  images=lambda c: ("infra-gen/ufw-check:test",))

    def run() -> bool:
        store = ResultCache(tmp_path / "cache")
        store.tool = lambda name: name  # type: ignore[method-assign]
        (r,) = run_checks([ctx], [check], cache=store)
        return r.cached

    assert (run(), run()) == (False, True)
    image_id.write_text("sha256:2\n")  # rebuilt: a different image
    assert (run(), run()) == (False, True)
    assert calls["x"] == 2
