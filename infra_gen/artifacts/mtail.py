"""mtail artifact: the load balancer's log exporter program (mtail/lb_access.mtail).

nginx's stub_status (the nginx exporter) counts requests and connections but not
their status codes, so 429s (rate limited) and 5xx cannot be told apart there. nginx
sends one short access line per request (the lb_metrics log_format, fields in
contract.LB_ACCESS_FIELDS' order) to the log exporter's unix datagram socket, and
this program turns each into a counter increment: contract.LB_REQUESTS by route
(the nginx location's group: the upstream's name, admin_<ui>, health, redirect or
other), status, class and source (lb when nginx answered itself, such as a 429).

Checked by the real tool in validate: `mtail --compile_only`, and `mtail --one_shot`
on access lines written as nginx writes them must count each (validate/mtail.py).
The template only formats: the line's pattern is fixed there and a unit test holds
it to the field order of the contract.
"""

from __future__ import annotations

from ..contract import LB_ACCESS_FIELDS, LB_ACCESS_TAG, LB_REQUESTS, LB_UNPARSED, MTAIL_PROGRAMS
from ..topology import Topology
from .base import ArtifactKind, Output

PROGRAM = f"{MTAIL_PROGRAMS}/lb_access.mtail"
"""Rendered path, relative to generated/<env>/ (the log exporter mounts it)."""


def outputs(topo: Topology) -> list[Output]:
    if not topo.of_kind("lb-log-exporter"):
        return []
    ctx = {"requests": LB_REQUESTS, "unparsed": LB_UNPARSED, "tag": LB_ACCESS_TAG,
           "fields": [key for key, _ in LB_ACCESS_FIELDS]}
    return [Output(PROGRAM, "mtail/lb_access.mtail.j2", ctx)]


ARTIFACT = ArtifactKind(
    "mtail",
    "mtail program of the load balancer's log exporter: responses by route and status",
    outputs,
)
