"""Inference-server benchmark: throughput and latency of ``nnlab serve`` on loopback.

Workload: a digits MLP run (``configs/digits_mlp.toml``, 1 epoch, trained into a temporary
folder) served by uvicorn on 127.0.0.1; ``CLIENTS`` concurrent clients (default 32) each
send ``REQUESTS`` requests (default 25) of one feature row, one after another. Each
configuration runs its own server: micro-batching off (``max_batch_size=1``: one forward
pass per request) and on (``max_batch_size=64`` with a 0, 2 and 5 ms window). Rows: requests
per second over the whole run, the median and 99th-percentile request latency, and the
forward passes made. Every answer is checked against ``predict_run`` before timing counts.

Run: ``.venv/bin/python benchmarks/bench_serve.py [CLIENTS REQUESTS]``, on an idle machine
(the clients, the server and the model share its cores).
"""

from __future__ import annotations

import asyncio
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import uvicorn

from nnlab.data.datasets import load_digits
from nnlab.runner import predict_run, train_from_config
from nnlab.serve.app import create_app

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "digits_mlp.toml"
SETTINGS = [("no batching", 1, 0), ("batch<=64, 0 ms", 64, 0), ("batch<=64, 2 ms", 64, 2),
            ("batch<=64, 5 ms", 64, 5)]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _load(url: str, rows: np.ndarray, clients: int, requests: int) -> list[float]:
    """Per-request latencies (s) of ``clients`` clients sending ``requests`` each."""
    latencies: list[float] = []

    async def client(c: httpx.AsyncClient, k: int) -> None:
        for j in range(requests):
            row = rows[(k * requests + j) % len(rows)]
            start = time.perf_counter()
            answer = await c.post("/predict", json={"rows": [row.tolist()]})
            latencies.append(time.perf_counter() - start)
            answer.raise_for_status()

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as c:
        await asyncio.gather(*(client(c, k) for k in range(clients)))
    return latencies


async def _check(url: str, rows: np.ndarray, expected: dict[str, np.ndarray]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as c:
        answers = await asyncio.gather(
            *(c.post("/predict", json={"rows": [row.tolist()]}) for row in rows)
        )
    got = [a.json()["prediction"][0] for a in answers]
    assert got == expected["prediction"].tolist(), "the server disagrees with predict_run"


def _serve(run_dir: Path, max_batch_size: int, max_wait_ms: float):
    app = create_app(run_dir, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return app, server, thread, f"http://127.0.0.1:{port}"


def main() -> None:
    clients = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    rows = load_digits()[0][:200]
    with tempfile.TemporaryDirectory() as out:
        run_dir = train_from_config(CONFIG, output_dir=out, epochs=1, verbose=False).run_dir
        expected = predict_run(run_dir, rows[:64])
        print(f"{clients} clients x {requests} requests of 1 row, digits MLP, loopback\n")
        print(f"{'setting':<18}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'forwards':>10}")
        for name, max_batch_size, max_wait_ms in SETTINGS:
            app, server, thread, url = _serve(run_dir, max_batch_size, max_wait_ms)
            try:
                asyncio.run(_check(url, rows[:64], expected))
                passes = app.state.batcher.forward_passes
                start = time.perf_counter()
                latencies = asyncio.run(_load(url, rows, clients, requests))
                seconds = time.perf_counter() - start
                passes = app.state.batcher.forward_passes - passes
            finally:
                server.should_exit = True
                thread.join()
            ms = 1000 * np.asarray(latencies)
            print(f"{name:<18}{len(ms) / seconds:>9.0f}{np.percentile(ms, 50):>9.2f}"
                  f"{np.percentile(ms, 99):>9.2f}{passes:>10}")  # fmt: skip


if __name__ == "__main__":
    main()
