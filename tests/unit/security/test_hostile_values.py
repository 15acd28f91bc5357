"""Hostile values that got past the model's types cannot change a generated file's
structure (issue 8, escaping as defense in depth).

The environments here are built with `model_copy(update=...)`, which skips
validation: exactly the situation of a value that slipped past a type. Each case
renders the files the value reaches and checks the structure stayed what it was
(bash parses, the payload is inert and arrives verbatim; same crontab lines, ssh
Host blocks, nginx locations, SQL statements; compose gets `$$`), or that the
escaping filter refused the value with an EscapingError where the context has no
quoting that could hold it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra_gen.artifacts import (
    backups,
    compose,
    datastores,
    docs,
    fluentd,
    logrotate,
    nginx,
    ssh,
)
from infra_gen.artifacts.base import Output
from infra_gen.escaping import EscapingError
from infra_gen.model import Environment
from infra_gen.project import Project
from infra_gen.render import header, jinja_environment
from infra_gen.topology import Topology, plan

ROOT = Path(__file__).resolve().parents[3]
PROJECT = Project(ROOT)
MARKER = "/tmp/infra-gen-pwned"
SHELL_PAYLOADS = [
    f"/srv/x$(touch {MARKER})",
    f"/srv/x`touch {MARKER}`",
    f"/srv/'; touch {MARKER}; '",
    f'/srv/"; touch {MARKER}; : "',
    f"/srv/x$(touch${{IFS}}{MARKER})",
    "/srv/${HOME}/a b/*",
    f"/srv/x}}$(touch {MARKER})",
    "/srv/100%",
]


def with_update(model: Any, path: str, value: Any) -> Any:
    """model with the dotted field path set to value, without validation."""
    head, _, rest = path.partition(".")
    if isinstance(model, dict):
        return {**model, head: with_update(model[head], rest, value) if rest else value}
    inner = with_update(getattr(model, head), rest, value) if rest else value
    return model.model_copy(update={head: inner})


def hostile(env_name: str, **fields: Any) -> Topology:
    env: Environment = PROJECT.load(env_name)
    for path, value in fields.items():
        env = with_update(env, path.replace("__", "."), value)
    return plan(env)


def render(topo: Topology, outputs: Callable[[Topology], list[Output]],
           only: str | None = None) -> dict[str, str]:
    """The files of one artifact kind (only those whose path contains `only`)."""
    jenv = jinja_environment(PROJECT.templates_dir)
    files = {}
    for out in outputs(topo):
        if only is not None and only not in out.path:
            continue
        context = {"topo": topo, "env": topo.env,
                   "header": lambda comment="#": header(topo.name, comment), **out.context}
        files[out.path] = jenv.get_template(out.template).render(context)
    return files


@pytest.fixture(autouse=True)
def _no_marker() -> Any:
    Path(MARKER).unlink(missing_ok=True)
    yield
    assert not Path(MARKER).exists(), "a payload ran a command"


# -- shell -----------------------------------------------------------------------

def defaults_of(script: str, names: list[str]) -> list[str]:
    """Run the script's settings part (up to its first action) under bash and
    return the values the named variables end up with."""
    cut = min(i for i in (script.find("\nmkdir -p"), script.find("\nusage()")) if i > 0)
    probe = script[:cut] + "\n" + "".join(f'printf "%s\\0" "${n}"\n' for n in names)
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, env=env,
                          check=True)
    return done.stdout.split("\0")[:-1]


@pytest.mark.parametrize("payload", SHELL_PAYLOADS)
def test_backup_scripts_keep_a_hostile_directory_inert(payload: str) -> None:
    topo = hostile("prod", backups__directory=payload, logging__logrotate__log_dir=payload,
                   postgres__database=payload, postgres__user=payload)
    scripts = render(topo, backups.outputs, only=".sh")
    assert set(scripts) == {f"backup/{s}" for s in backups.SCRIPTS}
    for path, text in scripts.items():
        subprocess.run(["bash", "-n"], input=text, text=True, check=True)
        if path.endswith("backup_models.sh"):
            continue
        names = ["LOG_DIR", "DB_NAME", "DB_OWNER" if "restore" in path else "BACKUP_DIR"]
        # The value arrives verbatim (LOG_DIR is <log_dir>/backup).
        assert defaults_of(text, names) == [f"{payload}/backup", payload, payload], path


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_backup_scripts_with_hostile_values_pass_shellcheck(tmp_path: Path) -> None:
    topo = hostile("prod", backups__directory=SHELL_PAYLOADS[0], postgres__user=SHELL_PAYLOADS[2])
    for path, text in render(topo, backups.outputs, only=".sh").items():
        target = tmp_path / Path(path).name
        target.write_text(text)
        # SC2016 (info) says `$(...)` in single quotes does not expand: the point.
        done = subprocess.run(["shellcheck", "-e", "SC2016", str(target)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_deploy_stack_quotes_a_hostile_secrets_dir(tmp_path: Path) -> None:
    payload = f"/srv/s'$(touch {MARKER})"
    topo = hostile("prod", deploy__secrets_dir=payload)
    text = render(topo, compose.outputs, only="deploy-stack.sh")["deploy-stack.sh"]
    subprocess.run(["bash", "-n"], input=text, text=True, check=True)
    # Run it with stat, sha256sum and docker recording their arguments.
    fake = tmp_path / "bin"
    fake.mkdir()
    log = tmp_path / "calls"
    for tool in ("stat", "sha256sum", "docker"):
        # docker service ps --format: the migration task this deploy started completed.
        answer = ('case "$*" in *--format*ID*) echo "new Complete 1 second ago";; '
                  '*) echo 1;; esac' if tool == "docker" else "echo 1")
        (fake / tool).write_text(f'#!/bin/bash\nprintf "{tool} %s\\n" "$*" >>{log}\n{answer}\n')
        (fake / tool).chmod(0o755)
    script = tmp_path / "deploy-stack.sh"
    script.write_text(text)
    subprocess.run(["bash", str(script)], check=True, env={"PATH": f"{fake}:/usr/bin:/bin"})
    calls = log.read_text().splitlines()
    assert f"stat -c %Y -- {payload}/postgres_password" in calls
    deploys = [i for i, c in enumerate(calls)
               if c.startswith("docker stack deploy --prune -c stack.yaml churn-prediction-prod")]
    assert len(deploys) == 1
    # Then the one-shot migration: run again (the service existed) and waited for.
    assert "docker service update --force --detach --quiet churn-prediction-prod_migrate" in calls[
        deploys[0]:]


def test_a_line_break_in_the_secrets_dir_cannot_add_compose_keys() -> None:
    """The seed's `include:` injection went through compose.yaml's comment."""
    topo = hostile("prod", deploy__secrets_dir="/srv/s\ninclude:\n  - /tmp/evil.yaml")
    with pytest.raises(EscapingError, match="line break"):
        render(topo, compose.outputs, only="compose.yaml")


# -- crontab ---------------------------------------------------------------------

def cron_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln and not ln.startswith("#")]


def test_crontab_refuses_a_schedule_with_a_line_break() -> None:
    topo = hostile("dev", backups__database__schedule=f"0 2 * * *\n* * * * * root touch {MARKER}")
    with pytest.raises(EscapingError, match="cron_schedule"):
        render(topo, backups.outputs, only="crontab")


def test_crontab_quotes_the_command_and_escapes_percent() -> None:
    clean = cron_lines(render(hostile("dev"), backups.outputs, only="crontab")["backup/crontab"])
    topo = hostile("dev", project="churn %d$(id)")
    lines = cron_lines(render(topo, backups.outputs, only="crontab")["backup/crontab"])
    assert len(lines) == len(clean)
    assert lines[-2] == "0 2 * * * root '/opt/churn \\%d$(id)/dev/backup/backup_db.sh'"


# -- ssh_config ------------------------------------------------------------------

def ssh_hosts(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith("Host ")]


@pytest.mark.parametrize("field, value", [
    ("ssh__bastion__user", "ubuntu\n    ProxyCommand touch /tmp/x"),
    ("ssh__bastion__user", "ubuntu ProxyCommand=touch"),
    ("ssh__bastion__identity_file", "~/.ssh/id\nHost *\n    LocalCommand touch /tmp/x"),
    ("ssh__bastion__identity_file", "~/.ssh/%d/key"),
    ("ssh__bastion__identity_file", "${HOME}/key"),
    ("ssh__bastion__hostname", 'bastion" -oProxyCommand="touch'),
])
def test_ssh_config_refuses_values_that_would_add_options(field: str, value: str) -> None:
    topo = hostile("prod", **{field: value})
    with pytest.raises(EscapingError, match="ssh_value"):
        render(topo, ssh.outputs)


def test_ssh_config_refuses_a_host_alias_that_adds_a_block() -> None:
    env: Environment = PROJECT.load("prod")
    assert env.ssh.bastion is not None
    hosts = {**env.ssh.hosts, "web\nHost *\n    ProxyCommand touch /tmp/x": "10.0.0.9"}
    topo = plan(with_update(env, "ssh.hosts", hosts))
    with pytest.raises(EscapingError, match="token"):
        render(topo, ssh.outputs)
    clean = render(hostile("prod"), ssh.outputs)["ssh/config"]
    assert len(ssh_hosts(clean)) == 1 + len(env.ssh.hosts)


# -- nginx -----------------------------------------------------------------------

def nginx_structure(text: str) -> list[str]:
    """The block openings (directive and arguments before `{`), quotes honoured."""
    tokens = re.findall(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|#[^\n]*|[{};]|[^\s{};"\'#]+', text)
    blocks, current = [], []
    for tok in tokens:
        if tok.startswith("#"):
            continue
        if tok == "{":
            blocks.append(" ".join(current[:1]))
            current = []
        elif tok in (";", "}"):
            current = []
        else:
            current.append(tok)
    return blocks


def with_route(route: str) -> Topology:
    env: Environment = PROJECT.load("dev")
    api = env.services["api"].model_copy(update={"route": route})
    return plan(with_update(env, "services", {**env.services, "api": api}))


def test_a_hostile_route_stays_one_location() -> None:
    clean = nginx_structure(render(hostile("dev"), nginx.outputs)["nginx/nginx.conf"])
    text = render(with_route("/api/ } location / { return 200; } # x/"), nginx.outputs)
    conf = text["nginx/nginx.conf"]
    assert nginx_structure(conf) == clean
    assert 'location "/api/ } location / { return 200; } # x/" {' in conf


@pytest.mark.parametrize("route", ["/api/\n}\nlocation / {", "~ ^/", "=/api/", "/api/$host/"])
def test_nginx_refuses_routes_quoting_cannot_hold(route: str) -> None:
    with pytest.raises(EscapingError):
        render(with_route(route), nginx.outputs)


# -- SQL -------------------------------------------------------------------------

def sql_statements(text: str) -> list[str]:
    """Statements split on `;` outside quotes and comments."""
    tokens = re.findall(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'|--[^\n]*|;|[^;"\'-]+|-', text)
    statements, current = [], ""
    for tok in tokens:
        if tok.startswith("--"):
            continue
        if tok == ";":
            statements.append(current.strip())
            current = ""
        else:
            current += tok
    return statements


def test_init_sql_quotes_a_hostile_role() -> None:
    clean = sql_statements(render(hostile("dev"), datastores.outputs, "init.sql")["postgres/init.sql"])
    role = 'churn"; DROP TABLE x; --'
    text = render(hostile("dev", postgres__user=role, postgres__database="user"),
                  datastores.outputs, "init.sql")["postgres/init.sql"]
    statements = sql_statements(text)
    assert len(statements) == len(clean)
    assert 'GRANT pg_monitor TO "churn""; DROP TABLE x; --"' in statements
    assert 'REVOKE ALL ON DATABASE "user" FROM PUBLIC' in statements


def test_pg_hba_refuses_a_name_it_cannot_quote() -> None:
    topo = hostile("dev", postgres__user='churn" all 0.0.0.0/0 trust\nhost')
    with pytest.raises(EscapingError, match="hba_name"):
        render(topo, datastores.outputs, "pg_hba")


# -- redis, logrotate ------------------------------------------------------------

def test_redis_conf_gets_no_replicaof() -> None:
    topo = hostile("dev", redis__maxmemory_policy="noeviction\nreplicaof evil 6379")
    with pytest.raises(EscapingError):
        render(topo, datastores.outputs, "redis.conf")
    topo = hostile("dev", redis__maxmemory_policy="noeviction replicaof evil 6379")
    conf = render(topo, datastores.outputs, "redis.conf")["redis/redis.conf"]
    assert 'maxmemory-policy "noeviction replicaof evil 6379"' in conf
    assert not re.search(r"^replicaof", conf, re.M)


@pytest.mark.parametrize("log_dir", [
    "/var/log/x {\n    postrotate\n        touch /tmp/x\n    endscript\n}\n/var/log/y",
    "/var/log/a b",
    "relative/logs",
])
def test_logrotate_refuses_a_path_it_cannot_hold(log_dir: str) -> None:
    with pytest.raises(EscapingError, match="logrotate_path"):
        render(hostile("dev", logging__logrotate__log_dir=log_dir), logrotate.outputs)


def test_fluentd_refuses_a_host_that_adds_directives() -> None:
    host = 'es\n  <match **>\n    @type exec\n    command touch /tmp/x\n  </match>'
    topo = hostile("prod", logging__fluentd__elasticsearch__host=host)
    with pytest.raises(EscapingError, match="fluentd_value"):
        render(topo, fluentd.outputs)
    assert "fluentd/fluent.conf" in render(hostile("prod"), fluentd.outputs)


# -- runbook -----------------------------------------------------------------------

@pytest.mark.parametrize("field, value, refused_by", [
    ("backups__directory", f"/srv/$(touch {MARKER})", "token"),
    ("backups__database__schedule", "0 2 * * *`id`", "md_code"),
    ("postgres__database", "churn | x", "token"),
])
def test_runbook_refuses_what_would_change_a_pasted_command(field: str, value: str,
                                                              refused_by: str) -> None:
    with pytest.raises(EscapingError, match=refused_by):
        render(hostile("dev", **{field: value}), docs.outputs, "RUNBOOK")


# -- compose ---------------------------------------------------------------------

def test_compose_gets_dollar_dollar_and_stack_keeps_its_versions() -> None:
    env: Environment = PROJECT.load("prod")
    api = env.services["api"].model_copy(
        update={"environment": {"FROM_HOME": "${HOME}", "RUN": "$(touch /tmp/x)", "PLAIN": "a"}})
    topo = plan(with_update(env, "services", {**env.services, "api": api}))
    files = render(topo, compose.outputs)
    for path in ("compose.yaml", "stack.yaml"):
        doc = yaml.safe_load(files[path])
        api_env = doc["services"]["api"]["environment"]
        assert api_env["FROM_HOME"] == "$${HOME}" and api_env["RUN"] == "$$(touch /tmp/x)"
        assert api_env["PLAIN"] == "a"
    stack = yaml.safe_load(files["stack.yaml"])
    name = stack["configs"]["nginx_nginx.conf"]["name"]
    assert name.endswith("_${CONFIG_NGINX_NGINX_CONF:-1}"), name


def test_no_interpolation_leaves_keys_and_marked_strings() -> None:
    data = {"$k": ["$a", compose.Interpolated("${B}"), 3, {"c": "$$"}]}
    assert compose.no_interpolation(data) == {"$k": ["$$a", "${B}", 3, {"c": "$$$$"}]}
    assert type(compose.no_interpolation(compose.Interpolated("x"))) is str
