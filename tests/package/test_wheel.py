"""infra-gen as a team installs it for its own repository: the wheel, not this tree.

One module-scoped run: build the wheel from a copy of the sources (the checkout gets
no build/ or egg-info), install it into a fresh venv, `infra-gen init` an empty
temporary directory, add a service of one's own with its own image, render, check
and validate there. Nothing of this repository is on the way: the fresh venv
imports infra_gen from the wheel, and the project has no templates/.

Kept fast and offline: the venv is made without pip, the wheel is installed with
--no-deps --no-index, and the dependencies come from this test's own environment
(a .pth line, like system site packages); a test checks that each one the wheel
declares is found there. The validation tools come from PATH; under CI=true
validate runs --strict, so a tool that is missing is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VERSION = (ROOT / "VERSION").read_text(encoding="utf-8").strip()
SOURCES = ("pyproject.toml", "VERSION", "README.md", "LICENSE", "infra_gen")
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

SERVICE = """\
  billing:
    image: acme/billing:1.4.2
    command: [billing-server, --port, "9100"]
    replicas: 2
    route: /billing/
    port: 9100
    metrics: {port: 9101, path: /internal/metrics}
    healthcheck: {path: /healthz}
    user: "20001:20001"
    depends_on: [redis]
"""


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"{done.args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    for name in SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, src / name)
    for cache in src.rglob("__pycache__"):
        shutil.rmtree(cache)
    _ok(_run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)], src))
    (built,) = out.glob("infra_gen-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel; its dependencies are this environment's."""
    root = tmp_path_factory.mktemp("venv") / "v"
    _ok(_run([sys.executable, "-m", "venv", "--without-pip", str(root)], root.parent))
    python = root / "bin" / "python"
    purelib = _ok(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                       root)).strip()
    Path(purelib, "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _ok(_run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
              "--no-index", str(wheel)], root))
    return root


@pytest.fixture(scope="module")
def user_env(venv: Path) -> dict[str, str]:
    """The user's shell: the fresh venv first on PATH, then the tools (and this
    environment's check-jsonschema and gixy: the validate extra's)."""
    path = os.pathsep.join([str(venv / "bin"), str(Path(sys.executable).parent),
                            os.environ.get("PATH", "")])
    drop = ("INFRA_GEN_PROJECT", "PYTHONPATH", "VIRTUAL_ENV")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "PATH": path}


@pytest.fixture(scope="module")
def project(venv: Path, user_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("empty")
    infra_gen = str(venv / "bin" / "infra-gen")
    _ok(_run([infra_gen, "init"], root, user_env))
    dev = root / "environments" / "dev.yaml"
    dev.write_text(dev.read_text() + "services:\n" + SERVICE)
    _ok(_run([infra_gen, "render", "--all"], root, user_env))
    return root


def test_the_wheel_carries_the_templates(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    bundled = {p.relative_to(ROOT).as_posix() for p in (ROOT / "infra_gen/templates").rglob("*.j2")}
    assert bundled and bundled <= names
    assert wheel.name == f"infra_gen-{VERSION}-py3-none-any.whl"


def test_the_fresh_venv_runs_the_wheel_with_what_it_declares(venv: Path, user_env: dict[str, str]) -> None:
    code = ("import importlib.metadata as m, infra_gen, re; print(infra_gen.__file__); "
            "reqs = [r for r in m.requires('infra-gen') if 'extra ==' not in r "
            "or 'extra == \"validate\"' in r]; "
            "[m.version(re.split(r'[<>=;\\[ ]', r)[0]) for r in reqs]; print(len(reqs))")
    where, count = _ok(_run([str(venv / "bin" / "python"), "-c", code], venv, user_env)).split()
    assert Path(where).is_relative_to(venv) and not Path(where).is_relative_to(ROOT)
    assert int(count) >= 7  # jinja2, pydantic, pyyaml, typer, rich + check-jsonschema, gixy-ng


def test_init_render_and_check_in_an_empty_directory(project: Path, venv: Path,
                                                     user_env: dict[str, str]) -> None:
    assert not (project / "templates").exists()
    compose = yaml.safe_load((project / "generated/dev/compose.yaml").read_text())
    assert compose["services"]["billing"]["image"] == "acme/billing:1.4.2"
    assert "billing" not in yaml.safe_load((project / "generated/prod/compose.yaml").read_text())["services"]
    nginx = (project / "generated/dev/nginx/nginx.conf").read_text()
    assert "location /billing/" in nginx
    _ok(_run([str(venv / "bin" / "infra-gen"), "check"], project, user_env))


def test_validate_in_the_new_project(project: Path, venv: Path, user_env: dict[str, str]) -> None:
    argv = [str(venv / "bin" / "infra-gen"), "validate", "dev", "--format", "json"]
    if CI:
        argv.append("--strict")  # a check that cannot run (a missing tool) fails
    done = _run(argv, project, user_env)
    report = json.loads(done.stdout)
    rows = report["results"]
    failed = [r for r in rows if r["status"] == "failed"]
    assert not failed, failed
    assert done.returncode == 0, done.stderr
    ran = {r["check"] for r in rows if r["status"] == "passed"}
    assert {"services hardened", "scrape targets are services", "upstreams are services"} <= ran
