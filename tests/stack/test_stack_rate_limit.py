"""A burst above the load balancer's rate limit gets 429, and the site still answers
afterwards. Runs last (marker): it empties the limiter's bucket."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.disruptive(2)


def test_burst_gets_429_then_site_answers(site, topo):
    rl = topo.env.load_balancer.rate_limit
    # Far more than rate x 1 s + burst, faster than the rate allows.
    total = 3 * (rl.burst + rl.requests_per_second)
    workers = min(16, max(2, (rl.connections_per_ip or 50) // 4))

    def one(_: int) -> int:
        return site.get("/health/", timeout=20, throttle=False).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        codes = Counter(pool.map(one, range(total)))
    took = time.monotonic() - started
    assert codes[429] > 0, f"no 429 in {total} requests over {took:.1f} s: {dict(codes)}"
    assert set(codes) <= {200, 429}, dict(codes)
    # The bucket refills at the rate: burst / rate seconds (plus margin).
    time.sleep(rl.burst / rl.requests_per_second + 1.5)
    assert site.get("/health/").status_code == 200
    assert site.get("/").status_code == 200
