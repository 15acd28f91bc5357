"""A project of one's own: `infra-gen init`, choosing the project (-C, --project,
INFRA_GEN_PROJECT), and a project's templates/ shadowing the bundled ones."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra_gen.project import Project
from infra_gen.render import BUNDLED_TEMPLATES, render_environment
from infra_gen.scaffold import WORKFLOW, files, project_name

ROOT = Path(__file__).resolve().parents[2]
SCAFFOLD = {"environments/base.yaml", "environments/dev.yaml", "environments/prod.yaml",
            "docs/environment.schema.json", ".gitignore", WORKFLOW, ".pre-commit-config.yaml",
            "README.md"}


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "INFRA_GEN_PROJECT"}
    return subprocess.run(
        [sys.executable, "-c", "from infra_gen.cli import main; main()", *args],
        cwd=cwd, capture_output=True, text=True, check=False, env={**environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("init") / "My-Shop"
    done = run("init", str(target), cwd=target.parent)
    assert done.returncode == 0, done.stderr
    return target


def test_init_writes_a_project_that_renders_and_is_up_to_date(initialised: Path) -> None:
    written = {p.relative_to(initialised).as_posix() for p in initialised.rglob("*") if p.is_file()}
    assert written == SCAFFOLD
    assert "/.secrets/" in (initialised / ".gitignore").read_text().splitlines()
    for name in ("base", "dev", "prod"):
        first = (initialised / "environments" / f"{name}.yaml").read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../docs/environment.schema.json"
    assert Project(initialised).load("prod").project == "my_shop"
    assert run("render", "--all", cwd=initialised).returncode == 0
    assert sorted(p.name for p in (initialised / "generated").iterdir()) == ["dev", "prod"]
    assert run("check", cwd=initialised).returncode == 0


def test_the_scaffold_ci_workflow_checks_first_and_pins_infra_gen(initialised: Path) -> None:
    doc = yaml.safe_load((initialised / WORKFLOW).read_text())
    runs = [s.get("run", "") for s in doc["jobs"]["validate"]["steps"]]
    install = next(i for i, r in enumerate(runs) if "pip install" in r)
    check = runs.index("infra-gen check")
    validate = next(i for i, r in enumerate(runs) if "infra-gen validate --all --strict --generated" in r)
    assert install < check < validate
    assert "infra-gen[validate] @ git+https://github.com/infra-gen/infra-gen@v" in runs[install]
    hooks = yaml.safe_load((initialised / ".pre-commit-config.yaml").read_text())["repos"][0]
    assert [h["id"] for h in hooks["hooks"]] == ["infra-gen-check", "infra-gen-validate"]
    ours = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert {h["id"] for h in hooks["hooks"]} <= ours


def test_the_scaffold_ci_workflow_passes_the_github_workflows_schema(initialised: Path) -> None:
    tool = Path(sys.executable).parent / "check-jsonschema"
    if not tool.exists() and os.environ.get("CI") != "true":
        pytest.skip("check-jsonschema not installed (the validate extra)")
    out = subprocess.run([str(tool), "--builtin-schema", "vendor.github-workflows",
                          str(initialised / WORKFLOW)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_init_never_replaces_a_file_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "dev.yaml").write_text("mine\n")
    done = run("init", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"error: {tmp_path}/environments/dev.yaml exists: init never replaces a file (--force does)"]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["dev.yaml", "environments"]
    assert run("init", "--force", cwd=tmp_path).returncode == 0
    assert (tmp_path / "environments" / "dev.yaml").read_text() != "mine\n"


@pytest.mark.parametrize(("directory", "expected"), [
    ("my-app", "my_app"), ("2048 Games!", "games"), ("---", "app"), ("Ops_Tools", "ops_tools"),
])
def test_project_name_from_the_directory(tmp_path: Path, directory: str, expected: str) -> None:
    assert project_name(tmp_path / directory) == expected
    assert f"project: {expected}\n" in files(tmp_path / directory)["environments/base.yaml"]


@pytest.mark.parametrize(("how", "command"), [
    ("-C", "check"), ("--project", "render"), ("--root", "list"), ("INFRA_GEN_PROJECT", "render"),
])
def test_the_project_is_chosen_on_every_command(initialised: Path, tmp_path: Path, how: str,
                                                command: str) -> None:
    args, env = ((), {"INFRA_GEN_PROJECT": str(initialised)}) if how == "INFRA_GEN_PROJECT" \
        else ((how, str(initialised)), {})
    extra = ("dev", "--out", str(tmp_path / "out")) if command == "render" else ()
    done = run(command, *extra, *args, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    if command == "render":
        assert (tmp_path / "out" / "dev" / "compose.yaml").is_file()


def test_the_option_wins_over_the_environment_variable(initialised: Path, tmp_path: Path) -> None:
    done = run("check", "-C", str(initialised), cwd=tmp_path,
               env={"INFRA_GEN_PROJECT": str(tmp_path / "nowhere")})
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("where", "expected"), [
    ("nowhere", "error: no project found: {tmp}/nowhere is not a directory"),
    ("", "error: no project found: neither {tmp} nor a parent has environments/"),
])
def test_no_project_is_one_line(tmp_path: Path, where: str, expected: str) -> None:
    done = run("check", "-C", str(tmp_path / where) if where else str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(expected.format(tmp=tmp_path))


def test_a_project_template_shadows_the_bundled_one_file_by_file(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "environments", tmp_path / "environments")
    bundled = render_environment(Project(tmp_path), "dev")
    own = tmp_path / "templates" / "redis" / "redis.conf.j2"
    own.parent.mkdir(parents=True)
    own.write_text((BUNDLED_TEMPLATES / "redis/redis.conf.j2").read_text() + "# ours\nlatency-tracking no\n")
    # A fresh process: the Jinja environment is cached per templates directory.
    done = run("render", "dev", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    generated = tmp_path / "generated" / "dev"
    assert (generated / "redis/redis.conf").read_text().endswith("# ours\nlatency-tracking no\n")
    for rel, f in bundled.items():
        if rel not in ("redis/redis.conf", "MANIFEST"):
            assert (generated / rel).read_bytes() == f.content, rel


def test_the_templates_are_in_the_package() -> None:
    assert BUNDLED_TEMPLATES.parent == Path(__import__("infra_gen").__file__).resolve().parent
    assert (BUNDLED_TEMPLATES / "nginx/nginx.conf.j2").is_file()
    assert not (ROOT / "templates").exists()


@pytest.mark.parametrize(("source", "expected"), [
    ("ok\n{% if %}\n", "error: templates/redis/redis.conf.j2:2: TemplateSyntaxError: Expected an expression"),
    ("{{ nope.field }}\n", "error: templates/redis/redis.conf.j2: UndefinedError: 'nope' is undefined"),
])
def test_an_error_in_a_project_template_is_one_line(tmp_path: Path, source: str, expected: str) -> None:
    shutil.copytree(ROOT / "environments", tmp_path / "environments")
    own = tmp_path / "templates" / "redis" / "redis.conf.j2"
    own.parent.mkdir(parents=True)
    own.write_text(source)
    done = run("render", "dev", cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(expected)
    assert not (tmp_path / "generated").exists()
