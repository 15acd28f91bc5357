"""mtail: the log exporter's program compiles, and counts what nginx writes.

`mtail --compile_only` on mtail/, then `mtail --one_shot` on access lines made from
nginx.conf's own lb_metrics log_format (its variables filled in, the syslog header
nginx adds in front): each must be counted, with the route nginx.conf sets and the
source (lb when no upstream answered), and none left unparsed. So a log_format and a
program that drift apart fail here, not on a dashboard.
"""

from __future__ import annotations

import functools
import re
import tempfile
from pathlib import Path

from ..contract import LB_ACCESS_TAG, LB_REQUESTS, LB_UNPARSED, MTAIL_PROGRAMS, NGINX_CONF
from .base import Check, Context, Finding, NotApplicable, run

# What nginx writes in front of a line: `nohostname` leaves out the host.
SYSLOG_HEADER = f"<190>Dec  2 10:14:38 {LB_ACCESS_TAG}: "
_FORMAT = re.compile(r"^\s*log_format lb_metrics '(?P<format>[^']*)';", re.M)
_ROUTE = re.compile(r"^\s*set \$lb_route (\S+);", re.M)
# (status, $upstream_status, expected source): nginx's own 429, a member's 200, and
# a 502 after a retry (the upstream field then holds two statuses).
SAMPLES = (("429", "-", "lb"), ("200", "200", "upstream"), ("502", "502, 502", "upstream"))


def _programs(ctx: Context) -> str:
    programs = ctx.glob(f"{MTAIL_PROGRAMS}/*.mtail")
    if not programs:
        raise NotApplicable("no mtail program rendered (no log exporter in this environment)")
    return str(ctx.path(MTAIL_PROGRAMS))


def compile_only(ctx: Context) -> list[Finding]:
    progs = _programs(ctx)
    out = run(["mtail", "--compile_only", "--logtostderr", "--progs", progs])
    if out.returncode == 0:
        return []
    errors = [ln.split("] ", 1)[-1] for ln in out.output.splitlines() if ln.startswith("E")]
    rest = [ln for ln in out.output.splitlines() if ".mtail:" in ln and not ln.startswith("E")]
    return [Finding(f"mtail --compile_only: {ln}", MTAIL_PROGRAMS) for ln in errors + rest] or [
        Finding(f"mtail --compile_only: {out.output}", MTAIL_PROGRAMS)]


def _fill(values: dict[str, str], match: re.Match[str]) -> str:
    return values.get(match.group(1), "-")


def _lines(fmt: str, route: str) -> list[str]:
    out = []
    for status, upstream, _ in SAMPLES:
        values = {"status": status, "lb_route": route, "request_time": "0.012",
                  "upstream_status": upstream}
        line = re.sub(r"\$(\w+)", functools.partial(_fill, values), fmt)
        out.append(SYSLOG_HEADER + line.replace("\\n", "\n"))
    return out


def counts_access_lines(ctx: Context) -> list[Finding]:
    progs = _programs(ctx)
    conf = ctx.text(NGINX_CONF)
    fmt, routes = _FORMAT.search(conf), _ROUTE.findall(conf)
    if fmt is None or not routes:
        return [Finding("nginx.conf has no lb_metrics log_format or no `set $lb_route`: the log "
                        "exporter would count nothing", NGINX_CONF)]
    with tempfile.TemporaryDirectory(prefix="mtail-") as tmp:
        log = Path(tmp) / "access.log"
        log.write_text("".join(_lines(fmt.group("format"), routes[-1])))
        out = run(["mtail", "--one_shot", "--one_shot_format=prometheus", "--logtostderr",
                   "--emit_prog_label=false", "--address=127.0.0.1", "--port=0",
                   "--progs", progs, "--logs", str(log)])
    if out.returncode != 0:
        return [Finding(f"mtail --one_shot: {out.output[-2000:]}", MTAIL_PROGRAMS)]
    findings = []
    for status, _, source in SAMPLES:
        want = re.compile(rf'^{LB_REQUESTS}{{[^}}]*route="{re.escape(routes[-1])}"[^}}]*'
                          rf'source="{source}",status="{status}"}} 1$', re.M)
        if not want.search(out.stdout):
            findings.append(Finding(
                f"mtail did not count nginx's access line as {LB_REQUESTS}{{route="
                f'"{routes[-1]}",status="{status}",source="{source}"}}', MTAIL_PROGRAMS))
    if re.search(rf"^{LB_UNPARSED} [1-9]", out.stdout, re.M):
        findings.append(Finding("mtail left access lines in nginx.conf's lb_metrics format "
                                "unparsed", MTAIL_PROGRAMS))
    return findings


CHECKS = (
    Check("mtail --compile_only", "mtail", compile_only, ("mtail",),
          inputs=(f"{MTAIL_PROGRAMS}/**",), topology=False),
    Check("mtail counts nginx's access lines", "mtail", counts_access_lines, ("mtail",),
          inputs=(f"{MTAIL_PROGRAMS}/**", NGINX_CONF), topology=False),
)
