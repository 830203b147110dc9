"""Data-parallel training on MPI: step time, scaling efficiency and the communication
share of a step, for K = 1 and 2 processes on this machine.

Workload: MLPs trained by SGD on a fixed global batch of B = 256 synthetic samples
(strong scaling: each of K ranks computes B/K samples per step). K = 1 is the plain
one-process loop; K = 2 wraps the model in ``DistributedDataParallel`` (25 MiB buckets)
under ``mpiexec -n 2``. Every rank uses one BLAS thread, so K ranks use K cores.

Per model it reports the median step time (forward, backward with the gradient
allreduce, optimizer step; ranks aligned by a barrier before each step), samples/s,
speedup T1/TK and efficiency T1/(K·TK), and the allreduce alone: the same buckets reduced
with nothing else running, whose time over the step time is the communication share.
It also measures the MPI allreduce's latency (8 bytes) and bandwidth (64 MiB), the α and
β of the scaling model in ``docs/distributed.md``.

Run: ``.venv/bin/python benchmarks/bench_distributed.py`` (it starts ``mpiexec`` itself;
on a shared machine run it when the cores are idle: the numbers are the point).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BATCH, STEPS, WARMUP = 256, 30, 5
MODELS = {"mlp-small": [64, 128, 10], "mlp-large": [784, 1024, 1024, 10]}


def _median_ms(times: list[float]) -> float:
    return float(np.median(times) * 1e3)


def worker() -> None:
    """One rank: time the steps and the allreduce; rank 0 prints a JSON line."""
    import nnlab
    import nnlab.distributed as dist
    from nnlab import nn, optim
    from nnlab.nn.parallel import DistributedDataParallel

    k = dist.launch_world_size() or 1
    if k > 1:
        dist.init_process_group("mpi")
    rank = dist.get_rank() if k > 1 else 0

    def barrier() -> None:
        if k > 1:
            dist.barrier()

    results = {"k": k, "models": {}}
    for name, sizes in MODELS.items():
        nnlab.manual_seed(0)
        layers: list = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        model = nn.Sequential(*layers[:-1])
        params = sum(p.numel() for p in model.parameters())
        optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        ddp = DistributedDataParallel(model) if k > 1 else None
        net = ddp or model
        rng = np.random.default_rng(rank)
        m = BATCH // k
        x = nnlab.tensor(rng.normal(size=(m, sizes[0])).astype(np.float32))
        y = nnlab.tensor(rng.integers(0, sizes[-1], size=m))
        loss_fn = nn.CrossEntropyLoss()
        times = []
        for step in range(WARMUP + STEPS):
            barrier()
            start = time.perf_counter()
            loss_fn(net(x), y).backward()
            optimizer.step()
            optimizer.zero_grad()
            if step >= WARMUP:
                times.append(time.perf_counter() - start)
        row = {"params": params, "step_ms": _median_ms(times)}
        if ddp is not None:
            buffers = [nnlab.from_numpy(b.buffer) for b in ddp._buckets]
            comm = []
            for step in range(WARMUP + STEPS):
                barrier()
                start = time.perf_counter()
                for buffer in buffers:
                    dist.all_reduce(buffer)
                if step >= WARMUP:
                    comm.append(time.perf_counter() - start)
            row["allreduce_ms"] = _median_ms(comm)
            row["buckets"] = len(buffers)
        results["models"][name] = row
    if k > 1:
        results["alpha_beta"] = _latency_bandwidth(dist, barrier)
    if rank == 0:
        print("RESULT " + json.dumps(results), flush=True)


def _latency_bandwidth(dist, barrier) -> dict:
    """Median allreduce time of 8 bytes (≈ the latency term) and of 64 MiB (→ bandwidth)."""
    import nnlab

    out = {}
    for label, n in (("small", 1), ("large", 16 * 2**20)):
        buffer = nnlab.zeros(n)
        times = []
        for step in range(WARMUP + (STEPS if n == 1 else 8)):
            barrier()
            start = time.perf_counter()
            dist.all_reduce(buffer)
            if step >= WARMUP:
                times.append(time.perf_counter() - start)
        out[label] = {"bytes": 4 * n, "ms": _median_ms(times)}
    return out


def launch(k: int) -> dict:
    """Run :func:`worker` on K ranks (one BLAS thread each) and parse its JSON line."""
    here = Path(__file__).resolve()
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    mpiexec = Path(sys.executable).parent / "mpiexec"
    command = [sys.executable, str(here), "--worker"]
    if k > 1:
        command = [str(mpiexec), "-n", str(k), *command]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"K={k} produced no result:\n{done.stdout}\n{done.stderr}")


def main() -> None:
    one, two = launch(1), launch(2)
    print(f"global batch {BATCH}, median of {STEPS} steps, 1 BLAS thread per rank")
    header = ("model", "params", "K", "step ms", "samples/s", "speedup", "efficiency",
              "allreduce ms", "comm share")  # fmt: skip
    print(" | ".join(header))
    for name in MODELS:
        t1 = one["models"][name]["step_ms"]
        for result in (one, two):
            row, k = result["models"][name], result["k"]
            tk = row["step_ms"]
            comm = row.get("allreduce_ms", 0.0)
            print(" | ".join([
                name, str(row["params"]), str(k), f"{tk:.2f}", f"{BATCH / tk * 1e3:.0f}",
                f"{t1 / tk:.2f}", f"{t1 / (k * tk):.0%}", f"{comm:.3f}", f"{comm / tk:.1%}",
            ]))  # fmt: skip
    ab = two["alpha_beta"]
    large = ab["large"]
    bandwidth = 2 * (2 - 1) / 2 * large["bytes"] / (large["ms"] / 1e3)  # ring bytes per second
    print(f"allreduce of 8 bytes on 2 ranks: {ab['small']['ms'] * 1e3:.1f} µs (latency)")
    print(f"allreduce of {large['bytes'] >> 20} MiB on 2 ranks: {large['ms']:.1f} ms "
          f"→ {bandwidth / 1e9:.2f} GB/s of ring traffic per rank")  # fmt: skip


if __name__ == "__main__":
    if "--worker" in sys.argv:
        worker()
    else:
        main()
