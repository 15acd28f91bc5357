"""`up` in a project of your own (infra-gen init): no image build of this repository's
and no scripts of its own; Docker that is not ready is a one-line instruction."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from infra_gen.errors import StackError
from infra_gen.stack import compose, docker

ROOT = Path(__file__).resolve().parents[2]


def test_a_user_project_builds_no_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    monkeypatch.setattr(compose, "run_script", lambda root, name, *a, **k: ran.append(name))
    said: list[str] = []
    stack = SimpleNamespace(project=SimpleNamespace(root=tmp_path))
    compose.build_images(stack, said.append)  # type: ignore[arg-type]
    assert ran == [] and "builds no images" in said[0]
    # This repository builds them.
    compose.build_images(SimpleNamespace(project=SimpleNamespace(root=ROOT)), said.append)  # type: ignore[arg-type]
    assert ran == ["build-images.sh"]
    assert not compose.builds_images(tmp_path) and compose.builds_images(ROOT)


@pytest.mark.parametrize("script", ["start-docker.sh", "install-tools.sh"])
def test_docker_not_ready_in_a_user_project_says_what_to_do(tmp_path: Path, script: str) -> None:
    with pytest.raises(StackError) as info:
        docker.run_script(tmp_path, script)
    assert str(info.value).startswith(f"Docker is not ready and {tmp_path} has no scripts/{script}: ")
    assert "Compose v2" in str(info.value)


def test_another_missing_script_is_named(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"swarm-up\.sh is missing"):
        docker.run_script(tmp_path, "swarm-up.sh")
