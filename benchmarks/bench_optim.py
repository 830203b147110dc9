"""Optimizer updates alone: nnlab's numba kernels and NumPy references against torch.optim.

The parameters are those of the 784-512-256-10 MLP (535,818 float32 values in six
tensors), with fixed gradients; one timed call is one ``optimizer.step()``. Each round
times nnlab on its numba kernels, nnlab on its NumPy references and torch (2 threads, its
default implementation), one block each after an idle pause (see ``_harness``); the
printed ratios are medians over rounds of each round's ratio. Target (issue 20): the numba
update ≤ 0.5× torch's. Run on an otherwise idle machine:

    python benchmarks/bench_optim.py [--rounds 5] [--repeats 50] [--threads 2]

``--threads 1`` against ``--threads 2`` shows what the kernels' second thread buys (and
where ``nnlab.kernels.runtime.PARALLEL_MIN_SIZE`` should lie on this machine).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Timing, fmt_time, measure  # noqa: E402

import nnlab  # noqa: E402
from nnlab import kernels  # noqa: E402
from nnlab.kernels import runtime  # noqa: E402

SHAPES = [(512, 784), (512,), (256, 512), (256,), (10, 256), (10,)]  # 535,818 values

#: (label, optimizer, keyword arguments)
CASES = [
    ("Adam", "Adam", dict(lr=1e-3)),
    ("AdamW amsgrad", "AdamW", dict(lr=1e-3, amsgrad=True)),
    ("SGD momentum 0.9", "SGD", dict(lr=0.01, momentum=0.9)),
    ("SGD Nesterov, decay", "SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)),
    ("RMSprop", "RMSprop", dict(lr=1e-3)),
    ("RMSprop centered, momentum", "RMSprop", dict(lr=1e-3, centered=True, momentum=0.9)),
    ("Adagrad", "Adagrad", dict(lr=1e-2)),
]


def _arrays(seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(s).astype(np.float32) * 0.05 for s in SHAPES]
    grads = [rng.standard_normal(s).astype(np.float32) * 1e-3 for s in SHAPES]
    return weights, grads


def nnlab_step(name: str, kwargs: dict, backend: str):
    weights, grads = _arrays(0)
    params = [nnlab.tensor(w, requires_grad=True) for w in weights]
    for p, g in zip(params, grads):
        p.grad = nnlab.tensor(g)
    opt = getattr(nnlab.optim, name)(params, **kwargs)

    def step() -> None:
        kernels.set_backend(backend)
        opt.step()

    step()  # the first step creates the state (and compiles or loads the kernels)
    return step


def torch_step(name: str, kwargs: dict):
    weights, grads = _arrays(0)
    params = [torch.tensor(w, requires_grad=True) for w in weights]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    opt = getattr(torch.optim, name)(params, **kwargs)
    opt.step()
    return opt.step


def run_case(label: str, name: str, kwargs: dict, rounds: int, repeats: int) -> list[str]:
    steps = {
        "numba": nnlab_step(name, kwargs, "numba"),
        "numpy": nnlab_step(name, kwargs, "numpy"),
        "torch": torch_step(name, kwargs),
    }
    times: dict[str, list[Timing]] = {k: [] for k in steps}
    for _ in range(rounds):
        for key, step in steps.items():
            times[key].append(measure(step, repeats, warmup=3, inner=5))
    kernels.set_backend("numba")

    def median(key: str) -> float:
        return statistics.median(t.median_s for t in times[key])

    def ratio(a: str, b: str) -> float:
        return statistics.median(x.median_s / y.median_s for x, y in zip(times[a], times[b]))

    faults = statistics.median(t.faults_per_step for t in times["numba"])
    return [
        f"{label:<28} {fmt_time(median('numba')):>11} {fmt_time(median('numpy')):>11} "
        f"{fmt_time(median('torch')):>11} {ratio('numba', 'torch'):7.2f}x "
        f"{ratio('numpy', 'torch'):7.2f}x {ratio('numba', 'numpy'):7.2f}x {faults:8.1f}"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument(
        "--threads", type=int, default=None, help="nnlab.set_num_threads (default: as is)"
    )
    args = parser.parse_args()
    if args.threads is not None:
        nnlab.set_num_threads(args.threads)
    torch.set_num_threads(2)
    print(
        f"{platform.processor() or platform.machine()}; nnlab kernel threads "
        f"{runtime.get_num_threads()}, BLAS threads {nnlab.get_num_threads()}, torch threads "
        f"{torch.get_num_threads()}; {sum(int(np.prod(s)) for s in SHAPES):,} float32 "
        f"parameters in {len(SHAPES)} tensors; {args.rounds} rounds × {args.repeats} samples"
    )
    head = (
        f"{'update':<28} {'numba':>11} {'numpy':>11} {'torch':>11} {'nb/torch':>8} "
        f"{'np/torch':>8} {'nb/np':>8} {'faults':>8}"
    )
    print(head)
    print("-" * len(head))
    for label, name, kwargs in CASES:
        for line in run_case(label, name, kwargs, args.rounds, args.repeats):
            print(line, flush=True)
    print("target: numba update ≤ 0.50x torch (issue 20); faults: minor page faults per numba step")


if __name__ == "__main__":
    main()
