"""Normalization kernels alone: nnlab's numba kernels and NumPy references against torch.

Each case times one forward (keeping x̂ for the backward, as in training) or one backward
(all three gradients) of LayerNorm, GroupNorm or BatchNorm on float32 arrays of a typical
shape, C-contiguous (other layouts run the reference), called at the array level
(``nnlab.kernels.normalization``), against torch's ``F.layer_norm``/``group_norm``/
``batch_norm``: its forward records the graph (as in training), its backward is
``torch.autograd.grad`` on a retained graph. Each round times numba, numpy and torch
(2 threads), one block each after an idle pause (see ``_harness``); the ratios are
medians over rounds of each round's ratio. The kernels are wired into the ops only where
they beat the reference. Run on an otherwise idle machine (on a loaded one the threaded
kernels' times are meaningless), and compare with numba's SLP vectoriser on (see
:mod:`nnlab.kernels.normalization`; in a separate cache folder, since numba's cache does
not key on that setting):

    python benchmarks/bench_norm_kernels.py [--rounds 5] [--repeats 50] [--threads 2]
    NUMBA_SLP_VECTORIZE=1 NUMBA_CACHE_DIR=/tmp/slp python benchmarks/bench_norm_kernels.py
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as tF

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Timing, fmt_time, measure  # noqa: E402

import nnlab  # noqa: E402
from nnlab import kernels  # noqa: E402
from nnlab.kernels import normalization as kn  # noqa: E402
from nnlab.kernels import runtime  # noqa: E402

Steps = tuple[Callable[[], object], Callable[[], object], Callable[[], object]]


def _data(shape: tuple[int, ...], channels: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    w = (1 + 0.1 * rng.standard_normal(channels)).astype(np.float32)
    b = (0.1 * rng.standard_normal(channels)).astype(np.float32)
    return x, g, w, b


def _torch_pair(forward, x, g, w, b) -> tuple[Callable[[], object], Callable[[], object]]:
    """torch's forward (recording the graph) and its backward on a retained graph."""
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tg = torch.tensor(g)
    y = forward(tx, tw, tb)

    def backward():
        return torch.autograd.grad(y, (tx, tw, tb), tg, retain_graph=True)

    return (lambda: forward(tx, tw, tb)), backward


def _on(backend: str, fn: Callable[[], object]) -> Callable[[], object]:
    def step():
        kernels.set_backend(backend)
        return fn()

    return step


def _triple(fn: Callable[[], object], torch_fn: Callable[[], object]) -> Steps:
    return _on("numba", fn), _on("numpy", fn), torch_fn


def layer_norm(rows: int, d: int) -> tuple[Steps, Steps]:
    x, g, w, b = _data((rows, d), d)
    _, xhat, invstd = kn.layer_norm_forward_numpy(x, w, b, 1e-5, True)
    tfwd, tbwd = _torch_pair(lambda a, c, e: tF.layer_norm(a, (d,), c, e), x, g, w, b)
    fwd = lambda: kn.layer_norm_forward(x, w, b, 1e-5, True)  # noqa: E731
    bwd = lambda: kn.layer_norm_backward(g, xhat, invstd, w, True, True, True)  # noqa: E731
    return _triple(fwd, tfwd), _triple(bwd, tbwd)


def group_norm(n: int, c: int, hw: int, groups: int) -> tuple[Steps, Steps]:
    x, g, w, b = _data((n, c, hw * hw), c)
    _, xhat, invstd = kn.group_norm_forward_numpy(x, w, b, groups, 1e-5)
    tfwd, tbwd = _torch_pair(lambda a, e, f: tF.group_norm(a, groups, e, f), x, g, w, b)
    fwd = lambda: kn.group_norm_forward(x, w, b, groups, 1e-5)  # noqa: E731
    bwd = lambda: kn.group_norm_backward(g, xhat, invstd, w, groups, True, True, True)  # noqa: E731
    return _triple(fwd, tfwd), _triple(bwd, tbwd)


