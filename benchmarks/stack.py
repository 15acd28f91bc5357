"""Measured figures of the running stack (not a test).

    python benchmarks/stack.py [--env dev] [--cold] [--duration 10] [--connections 16]

Prints:
  * image build time, cold (NO_CACHE=1, only with --cold: minutes) and with the cache;
  * `infra-gen up` time from built images to every container healthy (after a down);
  * `/health/` through the load balancer against the same requests sent straight
    to one API replica: requests/s, p50/p99 latency, and the ratio.

How the load is generated: wrk (Debian's) in a throw-away container,
infra-gen/bench:<tag> (built once from debian:bookworm-slim), attached to the
stack's frontend network, so both paths are measured from the same place; no
traffic goes from the host to a container address. The load is bounded: a fixed
duration and connection count.

What the load balancer path is: the deployed lb limits every client address to
load_balancer.rate_limit (20 r/s in dev), so a benchmark through it measures the
limiter (429s), not the proxy. A second nginx from the same image and the same
generated nginx.conf, minus the limit_req/limit_conn lines and with the api
upstream narrowed to the one replica measured directly, runs next to it for the
duration of the measurement: TLS termination, proxying and upstream keepalive
are exactly the deployed ones.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra_gen import stack as stk  # noqa: E402
from infra_gen.stack.docker import docker_binary, image_exists  # noqa: E402
from infra_gen.topology import FRONTEND_NET, PORTS  # noqa: E402

BENCH_DOCKERFILE = """FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends wrk ca-certificates \\
    && rm -rf /var/lib/apt/lists/*
USER 65534:65534
ENTRYPOINT ["wrk"]
"""


def sh(*cmd: str, check: bool = True, capture: bool = True, **kw: object) -> str:
    result = subprocess.run(list(cmd), text=True, capture_output=capture, check=False, **kw)  # type: ignore[call-overload]
    if check and result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... failed: {result.stderr}")
    return result.stdout or ""


def timed(fn, *args, **kw):  # type: ignore[no-untyped-def]
    start = time.monotonic()
    value = fn(*args, **kw)
    return time.monotonic() - start, value


def build_time(cold: bool) -> float:
    env = {"NO_CACHE": "1"} if cold else {}
    seconds, _ = timed(subprocess.run, ["bash", str(ROOT / "scripts/build-images.sh")],
                       env={**os.environ, **env}, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return seconds


def up_time(st: stk.Stack, fresh: bool) -> dict[str, float]:
    stk.down(st, lambda m: None, volumes=fresh)
    return stk.up(st, lambda m: None, build=False)


def bench_image(tag: str) -> str:
    image = f"infra-gen/bench:{tag}"
    if not image_exists(image):
        sh(docker_binary(), "build", "-q", "-t", image, "-", input=BENCH_DOCKERFILE)
    return image


def bench_config(st: stk.Stack, member: str) -> str:
    """The generated nginx.conf without rate/connection limits, api upstream = member."""
    text = (st.env_dir / "nginx" / "nginx.conf").read_text()
    text = re.sub(r"^\s*limit_(req|conn)\s[^;]*;\s*$", "", text, flags=re.M)
    pool = next(p for p in st.topo.upstreams if p.health_path == "/health/")
    others = [m for m in pool.members if m != member]
    for other in others:
        text = re.sub(rf"^\s*server {re.escape(other)}:\d+[^;]*;\s*$", "", text, flags=re.M)
    return text


WRK_RE = {
    "rps": re.compile(r"Requests/sec:\s+([\d.]+)"),
    "p50": re.compile(r"^\s+50%\s+([\d.]+)(us|ms|s)", re.M),
    "p99": re.compile(r"^\s+99%\s+([\d.]+)(us|ms|s)", re.M),
    "non2xx": re.compile(r"Non-2xx or 3xx responses:\s+(\d+)"),
    "requests": re.compile(r"(\d+) requests in"),
}
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(image: str, network: str, url: str, host: str, duration: int, conns: int) -> dict[str, float]:
    out = sh(docker_binary(), "run", "--rm", "--network", network, "--cpus", "1",
             "--memory", "256m", image, "-t", "2", "-c", str(conns), "-d", f"{duration}s",
             "--timeout", "5s", "--latency", "-H", f"Host: {host}", url)
    figures: dict[str, float] = {}
    for key, rx in WRK_RE.items():
        m = rx.search(out)
        if m is None:
            figures[key] = 0.0
        elif key in ("p50", "p99"):
            figures[key] = float(m.group(1)) * UNIT_MS[m.group(2)]
        else:
            figures[key] = float(m.group(1))
    return figures


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run of median throughput (its latencies with it), requests summed."""
    ordered = sorted(runs, key=lambda f: f["rps"])
    mid = dict(ordered[len(ordered) // 2])
    mid["requests"] = sum(f["requests"] for f in runs)
    mid["non2xx"] = sum(f["non2xx"] for f in runs)
    mid["all_rps"] = [f["rps"] for f in runs]  # type: ignore[assignment]
    return mid


def load_balancer_vs_direct(st: stk.Stack, duration: int, conns: int,
                            rounds: int = 3) -> dict[str, dict[str, float]]:
    topo = st.topo
    api = topo.of_kind("api")[0]
    lb = topo.container("lb")
    network = f"{topo.compose_project}_{FRONTEND_NET}"
    image = bench_image(topo.env.images.tag)
    name = f"{topo.compose_project}-lb-bench"
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(bench_config(st, api.name))
        conf.chmod(0o644)
        Path(tmp).chmod(0o755)
        sh(docker_binary(), "rm", "-f", name, check=False)
        sh(docker_binary(), "run", "-d", "--name", name, "--network", network,
           "--user", lb.user, "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
           "--cpus", f"{lb.resources.limits.cpus:g}", "--memory", lb.resources.limits.memory,
           "--tmpfs", "/tmp", "--tmpfs", "/var/cache/nginx",
           "-v", f"{conf}:/etc/nginx/nginx.conf:ro",
           "-v", f"{st.secrets / 'tls'}:/etc/nginx/tls:ro", lb.image)
        try:
            time.sleep(1.5)
            https = topo.env.tls.mode.value != "none"
            lb_url = (f"https://{name}:{PORTS['lb_https']}/health/" if https
                      else f"http://{name}:{PORTS['lb_http']}/health/")
            direct_url = f"http://{api.name}:{api.port}/health/"
            host = topo.env.domain
            # Warm-up (connections, keepalive pools, gunicorn workers), then
            # alternate the two paths so that noise from the machine hits both alike.
            wrk(image, network, direct_url, host, 2, conns)
            wrk(image, network, lb_url, host, 2, conns)
            runs: dict[str, list[dict[str, float]]] = {"direct": [], "lb": []}
            for _ in range(rounds):
                runs["direct"].append(wrk(image, network, direct_url, host, duration, conns))
                runs["lb"].append(wrk(image, network, lb_url, host, duration, conns))
            direct, via_lb = _median(runs["direct"]), _median(runs["lb"])
        finally:
            sh(docker_binary(), "rm", "-f", name, check=False)
    return {"direct": direct, "lb": via_lb}


def main() -> None:
    try:
        measure()
    except stk.StackError as exc:  # one line, as the CLI prints it
        sys.exit(f"error: {exc}")


def measure() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="dev")
    parser.add_argument("--cold", action="store_true", help="also time a build without cache")
    parser.add_argument("--no-build", action="store_true", help="skip the build timings")
    parser.add_argument("--no-up", action="store_true", help="skip the down/up timing")
    parser.add_argument("--fresh", action="store_true",
                        help="down --volumes first: time a first start (initdb, base backup)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (<= 60)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (<= 64)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per path (<= 5)")
    args = parser.parse_args()
    duration = min(args.duration, 60)
    conns = min(args.connections, 64)
    st = stk.Stack.load(args.env, ROOT)
    print(f"infra-gen stack figures ({args.env}, {time.strftime('%Y-%m-%d %H:%M')})")
    if not args.no_build:
        if args.cold:
            print(f"  image build, cold (NO_CACHE=1):   {build_time(True):7.1f} s")
        print(f"  image build, with the cache:      {build_time(False):7.1f} s")
    if not args.no_up:
        t = up_time(st, args.fresh)
        kind = "empty volumes" if args.fresh else "volumes kept"
        print(f"  up from built images to healthy ({kind}): {t['healthy']:7.1f} s "
              f"(+ migrations/token: {t['up']:.1f} s in all)")
    elif not st.running():
        raise SystemExit(f"the {args.env} stack is not running")
    rounds = max(1, min(args.rounds, 5))
    r = load_balancer_vs_direct(st, duration, conns, rounds)
    d, lb = r["direct"], r["lb"]
    print(f"  /health/, wrk -c{conns} -d{duration}s x {rounds} alternating rounds (median) "
          f"from a container on {FRONTEND_NET}:")
    for label, f in (("direct to one API replica", d), ("through the load balancer", lb)):
        print(f"    {label:<27} {f['rps']:8.1f} req/s  p50 {f['p50']:7.2f} ms  "
              f"p99 {f['p99']:7.2f} ms  ({int(f['requests'])} requests, "
              f"{int(f['non2xx'])} non-2xx; runs "
              f"{'/'.join(f'{x:.0f}' for x in f['all_rps'])})")  # type: ignore[attr-defined]
    ratio = lb["rps"] / d["rps"] if d["rps"] else 0.0
    print(f"    load balancer / direct throughput: {ratio:.3f} "
          f"(cost {100 * (1 - ratio):.1f}%; goal < 15%)")


if __name__ == "__main__":
    main()
