"""Making training cheaper: mixed precision and activation checkpointing.

Mixed precision: the same MLP is trained on the digits in float32, and in float16 with a
float32 master copy of the weights and dynamic loss scaling (``nnlab.amp``). Both arms of
a seed start from the same weights and see the same batches. Measured: test accuracy, the
steps the scaler skipped, the share of weight updates float16 alone would have rounded
away, and the bytes of weights, gradients and activations.

Activation checkpointing: deep MLPs run forward and backward plainly and with
``checkpoint_sequential`` in √L segments. Measured: peak memory under tracemalloc, whether
the gradients are identical, the extra layer evaluations the recomputation costs, and
(full size only) its time.
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

import nnlab
import nnlab.nn.functional as F
from experiments.common import digits
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.amp.fp16_utils import (
    master_params_to_model_params,
    model_grads_to_master_grads,
    prep_param_lists,
)
from nnlab.amp.grad_scaler import GradScaler
from nnlab.utils.checkpoint import checkpoint_sequential

# -- mixed precision -------------------------------------------------------------------


def classifier(hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray, dtype: nnlab.dtype) -> float:
    with nnlab.no_grad():
        logits = model(nnlab.tensor(x).to(dtype))
    return float((logits.argmax(1).numpy() == y).mean())


def train_float32(model: nn.Module, x: np.ndarray, y: np.ndarray, order: np.ndarray) -> None:
    """SGD with momentum on the mini-batches whose indices are the rows of ``order``."""
    opt = nnlab.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for rows in order:
        loss = F.cross_entropy(model(nnlab.tensor(x[rows])), nnlab.tensor(y[rows]))
        opt.zero_grad()
        loss.backward()
        opt.step()


def train_mixed(
    model: nn.Module, x: np.ndarray, y: np.ndarray, order: np.ndarray, growth_interval: int
) -> dict[str, float]:
    """The same SGD on float32 master weights, the model in float16, the loss scaled.

    Returns the number of skipped (overflowing) steps, the final scale, and the share of
    the master weights' changes that vanish when rounded back to float16 (the updates a
    float16-only optimizer would lose).
    """
    model.half()
    model_params, master_params = prep_param_lists(model)
    opt = nnlab.optim.SGD(master_params, lr=0.05, momentum=0.9)
    scaler = GradScaler(init_scale=2.0**16, growth_interval=growth_interval)
    skipped, changed, lost = 0, 0, 0
    for rows in order:
        logits = model(nnlab.tensor(x[rows]).to(nnlab.float16))
        loss = F.cross_entropy(logits.float(), nnlab.tensor(y[rows]))  # loss in float32
        model.zero_grad()
        scaler.scale(loss).backward()
        model_grads_to_master_grads(model_params, master_params)
        before = [p.detach().numpy().copy() for p in master_params]
        scale = scaler.get_scale()
        scaler.step(opt)
        scaler.update()
        skipped += scaler.get_scale() < scale
        for old, p in zip(before, master_params, strict=True):
            new = p.detach().numpy()
            moved = new != old
            changed += int(moved.sum())
            lost += int((moved & (new.astype(np.float16) == old.astype(np.float16))).sum())
        master_params_to_model_params(model_params, master_params)
    return {
        "skipped": skipped,
        "final_scale": scaler.get_scale(),
        "lost_share": lost / max(changed, 1),
    }


def activation_bytes(model: nn.Module, x: np.ndarray, dtype: nnlab.dtype) -> int:
    """Bytes of every layer output of one forward pass (what backward keeps alive)."""
    sizes: list[int] = []
    removers = [
        m.register_forward_hook(lambda _m, _i, out: sizes.append(out.numpy().nbytes)) for m in model
    ]
    with nnlab.no_grad():
        model(nnlab.tensor(x).to(dtype))
    for remove in removers:
        remove()
    return sum(sizes)


@experiment(
    "mixed-precision",
    answers=["training-efficiency"],
    quick=dict(hidden=64, steps=150, batch=64, n_seeds=2, growth_interval=50),
    full=dict(hidden=128, steps=1500, batch=64, n_seeds=5, growth_interval=100),
)
def mixed_precision(
    run: Run, hidden: int, steps: int, batch: int, n_seeds: int, growth_interval: int
) -> None:
    """Does float16 training with loss scaling match float32, and what does it save?"""
    x, y = digits()
    split = run.rng(0).permutation(len(x))
    train, test = split[:1347], split[1347:]
    results: dict[str, list[float]] = {"float32": [], "mixed": [], "skipped": [], "lost": []}
    scales = []
    for seed in run.seeds(n_seeds):
        order = np.random.default_rng(seed).choice(train, size=(steps, batch))
        nnlab.manual_seed(seed)  # both arms start from the same weights
        model = classifier(hidden)
        train_float32(model, x, y, order)
        results["float32"].append(accuracy(model, x[test], y[test], nnlab.float32))
        nnlab.manual_seed(seed)
        model = classifier(hidden)
        stats = train_mixed(model, x, y, order, growth_interval)
        results["mixed"].append(accuracy(model, x[test], y[test], nnlab.float16))
        results["skipped"].append(stats["skipped"])
        results["lost"].append(stats["lost_share"])
        scales.append(stats["final_scale"])

    gap = float(np.mean(results["float32"]) - np.mean(results["mixed"]))
    skipped_share = float(np.sum(results["skipped"]) / (steps * n_seeds))
    lost_share = float(np.mean(results["lost"]))
    rows = []
    for arm in ("float32", "mixed"):
        values = results[arm]
        run.number(f"{arm}_test_accuracy", round(float(np.mean(values)), 4))
        rows.append((arm, round(float(np.mean(values)), 4), round(float(np.std(values)), 4)))
    run.table("Test accuracy over seeds", ("arm", "mean", "std"), rows)
    run.number("accuracy_gap", round(gap, 4))
    run.number("skipped_steps_total", int(np.sum(results["skipped"])))
    run.number("skipped_share", round(skipped_share, 4))
    run.number("lost_update_share", round(lost_share, 4))
    run.number("final_scale_min", min(scales))

    n_params = sum(p.numel() for p in classifier(hidden).parameters())
    act32 = activation_bytes(classifier(hidden), x[:batch], nnlab.float32)
    act16 = activation_bytes(classifier(hidden).half(), x[:batch], nnlab.float16)
    # Weights + gradients (+ momentum): float32 training keeps 3 float32 copies; mixed
    # keeps float16 weights and gradients plus float32 master weights, gradients, momentum.
    state32, state_mixed = 12 * n_params, (2 + 2 + 4 + 4 + 4) * n_params
    run.number("parameters", n_params)
    run.number("activation_bytes_float32", act32)
    run.number("activation_bytes_float16", act16)
    run.table(
        f"Memory in bytes (batch {batch})",
        ("what", "float32", "mixed"),
        [
            ("activations", act32, act16),
            ("weights, gradients, momentum", state32, state_mixed),
        ],
    )

    fig = run.figure("accuracy", "Test accuracy per seed: float32 against float16 + scaler")
    ax = fig.subplots()
    for i, arm in enumerate(("float32", "mixed")):
        ax.scatter([i] * n_seeds, results[arm], color=f"C{i}")
    ax.set_xticks([0, 1], ["float32", "float16 + master + scaler"])
    ax.set_ylabel("test accuracy")

    run.claim(
        "float16 training with a float32 master copy and loss scaling reaches float32's "
        "mean test accuracy within 1 percentage point",
        abs(gap) <= 0.01,
        f"float32 minus mixed: {gap:+.4f}",
        quick=False,
    )
    run.claim(
        "float16 activations take exactly half the bytes of float32 ones",
        2 * act16 == act32,
        f"{act16} against {act32} bytes",
    )
    run.claim(
        "The dynamic scale overflows now and then, but fewer than 5% of steps are skipped",
        0 < skipped_share < 0.05,
        f"{int(np.sum(results['skipped']))} of {steps * n_seeds} steps skipped",
        quick=False,
    )
    run.claim(
        "Without the float32 master copy at least 10% of the weight changes would round "
        "away in float16",
        lost_share >= 0.10,
        f"{lost_share:.1%} of the master weights' changes vanish in float16",
        quick=False,
    )
    run.answer(
        f"Training in float16 with float32 master weights and a dynamic loss scale reached "
        f"{np.mean(results['mixed']):.1%} test accuracy against {np.mean(results['float32']):.1%} "
        f"in float32 ({n_seeds} seeds); the scaler skipped {int(np.sum(results['skipped']))} "
        f"of {steps * n_seeds} steps on overflow. Activations took {act16} bytes instead of "
        f"{act32}, but with the master copy the weight state grew from {state32} to "
        f"{state_mixed} bytes, and {lost_share:.1%} of the master weights' changes would have "
        "vanished had the weights been updated in float16."
    )


# -- activation checkpointing ----------------------------------------------------------


def deep_mlp(depth: int, width: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(16, width)]
    for _ in range(depth - 1):
        layers += [nn.Tanh(), nn.Linear(width, width)]
    return nn.Sequential(*layers)


def forward_backward(model: nn.Sequential, x: nnlab.Tensor, segments: int) -> None:
    out = model(x) if segments == 1 else checkpoint_sequential(model, segments, x)
    out.pow(2).mean().backward()


def measure(model: nn.Sequential, x: nnlab.Tensor, segments: int) -> tuple[int, list, int]:
    """Peak traced bytes of one forward and backward, the gradients, and the number of
    layer evaluations (counted by forward hooks)."""
    calls = []
    removers = [m.register_forward_hook(lambda *_: calls.append(1)) for m in model]
    model.zero_grad()
    tracemalloc.start()
    try:
        forward_backward(model, x, segments)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        for remove in removers:
            remove()
    return peak, [p.grad.numpy().copy() for p in model.parameters()], len(calls)


def seconds(model: nn.Sequential, x: nnlab.Tensor, segments: int, repeats: int) -> float:
    """Median wall time of a forward and backward pass."""
    times = []
    for _ in range(repeats):
        model.zero_grad()
        start = time.perf_counter()
        forward_backward(model, x, segments)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


@experiment(
    "activation-checkpointing",
    answers=["training-efficiency"],
    quick=dict(depths=(4, 8, 16), width=64, batch=256, repeats=3),
    full=dict(depths=(4, 8, 16, 32, 64), width=128, batch=512, repeats=15),
)
def activation_checkpointing(
    run: Run, depths: tuple[int, ...], width: int, batch: int, repeats: int
) -> None:
    """How much memory does recomputing activations in backward save, and at what cost?"""
    x = nnlab.tensor(run.rng(1).standard_normal((batch, 16)), dtype=nnlab.float32)
    rows, plain_peaks, ckpt_peaks, identical = [], [], [], True
    for depth in depths:
        nnlab.manual_seed(run.seed)
        model = deep_mlp(depth, width)
        segments = max(2, round(np.sqrt(depth)))
        plain_peak, plain_grads, plain_calls = measure(model, x, 1)
        ckpt_peak, ckpt_grads, ckpt_calls = measure(model, x, segments)
        identical &= all(np.array_equal(a, b) for a, b in zip(plain_grads, ckpt_grads, strict=True))
        time_ratio = seconds(model, x, segments, repeats) / seconds(model, x, 1, repeats)
        plain_peaks.append(plain_peak)
        ckpt_peaks.append(ckpt_peak)
        run.number(f"depth{depth}_memory_ratio", round(ckpt_peak / plain_peak, 4))
        run.number(f"depth{depth}_time_ratio", round(time_ratio, 3))
        rows.append(
            (
                depth,
                segments,
                plain_peak,
                ckpt_peak,
                round(ckpt_peak / plain_peak, 3),
                ckpt_calls - plain_calls,
                len(model),
                round(time_ratio, 2),
            )
        )
    run.table(
        f"Peak traced memory of one forward+backward (width {width}, batch {batch})",
        (
            "linear layers",
            "segments",
            "plain bytes",
            "checkpointed bytes",
            "ratio",
            "extra layer calls",
            "layers",
            "time ratio",
        ),
        rows,
    )

    fig = run.figure("memory", "Peak memory of forward and backward against depth")
    ax = fig.subplots()
    ax.plot(depths, np.array(plain_peaks) / 2**20, "o-", label="plain")
    ax.plot(depths, np.array(ckpt_peaks) / 2**20, "o-", label="checkpointed (√L segments)")
    ax.set_xlabel("linear layers")
    ax.set_ylabel("peak traced MiB")
    ax.legend()

    deepest = ckpt_peaks[-1] / plain_peaks[-1]
    plain_growth = plain_peaks[-1] / plain_peaks[0]
    ckpt_growth = ckpt_peaks[-1] / ckpt_peaks[0]
    extra_share = [r[5] / r[6] for r in rows]
    run.claim(
        "Checkpointing leaves every gradient bit for bit unchanged",
        identical,
        f"identical at all depths: {identical}",
    )
    run.claim(
        "At the largest depth checkpointing at least halves the peak memory",
        deepest <= 0.5,
        f"checkpointed/plain peak {deepest:.3f} at {depths[-1]} layers",
        quick=False,
    )
    run.claim(
        "Plain peak memory grows faster with depth than the checkpointed one",
        plain_growth > ckpt_growth,
        f"growth from {depths[0]} to {depths[-1]} layers: plain ×{plain_growth:.2f}, "
        f"checkpointed ×{ckpt_growth:.2f}",
    )
    run.claim(
        "The recomputation costs at most one extra forward, so a step takes at most 1.5x "
        "the plain time",
        max(r[7] for r in rows) <= 1.5,
        f"time ratios {[r[7] for r in rows]}",
        quick=False,
    )
    run.answer(
        f"Recomputing activations in √L segments cut the peak memory of a {depths[-1]}-layer "
        f"MLP's forward and backward to {deepest:.1%} of the plain run's "
        f"({ckpt_peaks[-1]} against {plain_peaks[-1]} bytes) with identical gradients; "
        f"from {depths[0]} to {depths[-1]} layers the plain peak grew ×{plain_growth:.1f} "
        f"and the checkpointed one ×{ckpt_growth:.1f}. The price is re-evaluating "
        f"{min(extra_share):.0%} to {max(extra_share):.0%} of the layers in backward, "
        f"measured as {min(r[7] for r in rows):.2f}x to {max(r[7] for r in rows):.2f}x the "
        "plain step time."
    )
