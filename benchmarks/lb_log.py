"""The load balancer's log exporter: how many access lines it counts, by poll interval.

    python benchmarks/lb_log.py [--lines 1000] [--rate 1000] [--runs 3] [--idle 10]

mtail (3.0.0~rc50) reads one datagram from its socket each time it polls. This runs
the exporters image's lb-log-exporter (the generated dev program, the socket queue
the topology sets) once at mtail's default --poll_interval (250ms, the baseline) and
once at the one the topology renders, interleaved, --runs times each. Each run sends
--lines access lines shaped as nginx sends them (a non-blocking unix datagram socket,
a failed send is a lost line, as in nginx) at --rate lines a second, then reads the
exporter's counter, and measures the exporter's CPU while idle for --idle s.

Prints, per interval: lines lost at the socket, lines counted, seconds until counted,
idle CPU (% of a core), and each figure as a ratio to the baseline. Needs Docker and
the exporters image (`make images`); no stack.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from infra_gen.contract import LB_ACCESS_TAG, LB_REQUESTS  # noqa: E402
from infra_gen.topology.observability import LB_LOG_POLL, LB_LOG_QUEUE  # noqa: E402

BASELINE = "250ms"
IMAGE = "infra-gen/exporters:0.1.0"
LINE = (f"<190>Dec  2 13:57:44 {LB_ACCESS_TAG}: status=200 route=health "
        "request_time=0.001 upstream=200\n").encode()
TICKS = os.sysconf("SC_CLK_TCK")


def _start(poll: str, sock_dir: Path) -> tuple[str, str]:
    """The exporter's container id and its metrics URL."""
    program = ROOT / "generated" / "dev" / "mtail" / "lb_access.mtail"
    cid = subprocess.run(
        ["docker", "run", "-d", "--rm", "-p", "127.0.0.1::3903",
         "--sysctl", f"net.unix.max_dgram_qlen={LB_LOG_QUEUE}",
         "-v", f"{program}:/etc/mtail/lb_access.mtail:ro", "-v", f"{sock_dir}:/run/lb-log",
         "-e", f"MTAIL_POLL_INTERVAL={poll}", IMAGE, "lb-log-exporter"],
        check=True, capture_output=True, text=True).stdout.strip()
    port = subprocess.run(["docker", "port", cid, "3903/tcp"], check=True,
                          capture_output=True, text=True).stdout.split(":")[-1].strip()
    url = f"http://127.0.0.1:{port}/metrics"
    deadline = time.monotonic() + 30
    while not (sock_dir / "access.sock").exists() or _counted(url) is None:
        if time.monotonic() > deadline:
            raise SystemExit(f"the exporter ({poll}) did not start")
        time.sleep(0.2)
    return cid, url


def _counted(url: str) -> float | None:
    try:
        text = urllib.request.urlopen(url, timeout=5).read().decode()
    except OSError:
        return None
    return sum(float(v) for v in re.findall(rf"^{LB_REQUESTS}{{[^}}]*}} (\S+)$", text, re.M))


def _cpu_seconds(cid: str) -> float:
    pid = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", cid], check=True,
                         capture_output=True, text=True).stdout.strip()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def run_once(poll: str, lines: int, rate: float, idle: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="lb-log-") as tmp:
        sock_dir = Path(tmp)
        sock_dir.chmod(0o777)
        cid, url = _start(poll, sock_dir)
        try:
            cpu0 = _cpu_seconds(cid)
            time.sleep(idle)
            idle_cpu = (_cpu_seconds(cid) - cpu0) / idle * 100
            sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sender.connect(str(sock_dir / "access.sock"))
            sender.setblocking(False)
            lost, start = 0, time.monotonic()
            for i in range(lines):
                try:
                    sender.send(LINE)
                except BlockingIOError:
                    lost += 1
                pause = start + (i + 1) / rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            sender.close()
            counted, deadline = 0.0, time.monotonic() + 60
            while counted < lines - lost and time.monotonic() < deadline:
                time.sleep(0.1)
                counted = _counted(url) or 0.0
            return {"lost": lost, "counted": counted,
                    "seconds": time.monotonic() - start, "idle_cpu": idle_cpu}
        finally:
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=10.0)
    args = parser.parse_args()
    polls = [BASELINE, LB_LOG_POLL]
    results: dict[str, list[dict[str, float]]] = {p: [] for p in polls}
    for run in range(args.runs):
        for poll in polls if run % 2 == 0 else reversed(polls):
            results[poll].append(run_once(poll, args.lines, args.rate, args.idle))
    med = {p: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for p, rs in results.items()}
    print(f"{args.lines} lines at {args.rate:.0f}/s, median of {args.runs} runs each, "
          f"interleaved; ratio = value / value at mtail's default {BASELINE}")
    print(f"{'poll':>8} {'lost':>6} {'counted':>8} {'ratio':>6} {'seconds':>8} {'ratio':>6} "
          f"{'idle CPU %':>10} {'ratio':>6}")
    base = med[BASELINE]
    for poll in polls:
        m = med[poll]
        print(f"{poll:>8} {m['lost']:>6.0f} {m['counted']:>8.0f} "
              f"{m['counted'] / max(base['counted'], 1):>6.1f} {m['seconds']:>8.1f} "
              f"{m['seconds'] / base['seconds']:>6.2f} {m['idle_cpu']:>10.2f} "
              f"{m['idle_cpu'] / max(base['idle_cpu'], 0.01):>6.1f}")


if __name__ == "__main__":
    main()
