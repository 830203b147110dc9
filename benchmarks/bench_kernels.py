"""Activation, softmax and dropout kernels: numba against the NumPy references and torch.

Each case times one call of a kernel's dispatcher under the numba backend, the same call
under the numpy backend (the reference) and torch's own op (its CPU kernel, 2 threads), in
alternating blocks after an idle pause (see ``_harness``), ``--rounds`` times; the printed
ratios are medians over rounds of each round's ratio. A kernel is wired into nnlab's ops
only where ``nb/np`` is below 1. Run on an otherwise idle machine (threaded kernels timed
under load are meaningless, PERFORMANCE.md):

    python benchmarks/bench_kernels.py [--rounds 5] [--repeats 30] [--threads 2] [--small]

Shapes: a transformer feed-forward activation (1184 × 1536 float32, the MiniLM-shaped
encoder's) for the element loops, attention scores (96 × 128 rows of 128) for softmax;
``--small`` uses an MLP's hidden layer (128 × 512) and 128 rows of 10 classes instead,
below :data:`nnlab.kernels.runtime.PARALLEL_MIN_SIZE` (one thread).
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
import nnlab.nn.functional as F  # noqa: E402
from nnlab import kernels  # noqa: E402
from nnlab.kernels import activation as act  # noqa: E402
from nnlab.kernels import dropout as drop  # noqa: E402
from nnlab.kernels import runtime  # noqa: E402
from nnlab.kernels import softmax as sm  # noqa: E402
from nnlab.ops.activation import _sigmoid  # noqa: E402

aten = torch.ops.aten


def cases(elementwise: tuple[int, ...], rows: tuple[int, ...]):
    """(label, nnlab call, torch call) per kernel; the nnlab call runs on the current
    backend."""
    rng = np.random.default_rng(0)
    x, g = (rng.standard_normal(elementwise).astype(np.float32) for _ in range(2))
    y_tanh, y_sig, y_relu = np.tanh(x), _sigmoid(x), np.maximum(x, 0)
    relu_mask = y_relu > 0
    y_elu = np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    s, gs = (rng.standard_normal(rows).astype(np.float32) * 3 for _ in range(2))
    p = sm.softmax_numpy(s, -1)
    log_p = np.log(p)
    draws = np.random.default_rng(1)
    t = {k: torch.from_numpy(v) for k, v in dict(
        x=x, g=g, y_tanh=y_tanh, y_sig=y_sig, y_relu=y_relu, y_elu=y_elu, s=s, gs=gs, p=p,
        log_p=log_p).items()}  # fmt: skip
    t["x_grad"] = t["x"].clone().requires_grad_()
    labels = rng.integers(0, rows[1], rows[0])
    t["labels"], t["s_grad"] = torch.from_numpy(labels), t["s"].clone().requires_grad_()
    f32 = torch.float32
    return [
        ("relu", lambda: act.relu(x), lambda: torch.relu(t["x"])),
        ("relu backward", lambda: act.relu_backward(g, relu_mask),
         lambda: aten.threshold_backward(t["g"], t["y_relu"], 0)),
        ("leaky_relu", lambda: act.leaky_relu(x, 0.01),
         lambda: torch.nn.functional.leaky_relu(t["x"], 0.01)),
        ("leaky_relu backward", lambda: act.leaky_relu_backward(g, x, 0.01),
         lambda: aten.leaky_relu_backward(t["g"], t["x"], 0.01, False)),
        ("elu backward", lambda: act.elu_backward(g, x, y_elu, 1.0),
         lambda: aten.elu_backward(t["g"], 1.0, 1, 1, False, t["x"])),
        ("tanh backward", lambda: act.tanh_backward(g, y_tanh),
         lambda: aten.tanh_backward(t["g"], t["y_tanh"])),
        ("sigmoid backward", lambda: act.sigmoid_backward(g, y_sig),
         lambda: aten.sigmoid_backward(t["g"], t["y_sig"])),
        ("gelu float32", lambda: act.gelu_erf_float32(x, False),
         lambda: torch.nn.functional.gelu(t["x"])),
        ("gelu float32 with dy/dx", lambda: act.gelu_erf_float32(x, True),
         lambda: torch.nn.functional.gelu(t["x_grad"])),
        ("gelu tanh", lambda: act.gelu_tanh(x),
         lambda: torch.nn.functional.gelu(t["x"], approximate="tanh")),
        ("gelu tanh backward", lambda: act.gelu_tanh_backward(g, x),
         lambda: aten.gelu_backward(t["g"], t["x"], approximate="tanh")),
        ("silu backward (with sigma)", lambda: act.silu_backward(g, x, _sigmoid(x)),
         lambda: aten.silu_backward(t["g"], t["x"])),
        ("softmax", lambda: sm.softmax(s, -1), lambda: torch.softmax(t["s"], -1)),
        ("log_softmax", lambda: sm.log_softmax(s, -1), lambda: torch.log_softmax(t["s"], -1)),
        ("cross_entropy fwd+bwd", lambda: cross_entropy_step(s, labels),
         lambda: torch_cross_entropy_step(t["s_grad"], t["labels"])),
        ("softmax backward", lambda: sm.softmax_backward(gs, p, -1),
         lambda: aten._softmax_backward_data(t["gs"], t["p"], -1, f32)),
        ("log_softmax backward", lambda: sm.log_softmax_backward(gs, log_p, -1),
         lambda: aten._log_softmax_backward_data(t["gs"], t["log_p"], -1, f32)),
        ("dropout p=0.1 (with draws)",
         lambda: drop.dropout(x, draws.random(x.shape, dtype=np.float32), 0.1),
         lambda: torch.nn.functional.dropout(t["x"], 0.1, True)),
    ]  # fmt: skip


def cross_entropy_step(logits: np.ndarray, labels: np.ndarray) -> None:
    """nnlab's fused softmax-cross-entropy, forward and backward (kernels: the row shift)."""
    x = nnlab.tensor(logits, requires_grad=True)
    F.cross_entropy(x, nnlab.tensor(labels)).backward()


