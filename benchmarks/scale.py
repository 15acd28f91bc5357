"""How fast a scaled API replica takes traffic, by load-balancer mechanism (not a test).

    python benchmarks/scale.py [--env dev] [--mechanism reload|resolve|both]

Needs the stack running (`make up`) and leaves it at the planned replica count.
Under paced load (GET /api/customers through the load balancer, under its rate
limit), the API is scaled from its planned count to one more and back:

  reload   the generated nginx.conf (an upstream block; nginx resolves the service
           name when it starts or reloads): `infra-gen scale` scales, waits for the
           new replica to be healthy, then reloads nginx. Passive health checks
           (max_fails/fail_timeout) and upstream keepalive stay.
  resolve  nginx.conf rewritten for the measurement only: `resolver 127.0.0.11
           valid=5s` and `proxy_pass http://$variable:PORT`, so nginx re-resolves the
           name by itself and no reload is needed; an upstream given by a variable
           has no max_fails/fail_timeout and no keepalive (nginx 1.22 has no
           `resolve` parameter on upstream servers: open source got it in 1.27.3).

Prints, per mechanism: seconds from the scale command to the first request the new
replica served, and failed requests during the scale up and during the scale down.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "stack")]

from stack_support import PacedLoad, Site  # noqa: E402

from infra_gen.model import TlsMode  # noqa: E402
from infra_gen.stack import Stack  # noqa: E402
from infra_gen.stack.scale import reload_load_balancer, scale  # noqa: E402

RESOLVER_VALID = "5s"


def _resolving(conf: str, pool: str, service: str, port: int) -> str:
    """nginx.conf with the pool's locations proxied to a variable (runtime resolution)."""
    conf = conf.replace("http {\n", f"http {{\n    resolver 127.0.0.11 valid={RESOLVER_VALID} "
                        "ipv6=off;\n", 1)
    var = f"$bench_{pool}"
    return re.sub(rf"proxy_pass http://{pool}(/[^;]*)?;",
                  lambda m: f"set {var} {service};\n            proxy_pass http://{var}:{port}"
                  f"{m.group(1) or ''};", conf)


def measure(stack: Stack, mechanism: str) -> dict[str, float]:
    topo = stack.topo
    (pool,) = [p for p in topo.upstreams if p.health_path == "/health/" and p.replicas][:1]
    conf_path = stack.env_dir / "nginx" / "nginx.conf"
    original = conf_path.read_text()
    cert = stack.secrets / "tls" / "fullchain.pem" if topo.env.tls.mode is TlsMode.self_signed \
        else None
    if mechanism == "resolve":
        # Same inode: the lb bind-mounts the file.
        conf_path.write_text(_resolving(original, pool.name, pool.service, pool.port))
        reload_load_balancer(stack)
    load = PacedLoad(Site(topo, cert), pool.route.rstrip("/") + "/customers?per_page=1")
    thread = threading.Thread(target=load.run, daemon=True)
    ids = lambda: set(stack.compose("ps", "-q", pool.service, capture=True).stdout.split())  # noqa: E731
    try:
        thread.start()
        time.sleep(5)
        before, t0 = ids(), time.monotonic()
        scale(stack, {pool.service: pool.replicas + 1}, lambda _m: None,
              reload=mechanism == "reload")
        (new,) = ids() - before
        while load.first_from(new[:12]) is None and time.monotonic() - t0 < 60:
            time.sleep(0.1)
        first = load.first_from(new[:12])
        time.sleep(5)
        failed_up = len(load.failed())
        t1 = time.monotonic()
        scale(stack, {pool.service: pool.replicas}, lambda _m: None,
              reload=mechanism == "reload")
        down_took = time.monotonic() - t1
        time.sleep(10)
    finally:
        load.stop.set()
        thread.join(timeout=30)
        if mechanism == "resolve":
            conf_path.write_text(original)
            reload_load_balancer(stack)
    slow = [b - a for (a, *_), (b, *_) in zip(load.results, load.results[1:], strict=False)]
    return {
        "new replica serves after (s)": (first - t0) if first else float("nan"),
        "failed requests, scale up": failed_up,
        "failed requests, scale down": len(load.failed()) - failed_up,
        "scale down command (s)": down_took,
        "requests": len(load.results),
        "longest gap between responses (s)": max(slow, default=0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--env", default="dev")
    parser.add_argument("--mechanism", choices=("reload", "resolve", "both"), default="both")
    args = parser.parse_args()
    stack = Stack.load(args.env, ROOT)
    for mechanism in ("reload", "resolve") if args.mechanism == "both" else (args.mechanism,):
        print(f"{mechanism}:")
        for name, value in measure(stack, mechanism).items():
            print(f"  {name:<36} {value:.1f}" if isinstance(value, float) else
                  f"  {name:<36} {value}")


if __name__ == "__main__":
    main()
