"""`infra-gen explain` (value and origin along the extends chain) and `infra-gen doctor`
(every validation tool: found, version, install hint; exit 0/1)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from clirun import copy_project, run_cli

from infra_gen import contract, doctor
from infra_gen.validate import base, runner
from infra_gen.validate.base import Check, Context, Status

ROOT = Path(__file__).resolve().parents[2]

# qa extends _mid extends base; line numbers below are the lines of these texts.
MID = """\
extends: base
services:
  api:
    replicas: 2
postgres:
  max_connections: 150
"""
QA = """\
extends: _mid
domain: qa.example.com
services:
  api:
    replicas: 4
tls: {mode: self-signed}
load_balancer: {admin_allow: [10.1.0.0/16, 10.2.0.0/16]}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("project"))
    (root / "environments" / "_mid.yaml").write_text(MID)
    (root / "environments" / "qa.yaml").write_text(QA)
    return root


def base_line(project: Path, text: str, after: str = "") -> int:
    """The line of base.yaml holding text (the first one after the line `after`)."""
    lines = (project / "environments" / "base.yaml").read_text().splitlines()
    start = lines.index(after) + 1 if after else 0
    return lines.index(text, start) + 1


@pytest.mark.parametrize(("field", "want"), [
    # set in qa.yaml, over _mid.yaml and base.yaml (nearest first)
    ("services.api.replicas", {"value": 4, "source": "file", "file": "environments/qa.yaml", "line": 5,
                               "overrides": [("environments/_mid.yaml", 4), ("base.yaml", "  api:")]}),
    # set in the middle of the chain only
    ("postgres.max_connections", {"value": 150, "source": "file", "file": "environments/_mid.yaml",
                                  "line": 6, "overrides": []}),
    # set in base.yaml only
    ("postgres.replicas", {"value": 1, "source": "file", "file": "environments/base.yaml",
                           "line": ("base.yaml", "  replicas: 1", "postgres:"), "overrides": []}),
    # no file sets it: the model's default, with the field's docstring
    ("redis.maxmemory_policy", {"source": "default", "file": None, "line": None}),
    # the loader sets it from the file name
    ("name", {"value": "qa", "source": "derived", "file": None}),
    # a list item, bracket or dotted
    ("load_balancer.admin_allow[1]", {"value": "10.2.0.0/16", "file": "environments/qa.yaml", "line": 7}),
    ("load_balancer.admin_allow.0", {"value": "10.1.0.0/16", "file": "environments/qa.yaml", "line": 7}),
])
def test_explain_names_the_file_and_line_that_set_a_field(
    project: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    field: str, want: dict[str, object],
) -> None:
    monkeypatch.chdir(project)
    code, out, err = run_cli(capfd, monkeypatch, "explain", "qa", field, "--format", "json")
    assert code == 0, err
    got = json.loads(out)
    for key, value in want.items():
        if key == "overrides":
            expected = [{"file": f, "line": n} if isinstance(n, int)
                        else {"file": "environments/base.yaml",
                              "line": base_line(project, "    replicas: 1", after=n)}
                        for f, n in value]  # type: ignore[attr-defined]
            assert got["overrides"] == expected
        elif key == "line" and isinstance(value, tuple):
            assert got["line"] == base_line(project, value[1], *value[2:])
        else:
            assert got[key] == value, (key, got)
    if got["source"] == "default":
        assert got["has_default"] and got["value"] == got["default"]
        assert got["description"]  # the field docstring


