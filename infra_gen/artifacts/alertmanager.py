"""alertmanager artifact: alertmanager.yml from env.alerting.

The mail server is global (`smtp_*`): a real smarthost, or the SMTP sink the stack
runs (no TLS, no authentication). The SMTP password is never written into the
file: `smtp_auth_password_file` points at the secret mounted at
/run/secrets/<auth_password_secret> (the topology mounts exactly that secret into
the alertmanager container).
"""

from __future__ import annotations

from typing import Any

from ..contract import ALERTMANAGER_CONFIG
from ..model.operations import Receiver
from ..overrides import apply
from ..topology import PORTS, SECRETS_MOUNT, Topology
from .base import ArtifactKind, Output

CONFIG_PATH = ALERTMANAGER_CONFIG

# A critical alert silences the warning of the same name (e.g. a rule with a
# warning and a critical threshold only pages once).
INHIBIT_RULES: list[dict[str, Any]] = [
    {
        "source_matchers": ['severity="critical"'],
        "target_matchers": ['severity="warning"'],
        "equal": ["alertname"],
    }
]


def receiver(r: Receiver) -> dict[str, Any]:
    out: dict[str, Any] = {"name": r.name}
    if r.email is not None:
        out["email_configs"] = [{"to": r.email.to, "send_resolved": True}]
    return out


def smtp_globals(topo: Topology) -> dict[str, Any]:
    """The `smtp_*` settings every email receiver uses ({} without mail)."""
    smtp = topo.env.alerting.smtp
    if smtp is None:
        return {}
    if smtp.sink:
        sink = topo.of_kind("mail-sink")[0]
        return {"smtp_smarthost": f"{sink.name}:{PORTS['mail-sink']}",
                "smtp_from": smtp.from_, "smtp_require_tls": False}
    out: dict[str, Any] = {"smtp_smarthost": smtp.smarthost, "smtp_from": smtp.from_}
    if smtp.auth_password_secret is not None:
        out["smtp_auth_username"] = smtp.auth_username
        out["smtp_auth_password_file"] = f"{SECRETS_MOUNT}/{smtp.auth_password_secret}"
    out["smtp_require_tls"] = smtp.require_tls
    return out


def config(topo: Topology) -> dict[str, Any]:
    route = topo.env.alerting.route
    return {
        "global": {"resolve_timeout": "5m", **smtp_globals(topo)},
        "route": {
            "receiver": route.receiver,
            "group_by": list(route.group_by),
            "group_wait": route.group_wait,
            "group_interval": route.group_interval,
            "repeat_interval": route.repeat_interval,
        },
        "receivers": [receiver(r) for r in topo.env.alerting.receivers],
        "inhibit_rules": INHIBIT_RULES,
    }


def outputs(topo: Topology) -> list[Output]:
    prefix = topo.route_prefix("alertmanager")
    return [Output(CONFIG_PATH, "alertmanager/alertmanager.yml.j2",
                   {"config": apply(topo.env, ("alertmanager",), config(topo)),
                    "route_prefix": prefix or "/"})]


ARTIFACT = ArtifactKind(
    "alertmanager", "alertmanager.yml: route, email receivers, inhibit rules", outputs
)
