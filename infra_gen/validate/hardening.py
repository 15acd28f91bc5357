"""Per-service checks on compose.yaml: pinned images and container hardening."""

from __future__ import annotations

from pathlib import Path
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


def _bind_source(vol: object) -> str | None:
    """The host path of a bind mount (None for a named volume, tmpfs, ...)."""
    if isinstance(vol, dict):
        return str(vol.get("source", "")) if vol.get("type", "volume") == "bind" else None
    source = str(vol).split(":", 1)[0]
    return source if source.startswith(("/", ".", "~")) else None


def _mount_problems(ctx: Context, name: str, svc: dict[str, Any]) -> list[tuple[str, str]]:
    """No Docker socket; a host path outside the rendered directory only where the model
    plans it for this service (node-exporter reads /proc, /sys and / read-only)."""
    root = ctx.root.resolve()

    def host_path(source: str) -> Path:
        # compose resolves a relative source against the compose file's directory
        return (root / Path(source).expanduser()).resolve()

    try:
        planned = {host_path(m.source) for m in ctx.topo.container(name).mounts if not m.named}
    except KeyError:
        planned = set()
    out = []
    for vol in svc.get("volumes") or []:
        source = _bind_source(vol)
        if source is None:
            continue
        if source.rstrip("/").endswith("docker.sock"):
            out.append(("volumes", f"mounts {source}: the Docker socket is root on the host"))
            continue
        path = host_path(source)
        if path not in planned and not path.is_relative_to(root):
            out.append(("volumes", f"mounts the host path {source}, which the model does not "
                                   f"plan for {name}"))
    return out


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
    for key in ("network_mode", "pid", "ipc", "uts", "userns_mode"):
        if str(svc.get(key, "")) == "host":
            problems.append((key, "must not share the host's namespace (host)"))
    if svc.get("devices"):
        problems.append(("devices", "must map no host device"))
    problems += _mount_problems(ctx, name, svc)
    user = str(svc.get("user", ""))
    if _is_root(user) and not _root_reason(ctx, name, svc):
        problems.append(("user", f"runs as {user or 'the image default (root)'}: set a non-root "
                                 "uid, or record in the model why it needs root"))
    return problems


def hardened(ctx: Context) -> list[Finding]:
    """Healthcheck, memory/CPU/PIDs limits, no-new-privileges, cap_drop ALL (+ only the model's
    cap_add), not privileged, no host namespace or device, no docker.sock, no host path the
    model does not plan, non-root unless the model says why. Every service compose would run:
    the output of `docker compose config` (include:, extends: resolved) where Docker is here."""
    ctx.need(COMPOSE)
    out = []
    for name, svc in parse.services(ctx).items():
        for field, what in _service_problems(ctx, name, svc):
            line = parse.service_line(ctx, name, field.split(".")[0])
            out.append(finding(ctx, f"services.{name}.{field}: {what}", COMPOSE, line))
    return out


CHECKS = (
    Check("images pinned", "compose", images_pinned,
          inputs=parse.COMPOSE_INPUTS, versions=parse.COMPOSE_VERSIONS),
    Check("services hardened", "compose", hardened,
          inputs=parse.COMPOSE_INPUTS, versions=parse.COMPOSE_VERSIONS),
)
