"""Latency of the churn model: single prediction and 1,000-row batch.

Measured in-process (validation + feature matrix + model, i.e. /predict minus HTTP)
and over HTTP against the ML service under a real gunicorn bound to 127.0.0.1.
Goals: single p50 < 5 ms, 1,000-row batch p50 < 50 ms. Figures are printed with
their ratio to the goal (< 1.00 meets it).

    .venv-app/bin/python benchmarks/ml.py [--single N] [--batch N]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

APP_DIR = Path(__file__).resolve().parents[1] / "services" / "app"
sys.path.insert(0, str(APP_DIR))

from churn.ml import dataset  # noqa: E402
from churn.ml.app import parse_predict_body  # noqa: E402
from churn.ml.dataset import CONTRACT_CODES  # noqa: E402
from churn.ml.features import to_matrix  # noqa: E402
from churn.ml.model import ChurnModel  # noqa: E402
from churn.ml.train import save, train  # noqa: E402

SINGLE_GOAL_MS = 5.0
BATCH_GOAL_MS = 50.0
BATCH_ROWS = 1000
_CONTRACT_NAMES = {code: name for name, code in CONTRACT_CODES.items()}


def customers(n: int, seed: int = 99) -> list[dict[str, object]]:
    rows = dataset.generate(n, seed=seed).features
    return [
        {
            "tenure_months": int(r[0]),
            "monthly_charges": float(r[1]),
            "total_charges": float(r[2]),
            "contract_type": _CONTRACT_NAMES[int(r[3])],
            "support_calls": int(r[4]),
        }
        for r in rows
    ]


def timings_ms(call: Callable[[], object], repeats: int, warmup: int = 5) -> np.ndarray:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000.0)
    return np.array(samples)


def report(label: str, samples: np.ndarray, goal_ms: float) -> None:
    p50, p99 = np.percentile(samples, [50, 99])
    print(
        f"{label:<34} p50 {p50:8.3f} ms ({p50 / goal_ms:5.2f}x goal)"
        f"   p99 {p99:8.3f} ms ({p99 / goal_ms:5.2f}x goal)   n={len(samples)}"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            if requests.get(url, timeout=5).ok:
                return
        except requests.RequestException:
            pass  # listening, but the worker is still importing the app
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout:.0f} s")


def bench_http(
    model_dir: Path, work: Path, single: list[dict], batch: list[dict], args: argparse.Namespace
) -> None:
    import requests

    secret = work / "secret_key"
    secret.write_text("benchmark-only")
    port = free_port()
    env = {
        **os.environ,
        "MODEL_DIR": str(model_dir),
        "SECRET_KEY_FILE": str(secret),
        "PROMETHEUS_MULTIPROC_DIR": str(work / "prometheus"),
        "GUNICORN_WORKERS": "1",
        "LOG_LEVEL": "warning",
        "PYTHONPATH": str(APP_DIR),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:churn.gunicorn_conf.ml",
        "--bind",
        f"127.0.0.1:{port}",
        "--access-logfile",
        "/dev/null",
    ]
    process = subprocess.Popen(command, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/health", process)
        session = requests.Session()

        def post(body: dict) -> Callable[[], object]:
            def call() -> object:
                response = session.post(f"{base}/predict", json=body, timeout=10)
                response.raise_for_status()
                return response

            return call

        report(
            "HTTP single (gunicorn, 1 worker)",
            timings_ms(post({"customer": single[0]}), args.single),
            SINGLE_GOAL_MS,
        )
        report(
            f"HTTP batch of {BATCH_ROWS}", timings_ms(post({"customers": batch}), args.batch), BATCH_GOAL_MS
        )
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=500, help="single-prediction requests")
    parser.add_argument("--batch", type=int, default=50, help="batch requests")
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()

    trained = train()
    model = ChurnModel.from_trained(trained)
    single = customers(1)
    batch = customers(BATCH_ROWS)

    def in_process(body: dict) -> Callable[[], object]:
        def call() -> object:
            records, _ = parse_predict_body(body)
            return model.churn_probability(to_matrix(records))

        return call

    print(f"model {model.version}, held-out AUC {trained.metadata['metrics']['auc']:.3f}")
    print(f"goals: single p50 < {SINGLE_GOAL_MS} ms, {BATCH_ROWS}-row batch p50 < {BATCH_GOAL_MS} ms")
    report("in-process single", timings_ms(in_process({"customer": single[0]}), args.single), SINGLE_GOAL_MS)
    report(
        f"in-process batch of {BATCH_ROWS}",
        timings_ms(in_process({"customers": batch}), args.batch),
        BATCH_GOAL_MS,
    )
    if not args.skip_http:
        with tempfile.TemporaryDirectory(prefix="churn-bench-") as tmp:
            work = Path(tmp)
            save(trained, work / "model")
            bench_http(work / "model", work, single, batch, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
