"""Small real-tool adapters: amtool, logrotate, shellcheck, the GitHub workflow schema."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

from ..contract import ALERTMANAGER_CONFIG as ALERTMANAGER
from ..contract import CI_WORKFLOW as WORKFLOW
from .base import Check, Context, Finding, Skip, run
from .compose import jsonschema_findings


def amtool(ctx: Context) -> list[Finding]:
    conf = ctx.need(ALERTMANAGER)[0]
    out = run(["amtool", "check-config", str(conf)])
    if out.returncode == 0:
        return []
    text = out.output.replace(str(conf), ALERTMANAGER)
    lines = [ln.strip().split("FAILED:", 1)[-1].strip() for ln in text.splitlines()
             if "FAILED" in ln or ln.strip().startswith("- ")] or [text]
    found = []
    for ln in lines:
        m = re.search(r"line (\d+)", ln)
        found.append(Finding(f"amtool check-config: {ln}", ALERTMANAGER,
                             int(m.group(1)) if m else None))
    return found


def _logrotate_file(ctx: Context) -> str:
    files = ctx.glob("logrotate/*")
    if not files:
        raise Skip("logrotate/ not rendered (its artifact is missing)")
    return files[0]


def logrotate(ctx: Context) -> list[Finding]:
    """`logrotate -d` on a root-owned 0644 copy (logrotate ignores group-writable files)."""
    rel = _logrotate_file(ctx)
    with tempfile.TemporaryDirectory(prefix="logrotate-") as tmp:
        conf = Path(tmp) / Path(rel).name
        shutil.copy(ctx.path(rel), conf)
        conf.chmod(0o644)
        out = run(["logrotate", "-d", "-s", str(Path(tmp) / "status"), str(conf)])
        text = out.output.replace(str(conf), rel)
    errors = [ln.strip() for ln in text.splitlines()
              if ln.startswith("error:") or "unknown option" in ln or "bad " in ln.lower()]
    if out.returncode == 0 and not errors:
        return []
    found = []
    for ln in errors or [text]:
        m = re.search(re.escape(rel) + r":(\d+)", ln)
        found.append(Finding(f"logrotate -d: {ln}", rel, int(m.group(1)) if m else None))
    return found


def shellcheck(ctx: Context) -> list[Finding]:
    """Every generated shell script, no finding of any severity (style included)."""
    scripts = ctx.scripts
    if not scripts:
        raise Skip("no shell script rendered yet (firewall/ufw.sh, backup/*.sh)")
    out = run(["shellcheck", "-f", "json1", "-x", *scripts], cwd=ctx.root)
    if out.returncode == 0:
        return []
    try:
        comments = json.loads(out.stdout)["comments"]
    except (json.JSONDecodeError, KeyError):
        return [Finding(f"shellcheck: {out.output}")]
    return [Finding(f"shellcheck SC{c['code']} ({c['level']}): {c['message']}", c["file"],
                    c["line"]) for c in comments]


def workflow_schema(ctx: Context) -> list[Finding]:
    ctx.need(WORKFLOW)
    return jsonschema_findings(ctx, WORKFLOW, "vendor.github-workflows")


CHECKS = (
    Check("amtool check-config", "alertmanager", amtool, ("amtool",), inputs=("alertmanager/**",),
          topology=False),
    Check("logrotate -d", "logrotate", logrotate, ("logrotate",), inputs=("logrotate/**",),
          topology=False),
    # Scripts are found by shebang anywhere in the tree.
    Check("shellcheck", "scripts", shellcheck, ("shellcheck",), topology=False),
    Check("github-workflows schema", "ci", workflow_schema, ("check-jsonschema",),
          inputs=(WORKFLOW,), topology=False),
)
