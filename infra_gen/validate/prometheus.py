"""Prometheus: `promtool check config`, `check rules`, `test rules`, and test coverage.

promtool reads rule files where prometheus.yml says they are (the container's
/etc/prometheus/rules/...), so the checks run on a copy of prometheus/ whose
/etc/prometheus/ paths point at the copy.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..contract import PROMETHEUS_CONFIG as CONFIG
from ..contract import PROMETHEUS_RULES as RULES
from ..contract import PROMETHEUS_SWARM_CONFIG as SWARM_CONFIG
from ..contract import PROMETHEUS_TESTS as TESTS
from .base import Check, Context, Finding, Skip, run


@contextmanager
def _copy(ctx: Context) -> Iterator[Path]:
    """prometheus/ copied to a temp dir with /etc/prometheus/ rewritten to it."""
    with tempfile.TemporaryDirectory(prefix="promtool-") as tmp:
        dst = Path(tmp) / "prometheus"
        shutil.copytree(ctx.path("prometheus"), dst)
        for f in dst.rglob("*.yml"):
            f.write_text(f.read_text().replace("/etc/prometheus/", f"{dst}/"))
        yield dst


_LOCATED = re.compile(r"(?P<file>[\w./-]+\.ya?ml):\s*(?P<line>\d+):(?:\d+:)?\s*(?P<msg>.*)")


def _findings(output: str, tmp: Path, default: str) -> list[Finding]:
    """promtool's own lines; those naming a file and line point at the generated file."""
    text = output.replace(f"{tmp}/", "prometheus/")
    findings = []
    for block in [b for b in re.split(r"\n(?=\S)", text.strip()) if b.strip()]:
        if block.startswith(("Checking ", "SUCCESS", "Unit Testing")) and "FAILED" not in block:
            continue
        m = _LOCATED.search(block)
        if m:
            findings.append(Finding(f"promtool: {block.strip()}", m.group("file"),
                                    int(m.group("line"))))
        else:
            findings.append(Finding(f"promtool: {block.strip()}", default))
    return findings


def check_config(ctx: Context) -> list[Finding]:
    """prometheus.yml, and prometheus.swarm.yml where the environment has a swarm stack."""
    ctx.need(CONFIG)
    findings: list[Finding] = []
    with _copy(ctx) as tmp:
        for rel in [CONFIG, *ctx.glob(SWARM_CONFIG)]:
            out = run(["promtool", "check", "config", str(tmp / rel.removeprefix("prometheus/"))])
            if out.returncode != 0:
                findings += _findings(out.output, tmp, rel) or [Finding(out.output, rel)]
    return findings


def _rule_files(ctx: Context) -> list[str]:
    files = ctx.glob(RULES)
    if not files:
        raise Skip("prometheus/rules/*.yml not rendered (its artifact is missing)")
    return files


def check_rules(ctx: Context) -> list[Finding]:
    files = _rule_files(ctx)
    findings: list[Finding] = []
    with _copy(ctx) as tmp:
        for rel in files:
            out = run(["promtool", "check", "rules", str(tmp / rel.removeprefix("prometheus/"))])
            if out.returncode != 0:
                findings += _findings(out.output, tmp, rel) or [Finding(out.output, rel)]
    return findings


def test_rules(ctx: Context) -> list[Finding]:
    _rule_files(ctx)
    tests = ctx.glob(TESTS)
    if not tests:
        return [Finding("no rule unit tests rendered (prometheus/tests/*.yml): every alert "
                        "rule needs one", "prometheus/tests")]
    findings: list[Finding] = []
    with _copy(ctx) as tmp:
        for rel in tests:
            test = tmp / rel.removeprefix("prometheus/")
            out = run(["promtool", "test", "rules", test.name], cwd=test.parent)
            if out.returncode != 0:
                findings.append(Finding(
                    "promtool test rules: " + out.output.replace(f"{tmp}/", "prometheus/"), rel))
    return findings


def alerts(ctx: Context) -> dict[str, tuple[str, int | None]]:
    """alert name -> (rule file, line)."""
    found: dict[str, tuple[str, int | None]] = {}
    for rel in _rule_files(ctx):
        text = ctx.text(rel)
        for group in (ctx.yaml(rel) or {}).get("groups", []):
            for rule in group.get("rules", []):
                if "alert" in rule:
                    line = next((i for i, t in enumerate(text.splitlines(), 1)
                                 if re.search(rf"alert:\s*['\"]?{re.escape(rule['alert'])}\b", t)),
                                None)
                    found[rule["alert"]] = (rel, line)
    return found


def _alert_tests(ctx: Context) -> Iterator[tuple[str, bool]]:
    for rel in ctx.glob(TESTS):
        doc: dict[str, Any] = ctx.yaml(rel) or {}
        for test in doc.get("tests", []):
            for case in test.get("alert_rule_test", []):
                yield case.get("alertname", ""), bool(case.get("exp_alerts"))


def test_coverage(ctx: Context) -> list[Finding]:
    """Every alert rule has a test case where it fires and one where it does not."""
    rules = alerts(ctx)
    cases = list(_alert_tests(ctx))
    findings = []
    for name, (rel, line) in sorted(rules.items()):
        fires = any(a == name and f for a, f in cases)
        quiet = any(a == name and not f for a, f in cases)
        missing = [w for w, ok in (("fires", fires), ("does not fire", quiet)) if not ok]
        if missing:
            findings.append(Finding(
                f"alert {name} has no rule unit test where it {' and none where it '.join(missing)}"
                f" (add an alert_rule_test to prometheus/tests/ in the prometheus artifact)",
                rel, line))
    for name in sorted({a for a, _ in cases} - set(rules)):
        findings.append(Finding(f"rule unit test names alert {name}, which no rule defines",
                                "prometheus/tests"))
    return findings


_READS_PROMETHEUS: dict[str, Any] = {"inputs": ("prometheus/**",), "topology": False}

CHECKS = (
    Check("promtool check config", "prometheus", check_config, ("promtool",),
          **_READS_PROMETHEUS),
    Check("promtool check rules", "prometheus", check_rules, ("promtool",),
          **_READS_PROMETHEUS),
    Check("promtool test rules", "prometheus", test_rules, ("promtool",),
          **_READS_PROMETHEUS),
    Check("rule test coverage", "prometheus", test_coverage,
          **_READS_PROMETHEUS),
)
