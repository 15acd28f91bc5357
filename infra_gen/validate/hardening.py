"""Per-service checks on compose.yaml: pinned images and container hardening."""

from __future__ import annotations

from typing import Any

from . import parse
from .base import Check, Context, Finding
from .parse import COMPOSE, STACK, finding


def image_tag(ref: str) -> str | None:
    """The tag of an image reference (None when it has none; digests count as pinned)."""
    if "@sha256:" in ref:
        return ref.split("@", 1)[1]
    last = ref.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else None


def images_pinned(ctx: Context) -> list[Finding]:
    """Every image names a tag, and the tag is not latest (compose and stack files)."""
    ctx.need(COMPOSE)
    out = []
    for rel in (COMPOSE, STACK):
        if not ctx.exists(rel):
            continue
        for name, svc in parse.services(ctx, rel).items():
            ref = str(svc.get("image", ""))
            tag = image_tag(ref)
            if not ref:
                out.append(finding(ctx, f"services.{name}.image is missing", rel,
                                   parse.service_line(ctx, name, rel=rel)))
            elif tag in (None, "", "latest"):
                out.append(finding(ctx, f"services.{name}.image {ref!r} is not pinned: name a "
                                        "release tag (images.tag / images.<name> in the model)",
                                   rel, parse.service_line(ctx, name, "image", rel)))
    return out


def _root_reason(ctx: Context, name: str, svc: dict[str, Any]) -> str:
    """Why the model lets this service run as root ('' when it does not)."""
    try:
        reason = ctx.topo.container(name).root_reason or ""
    except KeyError:
        reason = ""
    labels = svc.get("labels") or {}
    if not reason and isinstance(labels, dict):
        reason = str(labels.get("infra-gen.root-reason", ""))
    return reason


def _is_root(user: str) -> bool:
    head = user.split(":", 1)[0]
    return head in ("", "0", "root")


def _service_problems(ctx: Context, name: str, svc: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, what to change) for one service."""
    problems: list[tuple[str, str]] = []
    hc = svc.get("healthcheck")
    if not hc or hc.get("disable") or not hc.get("test"):
        problems.append(("healthcheck", "needs a healthcheck test"))
    limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    for key in ("memory", "cpus", "pids"):
        if not limits.get(key) and not (key == "pids" and svc.get("pids_limit")):
            problems.append((f"deploy.resources.limits.{key}", f"needs a {key} limit "
                             "(resources.limits in the model)"))
    opts = [str(o).replace("=", ":") for o in svc.get("security_opt") or []]
    if not any(o in ("no-new-privileges:true", "no-new-privileges") for o in opts):
        problems.append(("security_opt", "needs no-new-privileges:true"))
    if [str(c).upper() for c in svc.get("cap_drop") or []] != ["ALL"]:
        problems.append(("cap_drop", "must be [ALL]"))
    try:
        allowed = set(ctx.topo.container(name).cap_add)
    except KeyError:
        allowed = set()
    extra = {str(c).upper().removeprefix("CAP_") for c in svc.get("cap_add") or []} - allowed
    if extra:
        problems.append(("cap_add", f"adds {sorted(extra)}, which the model does not list "
                                    f"(allowed: {sorted(allowed) or 'none'})"))
    if svc.get("privileged"):
        problems.append(("privileged", "must not be privileged"))
    for vol in svc.get("volumes") or []:
        source = vol.get("source", "") if isinstance(vol, dict) else str(vol).split(":", 1)[0]
        if str(source).rstrip("/").endswith("docker.sock"):
            problems.append(("volumes", f"mounts {source}: the Docker socket is root on the host"))
    user = str(svc.get("user", ""))
    if _is_root(user) and not _root_reason(ctx, name, svc):
        problems.append(("user", f"runs as {user or 'the image default (root)'}: set a non-root "
                                 "uid, or record in the model why it needs root"))
    return problems


def hardened(ctx: Context) -> list[Finding]:
    """Healthcheck, memory/CPU/PIDs limits, no-new-privileges, cap_drop ALL (+ only the model's
    cap_add), not privileged, no docker.sock, non-root unless the model says why."""
    ctx.need(COMPOSE)
    out = []
    for name, svc in parse.services(ctx).items():
        for field, what in _service_problems(ctx, name, svc):
            line = parse.service_line(ctx, name, field.split(".")[0])
            out.append(finding(ctx, f"services.{name}.{field}: {what}", COMPOSE, line))
    return out


CHECKS = (
    Check("images pinned", "compose", images_pinned),
    Check("services hardened", "compose", hardened),
)