def test_explain_text_output(
    project: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    code, out, _ = run_cli(capfd, monkeypatch, "explain", "qa", "services.api.replicas")
    assert code == 0
    assert out.splitlines()[:3] == [
        "qa: services.api.replicas = 4",
        "  set in environments/qa.yaml:5",
        "  overrides environments/_mid.yaml:4",
    ]
    code, out, _ = run_cli(capfd, monkeypatch, "explain", "qa", "tls")
    assert "  merges over environments/base.yaml:" in out  # mappings merge, they do not replace
    code, out, _ = run_cli(capfd, monkeypatch, "explain", "qa", "redis.maxmemory_policy")
    assert out.splitlines()[1].startswith("  default (no file of the extends chain sets it; model default")


@pytest.mark.parametrize(("field", "want"), [
    ("postgres.max_conections", "error: postgres.max_conections: unknown field; did you mean "
                                "'postgres.max_connections'? expected one of: "),
    ("services.apii.replicas", "error: services.apii.replicas: unknown key; did you mean 'services.api'? "
                               "expected one of: frontend, api, worker, ml"),
    ("postgress", "error: postgress: unknown field; did you mean 'postgres'?"),
    ("services.api.replicas.count", "error: services.api.replicas.count: services.api.replicas is a value "
                                    "(4), it has no fields"),
    ("load_balancer.admin_allow.99", "error: load_balancer.admin_allow.99: expected an index below"),
    ("postgres..version", "error: postgres..version: expected a dotted field path such as "
                          "postgres.max_connections"),
    ("\x1b[31mred", "error: \\x1b[31mred: unknown field; expected one of:"),
])
def test_explain_unknown_field_is_one_line_exit_2(
    project: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    field: str, want: str,
) -> None:
    monkeypatch.chdir(project)
    code, out, err = run_cli(capfd, monkeypatch, "explain", "qa", field)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and err.startswith(want), err


def test_explain_unknown_environment(
    project: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    code, _, err = run_cli(capfd, monkeypatch, "explain", "qq", "name")
    assert code == 2 and err.startswith(
        "error: unknown environment 'qq'; expected one of: dev-ha, dev, prod, qa, staging, swarm")


# -- doctor --------------------------------------------------------------------
@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """A fake machine: the tools in the returned set are installed, at version 1.2.3."""
    installed: set[str] = set()
    monkeypatch.setattr(base, "venv_tool", lambda name: f"/usr/bin/{name}" if name in installed else None)
    monkeypatch.setattr(doctor.shutil, "which",
                        lambda name: f"/usr/bin/{name}" if name in installed else None)
    monkeypatch.setattr(doctor, "_run", lambda argv: f"{argv[0]} version 1.2.3\n"
                        if Path(argv[0]).name in installed else None)
    monkeypatch.setattr(base, "docker_available", lambda: None)
    return installed


EVERY_TOOL = [*contract.APT_TOOLS, *contract.PIP_TOOLS, *contract.DOCKER_TOOLS]


def test_doctor_lists_every_contract_tool_and_exits_0_when_all_are_found(
    machine: set[str], capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    machine.update(["nginx", "promtool", "amtool", "logrotate", "shellcheck", "ufw", "mtail",
                    "check-jsonschema", "gixy", "docker"])
    code, out, _ = run_cli(capfd, monkeypatch, "doctor", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["ok"] and data["missing"] == []
    assert [t["tool"] for t in data["tools"]] == EVERY_TOOL
    assert all(t["found"] and t["version"] == "1.2.3" for t in data["tools"])
    by_name = {t["tool"]: t for t in data["tools"]}
    assert by_name["promtool"]["checks"][:3] == ["promtool check config", "promtool check rules",
                                                  "promtool test rules"]
    assert by_name["docker compose"]["path"] == "/usr/bin/docker compose"


@pytest.mark.parametrize(("absent", "code", "missing"), [
    (["promtool"], 1, ["promtool"]),
    (["check-jsonschema", "gixy"], 1, ["check-jsonschema", "gixy"]),
    (["docker"], 1, ["docker", "docker compose"]),  # the plugin needs the CLI
    (["nginx", "ufw"], 0, []),  # optional: nginx -t uses the lb image, ufw runs in a container
])
def test_doctor_exits_1_when_a_required_tool_is_missing(
    machine: set[str], capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    absent: list[str], code: int, missing: list[str],
) -> None:
    machine.update(t for t in [*EVERY_TOOL, "docker"] if t not in absent)
    got, out, err = run_cli(capfd, monkeypatch, "doctor", "--format", "json")
    data = json.loads(out)
    assert (got, data["ok"], data["missing"]) == (code, code == 0, missing)
    if missing:
        assert err == f"error: required tool(s) not found: {', '.join(missing)} (install hints above)\n"
    for tool in data["tools"]:
        assert tool["install"] == contract.install_hint(tool["tool"])


def test_doctor_text_table_names_install_hints(
    machine: set[str], capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    code, out, _ = run_cli(capfd, monkeypatch, "doctor")
    assert code == 1
    assert "pip install 'infra-gen[validate]' (or pip install check-jsonschema)" in out
    assert "apt-get install prometheus-alertmanager (or make tools)" in out


def test_a_missing_pip_tool_is_not_hinted_as_make_tools(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    # `make tools` installs Debian packages only: check-jsonschema comes from the extra.
    monkeypatch.setattr(runner, "missing_tools", lambda tools: list(tools))
    check = Check("schema", "compose", lambda ctx: [], ("check-jsonschema",))
    result = runner.run_check(Context(SimpleNamespace(name="dev"), tmp_path), check)  # type: ignore[arg-type]
    assert result.status is Status.skipped
    assert result.reason == ("check-jsonschema not installed — pip install 'infra-gen[validate]' "
                             "(or pip install check-jsonschema)")
    assert "make tools" not in contract.install_hint("check-jsonschema")
