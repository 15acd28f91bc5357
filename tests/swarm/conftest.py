"""tests/swarm: the stack on the three-node swarm of `make swarm-up` (make swarm-test).

A cluster that does not answer skips here; under CI=true tests/conftest.py turns
that skip into a failure. The tests run in file order and change the stack.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from swarm_support import ROOT, swarm

from infra_gen.errors import InfraGenError
from infra_gen.stack.swarm import Swarm


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.swarm)


@pytest.fixture(scope="session")
def sw() -> Swarm:
    s = swarm(ROOT)
    try:
        s.remote.docker("node", "ls", "-q", timeout=60)
    except InfraGenError as exc:
        pytest.skip(f"no swarm answers ({exc}): run `make swarm-up swarm-images` first")
    return s
