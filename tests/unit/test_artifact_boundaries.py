"""Artifacts read facts from the topology, never from one another or from strings.

Two rules, checked on the source with ast:
- an artifact module imports no other artifact kind's module (only `base` and the
  sub-modules of its own family below), so a fact two artifacts share lives on the
  topology (or in infra_gen/contract.py for names), not in whichever artifact said
  it first;
- no artifact but compose (which writes them) reads a container's `environment` or
  `command`: what the planner put into a variable or a flag is a typed field too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "infra_gen" / "artifacts"
SHARED = {"base"}
"""Every artifact module may import these."""
FAMILIES = {
    "prometheus": {"alerts", "scrape"},
    "alerts": {"scrape"},
}
"""Modules that are pieces of one artifact kind (prometheus.yml and its rule files)."""
WRITERS = {"compose"}
"""The one artifact that formats a container's environment and command."""
RAW_FIELDS = {"environment", "command"}


def sibling_imports(source: str) -> set[str]:
    """infra_gen.artifacts modules a module imports (relatively or absolutely)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1 and not module:  # from . import x, y
                out |= {a.name for a in node.names}
            elif node.level == 1:
                out.add(module.split(".")[0])
            elif node.level == 0 and module.startswith("infra_gen.artifacts."):
                out.add(module.split(".")[2])
            elif node.level == 0 and module == "infra_gen.artifacts":
                out |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[2] for a in node.names
                    if a.name.startswith("infra_gen.artifacts.")}
    return out


def forbidden_imports(name: str, source: str) -> list[str]:
    allowed = SHARED | FAMILIES.get(name, set())
    return sorted(m for m in sibling_imports(source) - allowed if m != name)


def raw_field_reads(source: str) -> list[str]:
    """`x.environment` / `x.command` reads, as "line: attr" (keyword arguments and
    dataclass fields of the same name are not reads)."""
    return [f"{node.lineno}: .{node.attr}" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and node.attr in RAW_FIELDS]


MODULES = sorted(p for p in ARTIFACTS.glob("*.py") if p.name != "__init__.py")


def test_the_modules_are_found() -> None:
    names = {p.stem for p in MODULES}
    assert {"prometheus", "alertmanager", "grafana", "docs", "logrotate", "compose"} <= names
    assert set(FAMILIES) | {m for f in FAMILIES.values() for m in f} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_an_artifact_imports_no_other_artifact(path: Path) -> None:
    bad = forbidden_imports(path.stem, path.read_text())
    assert not bad, f"{path.name} imports artifact module(s) {bad}: put the shared fact on the topology"


@pytest.mark.parametrize("path", [p for p in MODULES if p.stem not in WRITERS], ids=lambda p: p.stem)
def test_no_artifact_recovers_a_fact_from_environment_or_command(path: Path) -> None:
    reads = raw_field_reads(path.read_text())
    assert not reads, f"{path.name} reads {reads}: read a typed topology field instead"


@pytest.mark.parametrize(("name", "source", "expected"), [
    ("grafana", "from .scrape import route_prefix\n", ["scrape"]),
    ("docs", "from .backups import facts\nfrom .base import Output\n", ["backups"]),
    ("logrotate", "from . import backups, base\n", ["backups"]),
    ("grafana", "from infra_gen.artifacts.metrics import X\n", ["metrics"]),
    ("docs", "import infra_gen.artifacts.prometheus\n", ["prometheus"]),
    ("alertmanager", "from ..topology import Topology\nfrom .base import Output\n", []),
    ("prometheus", "from .alerts import alerts\nfrom .scrape import scrape_configs\n", []),
    ("alerts", "from .scrape import instance_of\n", []),
    ("scrape", "from .alerts import alerts\n", ["alerts"]),
])
def test_the_import_rule_catches_what_it_should(name: str, source: str, expected: list[str]) -> None:
    assert forbidden_imports(name, source) == expected


@pytest.mark.parametrize(("source", "expected"), [
    ('env = dict(c.environment)\n', ["1: .environment"]),
    ('x = 1\nfor a in topo.container("p").command:\n    pass\n', ["2: .command"]),
    ('Output(environment=env.name)\n', []),
    ('class F:\n    environment: str\n', []),
])
def test_the_field_rule_catches_what_it_should(source: str, expected: list[str]) -> None:
    assert raw_field_reads(source) == expected