def torch_cross_entropy_step(logits, labels) -> None:
    logits.grad = None
    torch.nn.functional.cross_entropy(logits, labels).backward()


def on_backend(call, backend: str):
    def step() -> None:
        kernels.set_backend(backend)
        call()

    return step


def run(label: str, ours, theirs, rounds: int, repeats: int) -> str:
    steps = {"numba": on_backend(ours, "numba"), "numpy": on_backend(ours, "numpy"),
             "torch": theirs}  # fmt: skip
    times: dict[str, list[Timing]] = {k: [] for k in steps}
    for _ in range(rounds):
        for key, step in steps.items():
            times[key].append(measure(step, repeats, warmup=3))
    kernels.set_backend("numba")

    def median(key: str) -> float:
        return statistics.median(t.median_s for t in times[key])

    def ratio(a: str, b: str) -> float:
        return statistics.median(x.median_s / y.median_s for x, y in zip(times[a], times[b]))

    return (
        f"{label:<28} {fmt_time(median('numba')):>11} {fmt_time(median('numpy')):>11} "
        f"{fmt_time(median('torch')):>11} {ratio('numba', 'torch'):7.2f}x "
        f"{ratio('numpy', 'torch'):7.2f}x {ratio('numba', 'numpy'):7.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None, help="nnlab.set_num_threads")
    parser.add_argument("--small", action="store_true", help="MLP-sized arrays (one thread)")
    parser.add_argument("--only", default="", help="run the cases whose label contains this")
    args = parser.parse_args()
    if args.threads is not None:
        nnlab.set_num_threads(args.threads)
    torch.set_num_threads(2)
    elementwise, rows = ((128, 512), (128, 10)) if args.small else ((1184, 1536), (96 * 128, 128))
    print(
        f"{platform.processor() or platform.machine()}; nnlab kernel threads "
        f"{runtime.get_num_threads()}, torch threads {torch.get_num_threads()}; element "
        f"loops on {elementwise} float32, softmax on {rows}; {args.rounds} rounds × "
        f"{args.repeats} samples"
    )
    head = (
        f"{'kernel':<28} {'numba':>11} {'numpy':>11} {'torch':>11} {'nb/torch':>8} "
        f"{'np/torch':>8} {'nb/np':>8}"
    )
    print(head)
    print("-" * len(head))
    for label, ours, theirs in cases(elementwise, rows):
        if args.only in label:
            print(run(label, ours, theirs, args.rounds, args.repeats), flush=True)


if __name__ == "__main__":
    main()
