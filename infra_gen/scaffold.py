"""`infra-gen init [DIR]`: the files of a new project that uses infra-gen.

environments/ (base, dev and prod, each pointing editors at the JSON Schema),
docs/environment.schema.json, a .gitignore that keeps the local secrets out of git,
a GitHub workflow (the one ci.py renders, for every environment), a pre-commit
configuration using this project's hooks, and a README. Existing files are never
replaced unless asked (--force); nothing is written when the scaffold would not load.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from . import __version__
from .artifacts.ci import INFRA_GEN_TAG, workflow
from .errors import UserError
from .model.environment import INFRA_GEN_REPOSITORY
from .model.schema import schema_text
from .project import Project
from .render import to_yaml, write_file

MODELINE = "# yaml-language-server: $schema=../docs/environment.schema.json\n"
SCHEMA = "docs/environment.schema.json"
WORKFLOW = ".github/workflows/infra-gen.yml"


def project_name(directory: Path) -> str:
    """A valid project name from a directory name (my-app -> my_app)."""
    name = re.sub(r"[^a-z0-9_]+", "_", directory.resolve().name.lower()).strip("_")
    name = re.sub(r"^[^a-z]+", "", name)[:41]
    return name or "app"


def _environment(comment: str, data: dict[str, Any]) -> str:
    lines = "".join(f"# {line}".rstrip() + "\n" for line in comment.strip().splitlines())
    return MODELINE + lines + to_yaml(data)


def _environments(project: str) -> dict[str, str]:
    host = project.replace("_", "-")
    base = {
        "project": project,
        "domain": f"{host}.example.com",
        "tls": {"mode": "self-signed"},
        "services": {
            # The bundled reference API: the model needs one api service.
            "api": {"replicas": 1, "resources": {"limits": {"cpus": 0.5, "memory": "512M"}}},
        },
        "alerting": {
            "smtp": {
                "from": f"alertmanager@{host}.example.com", "smarthost": "smtp.example.com:587",
                "auth_username": f"alertmanager@{host}.example.com",
                "auth_password_secret": "smtp_password",
            },
            "route": {"receiver": "team"},
            "receivers": [{"name": "team", "email": {"to": f"team@{host}.example.com"}}],
        },
        "firewall": {"public_ports": [80, 443], "private_cidr": "10.0.0.0/8"},
        "ci": {"infra_gen_repository": INFRA_GEN_REPOSITORY},
    }
    dev = {
        "extends": "base", "name": "dev", "domain": f"{host}.localhost",
        "load_balancer": {"http_port": 8080, "https_port": 8443, "bind_address": "127.0.0.1"},
        "firewall": {"public_ports": [8080, 8443]},
    }
    prod = {
        "extends": "base", "name": "prod",
        "tls": {"mode": "certbot", "email": f"ops@{host}.example.com"},
        "services": {"api": {"replicas": 2}},
    }
    return {
        "environments/base.yaml": _environment("""
Shared defaults of every environment (files named base* or _* are never rendered
themselves; the others pull this one in with `extends: base`). Merge rule:
mappings merge key by key, anything else (lists too) is replaced.
A service of your own is one more entry under services, with its image:
  billing: {image: acme/billing:1.4.2, port: 9100, route: /billing/,
            healthcheck: {path: /healthz}, user: "20001:20001"}
What the model does not cover: `overrides` (docs/contract.md of infra-gen).
""", base),
        "environments/dev.yaml": _environment(
            "One machine: `infra-gen up dev`, published on loopback only.", dev),
        "environments/prod.yaml": _environment("Production.", prod),
    }


def _readme(project: str) -> str:
    return f"""# {project}: deployment

The deployment artifacts of this project (compose, nginx, Prometheus, Alertmanager,
Grafana, backups, firewall, runbooks) are rendered by
[infra-gen]({INFRA_GEN_REPOSITORY}) {INFRA_GEN_TAG} from one typed model per
environment in `environments/`. Edit those files, never `generated/`.

```sh
pip install 'infra-gen[validate] @ git+{INFRA_GEN_REPOSITORY}@{INFRA_GEN_TAG}'
infra-gen render --all        # environments/*.yaml -> generated/<env>/
infra-gen check               # generated/ is what environments/ renders to (CI runs it first)
infra-gen validate --all      # every artifact checked by the real tool that reads it
```

- A file under `templates/` (same relative path as infra-gen's bundled template)
  replaces that one template; `overrides` in an environment patches the files
  built from data (compose, stack, Prometheus, Alertmanager, Grafana).
- Secrets are files under `.secrets/<env>/`, never committed (`.gitignore`).
- `{WORKFLOW}` runs check and validate in CI; `.pre-commit-config.yaml` runs
  `infra-gen check` before each commit.
- After upgrading infra-gen: `infra-gen schema --out {SCHEMA}`, `infra-gen render
  --all`, and the new tag in `{WORKFLOW}` and `.pre-commit-config.yaml`.
"""


def files(directory: Path) -> dict[str, str]:
    """Every file of a new project in directory, by relative path."""
    project = project_name(directory)
    pre_commit = {"repos": [{
        "repo": INFRA_GEN_REPOSITORY, "rev": INFRA_GEN_TAG,
        "hooks": [{"id": "infra-gen-check"},
                  # Needs the real tools: `pre-commit run --hook-stage manual infra-gen-validate`.
                  {"id": "infra-gen-validate", "stages": ["manual"]}],
    }]}
    return {
        **_environments(project),
        SCHEMA: schema_text(False),
        ".gitignore": ("# Local secrets (infra-gen up writes them): never committed.\n/.secrets/\n.env\n"
                       "# validate's result cache\n/.infra-gen-cache/\n"),
        WORKFLOW: "# infra-gen: generated/ must be what environments/ renders to, and pass\n"
                  "# `infra-gen validate --strict` with the real tools.\n"
                  + to_yaml(workflow("infra-gen", ["--all"], INFRA_GEN_REPOSITORY)),
        ".pre-commit-config.yaml": f"# infra-gen {__version__}'s hooks.\n" + to_yaml(pre_commit),
        "README.md": _readme(project),
    }


def init(directory: Path, force: bool) -> list[str]:
    """Write the new project's files into directory; the relative paths written."""
    scaffold = files(directory)
    if not force:
        existing = [rel for rel in scaffold if (directory / rel).exists()]
        if existing:
            more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
            raise UserError(f"{directory / existing[0]} exists{more}: "
                            "init never replaces a file (--force does)")
    _check_loads(scaffold)
    for rel, text in scaffold.items():
        path = directory / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create {path.parent}: {exc.strerror or exc}") from None
        write_file(path, text)
    return list(scaffold)


def _check_loads(scaffold: dict[str, str]) -> None:
    """Every scaffolded environment loads (a bug here would leave a broken project)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel, text in scaffold.items():
            if rel.startswith("environments/"):
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_text(text, encoding="utf-8")
        project = Project(root)
        for name in project.environment_names:
            project.load(name)
