"""alertmanager artifact: alertmanager.yml from env.alerting.

The SMTP password is never written into the file: each email receiver points
`auth_password_file` at the secret mounted at /run/secrets/<auth_password_secret>
(the topology mounts exactly those secrets into the alertmanager container).
"""

from __future__ import annotations

from typing import Any

from ..contract import ALERTMANAGER_CONFIG
from ..model.operations import Receiver
from ..overrides import apply
from ..topology import SECRETS_MOUNT, Topology
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
        e = r.email
        out["email_configs"] = [{
            "to": e.to,
            "from": e.from_,
            "smarthost": e.smarthost,
            "auth_username": e.auth_username,
            "auth_password_file": f"{SECRETS_MOUNT}/{e.auth_password_secret}",
            "require_tls": e.require_tls,
            "send_resolved": True,
        }]
    return out


def password_files(topo: Topology) -> list[str]:
    """Secret files alertmanager.yml references (must exist where Alertmanager runs)."""
    return sorted({f"{SECRETS_MOUNT}/{r.email.auth_password_secret}"
                   for r in topo.env.alerting.receivers if r.email is not None})


def config(topo: Topology) -> dict[str, Any]:
    route = topo.env.alerting.route
    return {
        "global": {"resolve_timeout": "5m"},
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
