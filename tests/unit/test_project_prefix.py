"""`project:` prefixes what its docstring says: the compose project, /opt/<project>/<env>,
/var/log/<project> and /var/backups/<project> unless set, backup, cron and logrotate names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra_gen.model import Environment
from infra_gen.project import Project
from infra_gen.render import render_topology
from infra_gen.topology import plan

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Project(ROOT)


def prod_as(project: str, **drop: bool) -> dict[str, Any]:
    """prod's settings under another project name, with the project-named defaults unset."""
    raw = PROJECT.load("prod").model_dump(mode="json", by_alias=True)
    raw["project"] = project
    if drop.get("log_dir", True):
        del raw["logging"]["logrotate"]["log_dir"]
    if drop.get("directory", True):
        del raw["backups"]["directory"]
    del raw["deploy"]["secrets_dir"]  # prod names it explicitly
    return raw


def test_every_project_named_thing_follows_the_project() -> None:
    env = Environment.model_validate(prod_as("acme"))
    assert (env.logging.logrotate.log_dir, env.backups.directory) == ("/var/log/acme", "/var/backups/acme")
    topo = plan(env)
    assert topo.compose_project == "acme-prod"
    files = {rel: f.content.decode() for rel, f in render_topology(topo, PROJECT.templates_dir).items()}
    left = [f"{rel}: {line.strip()}" for rel, text in files.items() for line in text.splitlines()
            if "churn_prediction" in line or "churn-prediction" in line]
    assert not left, "\n".join(left)
    text = "\n".join(files.values())
    for expected in ("/var/log/acme", "/var/backups/acme", "/opt/acme/prod", "/etc/cron.d/acme_backup"):
        assert expected in text, expected
    assert "logrotate/acme" in files


def test_a_directory_set_in_the_file_wins() -> None:
    raw = prod_as("acme", log_dir=False, directory=False)
    raw["logging"]["logrotate"]["log_dir"] = "/srv/logs"
    env = Environment.model_validate(raw)
    assert env.logging.logrotate.log_dir == "/srv/logs"
    assert env.backups.directory == "/var/backups/churn_prediction"


def test_the_seed_keeps_its_directories() -> None:
    env = PROJECT.load("dev")
    assert env.project == "churn_prediction"
    assert env.logging.logrotate.log_dir == "/var/log/churn_prediction"
    assert env.backups.directory == "/var/backups/churn_prediction"
