"""Static checks of the images in services/: Dockerfiles, entry points, build script.

No Docker here: these read the files. The images themselves are built and
started by scripts/build-images.sh and the stack tests.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"
BUILD_SCRIPT = ROOT / "scripts" / "build-images.sh"
IMAGES = ("app", "lb", "frontend", "postgres", "redis", "prometheus", "alertmanager", "exporters",
          "certbot", "mlflow")
BASE = "debian:bookworm-slim"
VERSION = (ROOT / "VERSION").read_text(encoding="utf-8").strip()

# Users the contract (docs/contract.md) names per image.
CONTRACT_USERS = {
    "app": "10001:10001",
    "lb": "nginx",
    "frontend": "nginx",
    "postgres": "postgres",
    "redis": "redis",
    "prometheus": "prometheus",
    "alertmanager": "prometheus",
    "exporters": "nobody",
    "certbot": "certbot",
    "mlflow": "10003:10003",
}
EXPOSED = {
    "app": {"8000", "5000", "8888", "2525", "8025", "8030"},
    "lb": {"8080", "8443"},
    "frontend": {"8080"},
    "postgres": {"5432"},
    "redis": {"6379", "26379"},
    "prometheus": {"9090"},
    "alertmanager": {"9093"},
    "exporters": {"3903", "9100", "9113", "9121", "9187"},
    "certbot": set(),
    "mlflow": {"5000"},
}
SECRET_NAME = re.compile(r"(secret|passw|\.key$|\.pem$|\.p12$|id_rsa|\.env$|token)", re.IGNORECASE)


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse(path: Path) -> list[Stage]:
    """Dockerfile → stages of instructions (continuations joined, comments dropped)."""
    stages: list[Stage] = []
    buffer, start = "", 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        buffer += stripped
        keyword, _, args = buffer.partition(" ")
        keyword = keyword.upper()
        buffer = ""
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        else:
            assert stages, f"{path}:{start}: {keyword} before FROM"
            stages[-1].instructions.append(Instruction(keyword, args.strip(), start))
    assert not buffer, f"{path}: dangling line continuation"
    return stages


def dockerfile(name: str) -> Path:
    return SERVICES / name / "Dockerfile"


def copy_sources(instruction: Instruction) -> list[str]:
    words = [w for w in instruction.args.split() if not w.startswith("--")]
    if instruction.args.startswith("["):
        words = re.findall(r'"([^"]*)"', instruction.args)
    return words[:-1]


def shell_scripts() -> list[Path]:
    return sorted(p for p in SERVICES.glob("*/*.sh") if ".wheels" not in p.parts)


# --------------------------------------------------------------------------- Dockerfiles


@pytest.mark.parametrize("name", IMAGES)
def test_every_image_has_a_dockerfile(name: str) -> None:
    assert dockerfile(name).is_file()


@pytest.mark.parametrize("name", IMAGES)
def test_stages_start_from_debian_bookworm_slim(name: str) -> None:
    stages = parse(dockerfile(name))
    text = dockerfile(name).read_text(encoding="utf-8")
    first = next(line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    assert first.strip() == f"FROM {BASE}" or first.strip().startswith(f"FROM {BASE} AS ")
    named = {s.name for s in stages if s.name}
    for stage in stages:
        assert stage.base == BASE or stage.base in named, stage.base


@pytest.mark.parametrize("name", IMAGES)
def test_base_tags_are_pinned(name: str) -> None:
    for stage in parse(dockerfile(name)):
        if stage.base == BASE:
            continue
        assert ":" in stage.base or stage.base in {s.name for s in parse(dockerfile(name))}
        assert not stage.base.endswith(":latest")


@pytest.mark.parametrize("name", IMAGES)
def test_final_stage_runs_as_the_contract_user(name: str) -> None:
    final = parse(dockerfile(name))[-1]
    users = final.all("USER")
    assert users, "no USER in the final stage"
    user = users[-1].args
    assert user.split(":")[0] not in {"root", "0"}
    assert user == CONTRACT_USERS[name]


@pytest.mark.parametrize("name", IMAGES)
def test_final_stage_has_a_healthcheck(name: str) -> None:
    checks = parse(dockerfile(name))[-1].all("HEALTHCHECK")
    assert checks and "NONE" not in checks[-1].args.upper().split()
    assert re.search(r"--interval=\d+s", checks[-1].args)
    assert re.search(r"--start-period=\d+s", checks[-1].args)


@pytest.mark.parametrize("name", IMAGES)
def test_version_label_and_default(name: str) -> None:
    final = parse(dockerfile(name))[-1]
    labels = " ".join(i.args for i in final.all("LABEL"))
    assert 'org.opencontainers.image.version="${VERSION}"' in labels
    args = [i.args for i in final.all("ARG") if i.args.startswith("VERSION")]
    assert args == [f"VERSION={VERSION}"], "the ARG default must match ./VERSION"


@pytest.mark.parametrize("name", IMAGES)
def test_exposed_ports_match_the_contract(name: str) -> None:
    final = parse(dockerfile(name))[-1]
    ports = {p for i in final.all("EXPOSE") for p in i.args.split()}
    assert ports == EXPOSED[name]


@pytest.mark.parametrize("name", IMAGES)
def test_apt_is_lean_and_cleaned_in_the_same_layer(name: str) -> None:
    for stage in parse(dockerfile(name)):
        for run in stage.all("RUN"):
            if "apt-get install" in run.args:
                for install in re.findall(r"apt-get install[^;&|]*", run.args):
                    assert "--no-install-recommends" in install, f"line {run.line}"
                    assert " -y" in install, f"line {run.line}"
            if "apt-get update" in run.args:
                assert "rm -rf /var/lib/apt/lists/*" in run.args, f"line {run.line}"
                assert "apt-get install" in run.args, f"line {run.line}: update without install"


@pytest.mark.parametrize("name", IMAGES)
def test_no_secret_is_copied_or_set(name: str) -> None:
    for stage in parse(dockerfile(name)):
        for inst in stage.instructions:
            if inst.keyword in {"COPY", "ADD"}:
                assert inst.keyword == "COPY", f"line {inst.line}: use COPY, not ADD"
                if "--from=" in inst.args:
                    continue
                for source in copy_sources(inst):
                    assert not SECRET_NAME.search(source), f"line {inst.line}: {source}"
            if inst.keyword in {"ENV", "ARG"}:
                for key in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", inst.args):
                    if re.search(r"PASS|SECRET|TOKEN|KEY", key, re.IGNORECASE):
                        assert key.endswith("_FILE"), f"line {inst.line}: {key}"
            if inst.keyword == "RUN":
                assert "/run/secrets" not in inst.args, f"line {inst.line}"


@pytest.mark.parametrize("name", IMAGES)
def test_copied_files_exist_and_scripts_are_executable(name: str) -> None:
    for stage in parse(dockerfile(name)):
        for inst in stage.all("COPY"):
            if "--from=" in inst.args:
                continue
            for source in copy_sources(inst):
                if source.split("/")[1:2] == [".wheels"]:
                    continue  # built on the host by scripts/build-images.sh (app, mlflow)
                path = SERVICES / source
                assert path.exists(), f"line {inst.line}: {source} (context is services/)"
                destination = inst.args.split()[-1]
                if path.is_file() and destination.startswith("/usr/local/bin/"):
                    assert path.stat().st_mode & 0o111, f"{source} must be executable"


@pytest.mark.parametrize("name", IMAGES)
def test_entrypoint_and_cmd_use_exec_form(name: str) -> None:
    final = parse(dockerfile(name))[-1]
    for inst in final.all("ENTRYPOINT") + final.all("CMD"):
        assert inst.args.startswith("["), f"line {inst.line}: exec form keeps signals working"


def test_apt_layer_shared_between_lb_and_frontend() -> None:
    def first_run(name: str) -> str:
        return parse(dockerfile(name))[-1].all("RUN")[0].args

    assert first_run("lb") == first_run("frontend")


def test_app_image_installs_from_host_wheels_offline() -> None:
    text = dockerfile("app").read_text(encoding="utf-8")
    assert "--no-index" in text
    assert "churn train --out /opt/churn/model" in text
    _build, final = parse(dockerfile("app"))
    assert not [i for i in final.all("COPY") if ".wheels" in i.args], "wheels must stay in the build stage"


def test_prometheus_and_alertmanager_keep_the_binary_as_entrypoint() -> None:
    # compose `command:` replaces only the flags (e.g. --web.route-prefix).
    for name, binary in (
        ("prometheus", "/usr/bin/prometheus"),
        ("alertmanager", "/usr/bin/prometheus-alertmanager"),
    ):
        final = parse(dockerfile(name))[-1]
        assert final.all("ENTRYPOINT")[-1].args == f'["{binary}"]'
        assert "--config.file=" in final.all("CMD")[-1].args


def test_dockerignore_keeps_the_app_source_out() -> None:
    lines = (SERVICES / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "app/churn" in lines


def test_version_file() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)


# --------------------------------------------------------------------------- scripts


@pytest.mark.parametrize("script", shell_scripts(), ids=lambda p: str(p.relative_to(SERVICES)))
def test_scripts_are_strict_and_end_in_exec(script: Path) -> None:
    lines = script.read_text(encoding="utf-8").splitlines()
    assert lines[0] in ("#!/usr/bin/env bash", "#!/bin/bash")
    code = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    assert "set -euo pipefail" in code[:3]
    assert code[-1].startswith("exec "), f"last command is {code[-1]!r}"
    assert script.stat().st_mode & 0o111, "not executable"


def test_scripts_never_put_a_password_on_a_command_line() -> None:
    for script in shell_scripts():
        text = script.read_text(encoding="utf-8")
        assert "--password" not in text and '-a "$' not in text, script
        assert "PGPASSWORD" not in text, script


def test_build_script_is_strict_and_reads_the_version_file() -> None:
    text = BUILD_SCRIPT.read_text(encoding="utf-8")
    assert "set -euo pipefail" in text
    assert '"$ROOT/VERSION"' in text
    assert "scripts/base-image.sh" in text
    for name in IMAGES:
        assert name in text
    assert BUILD_SCRIPT.stat().st_mode & 0o111


@pytest.mark.validate
def test_shellcheck_is_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (scripts/install-tools.sh)")
    files = [str(BUILD_SCRIPT), *map(str, shell_scripts())]
    result = subprocess.run([shellcheck, *files], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
