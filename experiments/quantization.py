"""What int8 quantisation costs and buys when a trained network is deployed.

A digits MLP is trained in float32, then turned into an int8 model three ways: post-training
quantisation (PTQ) with one weight scale per tensor, PTQ with one scale per output row
(both calibrated on held-out batches), and quantisation-aware training (QAT: a short
fine-tune with fake quantisation, then conversion). All arms of a seed start from the same
trained float model and see the same calibration batches. Size is the bytes of the weight
matrices; speed compares one large Linear layer's float32 BLAS product with the int8 path
(quantise the input, int32 product in NumPy, one rescale).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

import nnlab
from experiments.common import digits, evaluate, train_steps
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.quantization.qat import QATLinear, convert, prepare_qat
from nnlab.quantization.quantized_linear import quantize_model, weight_nbytes

ARMS = ("float32", "ptq-per-tensor", "ptq-per-channel", "qat")


def mlp(hidden: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, 10),
    )  # fmt: skip


def split(
    rng: np.random.Generator, n: int, n_calibration: int, n_test: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint index sets: training, calibration (held out from training), test."""
    order = rng.permutation(n)
    test, calibration = order[:n_test], order[n_test : n_test + n_calibration]
    return order[n_test + n_calibration :], calibration, test


def fine_tune_qat(
    model: nn.Module, x: np.ndarray, y: np.ndarray, order: np.ndarray, lr: float
) -> nn.Module:
    """QAT: fine-tune a fake-quantised copy of ``model`` on the batches of ``order``, then
    freeze the activation ranges and convert it to int8."""
    prepared = prepare_qat(model, per_channel=True)
    opt = nnlab.optim.Adam(prepared.parameters(), lr=lr)
    train_steps(prepared, opt, x, y, order, log_every=len(order))
    for m in prepared.modules():
        if isinstance(m, QATLinear):
            m.activation_fake_quant.disable_observer()
    return convert(prepared.eval())


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` runs of ``fn``, in seconds (the least disturbed by load)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def layer_timings(width: int, batch: int, repeats: int) -> tuple[float, float]:
    """Seconds for one forward pass of a (width → width) Linear on ``batch`` rows: float32
    and int8 (per-channel PTQ of the same layer)."""
    rng = np.random.default_rng(0)
    layer = nn.Linear(width, width)
    x = nnlab.tensor(rng.standard_normal((batch, width)).astype(np.float32))
    quantized = quantize_model(layer, [x])
    with nnlab.no_grad():
        float_time = best_time(lambda: layer(x), repeats)
    int8_time = best_time(lambda: quantized(x), repeats)
    return float_time, int8_time


@experiment(
    "int8-quantization",
    answers=["deployment-challenges"],
    quick=dict(n_seeds=2, hidden=64, steps=150, qat_steps=40, width=128, batch=64, repeats=3),
    full=dict(n_seeds=8, hidden=128, steps=600, qat_steps=150, width=512, batch=256, repeats=7),
)
def int8_quantization(
    run: Run,
    n_seeds: int,
    hidden: int,
    steps: int,
    qat_steps: int,
    width: int,
    batch: int,
    repeats: int,
) -> None:
    """How much accuracy, size and speed does int8 quantisation trade in a deployed network?"""
    x, y = digits()
    accuracy = {arm: [] for arm in ARMS}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        train, calibration, test = split(rng, len(y), 200, 500)
        order = train[rng.integers(0, len(train), size=(steps + qat_steps, 32))]
        nnlab.manual_seed(seed)
        model = mlp(hidden)
        opt = nnlab.optim.Adam(model.parameters(), lr=1e-3)
        train_steps(model, opt, x, y, order[:steps], log_every=steps)
        batches = [x[rows] for rows in np.array_split(calibration, 4)]
        models = {
            "float32": model,
            "ptq-per-tensor": quantize_model(model, batches, per_channel=False),
            "ptq-per-channel": quantize_model(model, batches, per_channel=True),
            "qat": fine_tune_qat(model, x, y, order[steps:], lr=2e-4),
        }
        for arm, m in models.items():
            accuracy[arm].append(evaluate(m, x[test], y[test])[1])

    float_bytes = weight_nbytes(mlp(hidden))
    int8_bytes = weight_nbytes(models["ptq-per-channel"])
    float_time, int8_time = layer_timings(width, batch, repeats)
    drops = {arm: np.subtract(accuracy["float32"], accuracy[arm]) for arm in ARMS[1:]}

    rows = []
    for arm in ARMS:
        mean, std = float(np.mean(accuracy[arm])), float(np.std(accuracy[arm]))
        drop = np.zeros(n_seeds) if arm == "float32" else drops[arm]
        run.number(f"{arm}_accuracy", round(mean, 4))
        run.number(f"{arm}_accuracy_std", round(std, 4))
        rows.append((arm, round(mean, 4), round(std, 4), round(float(drop.max()), 4), n_seeds))
    run.table("Test accuracy over seeds", ("model", "mean", "std", "worst drop", "seeds"), rows)
    run.number("float32_weight_bytes", float_bytes)
    run.number("int8_weight_bytes", int8_bytes)
    run.number("float32_layer_ms", round(1e3 * float_time, 4))
    run.number("int8_layer_ms", round(1e3 * int8_time, 4))
    speedup = float_time / int8_time
    run.number("int8_speedup", round(speedup, 3))
    run.table(
        f"Size and speed ({width}x{width} Linear on {batch} rows for the timing)",
        ("model", "weight bytes", "layer forward ms"),
        [("float32", float_bytes, round(1e3 * float_time, 3)),
         ("int8", int8_bytes, round(1e3 * int8_time, 3))],
    )  # fmt: skip

    fig = run.figure("quantization", "Test accuracy per seed, and one layer's forward time")
    ax_acc, ax_time = fig.subplots(1, 2, gridspec_kw=dict(width_ratios=(3, 1)))
    for i, arm in enumerate(ARMS):
        ax_acc.scatter([i] * n_seeds, accuracy[arm], color=f"C{i}")
    ax_acc.set_xticks(range(len(ARMS)), [a.replace("-", "\n", 1) for a in ARMS])
    ax_acc.set_ylabel("test accuracy")
    ax_time.bar(["float32", "int8"], [1e3 * float_time, 1e3 * int8_time], color=["C0", "C2"])
    ax_time.set_ylabel("forward ms (NumPy)")

    worst_channel = float(drops["ptq-per-channel"].max())
    mean_tensor, mean_channel = (
        float(drops["ptq-per-tensor"].mean()),
        float(drops["ptq-per-channel"].mean()),
    )
    mean_qat = float(drops["qat"].mean())
    run.claim(
        "int8 weights take exactly 4x fewer bytes than float32 weights",
        float_bytes == 4 * int8_bytes,
        f"{float_bytes} bytes float32, {int8_bytes} bytes int8",
    )
    run.claim(
        "Per-channel int8 PTQ loses at most 1 point of test accuracy on every seed",
        worst_channel <= 0.01,
        f"worst drop {worst_channel:.4f}",
        quick=False,
    )
    run.claim(
        "Per-channel PTQ loses no more accuracy than per-tensor PTQ (mean over seeds)",
        mean_channel <= mean_tensor,
        f"mean drop per-channel {mean_channel:.4f}, per-tensor {mean_tensor:.4f}",
        quick=False,
    )
    run.claim(
        "The QAT int8 model is within 1 point of the float32 model's accuracy (mean over seeds)",
        mean_qat <= 0.01,
        f"mean drop {mean_qat:.4f}",
        quick=False,
    )
    run.claim(
        "The int8 layer runs at least 1.5x faster than the float32 layer",
        speedup >= 1.5,
        f"float32 {1e3 * float_time:.3f} ms, int8 {1e3 * int8_time:.3f} ms, "
        f"speed-up {speedup:.2f}x",
        quick=False,
    )
    run.answer(
        f"Quantising a digits MLP to int8 shrank its weights from {float_bytes} to {int8_bytes} "
        f"bytes ({float_bytes / int8_bytes:.1f}x). Over {n_seeds} seeds the float32 model "
        f"scored {np.mean(accuracy['float32']):.1%}; post-training quantisation lost "
        f"{mean_tensor:+.2%} (per-tensor scales) and {mean_channel:+.2%} (per-channel, worst "
        f"seed {worst_channel:+.2%}), and quantisation-aware fine-tuning ({qat_steps} more "
        f"steps) {mean_qat:+.2%} (negative: a gain). Speed is the deployment catch: without "
        f"integer kernels, the int8 path in NumPy took {1e3 * int8_time:.2f} ms against "
        f"{1e3 * float_time:.2f} ms for float32 BLAS on a {width}x{width} layer "
        f"({speedup:.2f}x), so the size saving is real everywhere but a speed-up needs "
        "hardware and libraries with int8 matrix kernels."
    )