def batch_norm(n: int, c: int, hw: int, training: bool) -> tuple[Steps, Steps]:
    x, g, w, b = _data((n, c, hw, hw), c)
    rng = np.random.default_rng(1)
    mean = None if training else (0.1 * rng.standard_normal(c)).astype(np.float32)
    var = None if training else (1 + rng.random(c)).astype(np.float32)
    _, xhat, invstd, *_ = kn.batch_norm_forward_numpy(x, w, b, mean, var, 1e-5)
    rm = torch.zeros(c) if mean is None else torch.tensor(mean)
    rv = torch.ones(c) if var is None else torch.tensor(var)
    tfwd, tbwd = _torch_pair(lambda a, e, f: tF.batch_norm(a, rm, rv, e, f, training), x, g, w, b)
    fwd = lambda: kn.batch_norm_forward(x, w, b, mean, var, 1e-5)  # noqa: E731
    bwd = lambda: kn.batch_norm_backward(g, xhat, invstd, w, training, True, True, True)  # noqa: E731
    return _triple(fwd, tfwd), _triple(bwd, tbwd)


#: (label, builder of the (forward, backward) step triples)
CASES = [
    ("LayerNorm 1184x384", lambda: layer_norm(1184, 384)),
    ("LayerNorm 64x128", lambda: layer_norm(64, 128)),
    ("GroupNorm 8x64x32x32 G=32", lambda: group_norm(8, 64, 32, 32)),
    ("BatchNorm2d 64x32x16x16 train", lambda: batch_norm(64, 32, 16, True)),
    ("BatchNorm2d 64x32x16x16 eval", lambda: batch_norm(64, 32, 16, False)),
    ("BatchNorm2d 64x6x28x28 train", lambda: batch_norm(64, 6, 28, True)),
]


def run(label: str, steps: Steps, rounds: int, repeats: int) -> str:
    names = ("numba", "numpy", "torch")
    times: dict[str, list[Timing]] = {k: [] for k in names}
    for step in steps:
        step()  # compile or load the kernels
    for _ in range(rounds):
        for key, step in zip(names, steps):
            times[key].append(measure(step, repeats, warmup=3, inner=3))
    kernels.set_backend("numba")

    def median(key: str) -> float:
        return statistics.median(t.median_s for t in times[key])

    def ratio(a: str, b: str) -> float:
        return statistics.median(x.median_s / y.median_s for x, y in zip(times[a], times[b]))

    return (
        f"{label:<38} {fmt_time(median('numba')):>11} {fmt_time(median('numpy')):>11} "
        f"{fmt_time(median('torch')):>11} {ratio('numba', 'torch'):7.2f}x "
        f"{ratio('numpy', 'torch'):7.2f}x {ratio('numba', 'numpy'):7.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument(
        "--threads", type=int, default=None, help="nnlab.set_num_threads (default: as is)"
    )
    parser.add_argument("--cases", default="", help="run only cases whose label contains this")
    args = parser.parse_args()
    if args.threads is not None:
        nnlab.set_num_threads(args.threads)
    torch.set_num_threads(2)
    print(
        f"{platform.processor() or platform.machine()}; nnlab kernel threads "
        f"{runtime.get_num_threads()}, torch threads {torch.get_num_threads()}; float32; "
        f"{args.rounds} rounds × {args.repeats} samples"
    )
    head = (
        f"{'case':<38} {'numba':>11} {'numpy':>11} {'torch':>11} {'nb/torch':>8} "
        f"{'np/torch':>8} {'nb/np':>8}"
    )
    print(head)
    print("-" * len(head))
    for label, build in CASES:
        if args.cases not in label:
            continue
        forward, backward = build()
        print(run(f"{label} forward", forward, args.rounds, args.repeats), flush=True)
        print(run(f"{label} backward", backward, args.rounds, args.repeats), flush=True)


if __name__ == "__main__":
    main()
