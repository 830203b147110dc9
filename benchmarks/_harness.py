"""Shared timing for nnlab-vs-PyTorch benchmarks (one process, fair blocks).

Fairness rules measured on this kind of machine (PERFORMANCE.md): each library is
timed in its own block after ≥0.15 s idle, so OpenBLAS threads spinning after NumPy
work do not slow torch (or the reverse); torch runs with 2 threads; we report the
median step time and minor page faults per step for each library.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

IDLE_S = 0.2


@dataclass
class Timing:
    median_s: float
    faults_per_step: float


def measure(step: Callable[[], object], repeats: int, warmup: int = 3, inner: int = 1) -> Timing:
    """Median wall time of ``step`` (called ``inner`` times per sample) and page faults/step."""
    for _ in range(warmup):
        step()
    time.sleep(IDLE_S)
    samples = []
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            step()
        samples.append((time.perf_counter() - t0) / inner)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0
    return Timing(statistics.median(samples), faults / (repeats * inner))


def measure_rounds(
    ours: Callable[[], object],
    theirs: Callable[[], object],
    rounds: int,
    repeats: int,
    warmup: int = 3,
) -> tuple[Timing, Timing, list[tuple[Timing, Timing]]]:
    """Time both libraries in alternating blocks, ``rounds`` times (nnlab's block, then
    torch's): (nnlab, torch) of the round with the median ratio, and every round's pair.

    On a shared machine the speed drifts over seconds; pairing the blocks round by round
    keeps a slow spell from landing on one library only."""
    pairs = [
        (measure(ours, repeats, warmup), measure(theirs, repeats, warmup)) for _ in range(rounds)
    ]
    ratios = [a.median_s / b.median_s for a, b in pairs]
    k = ratios.index(statistics.median_low(ratios))
    return pairs[k][0], pairs[k][1], pairs


def rounds_summary(name: str, pairs: list[tuple[Timing, Timing]]) -> str:
    """One line: every round's nnlab/torch times and ratio, and the median ratio."""
    ratios = [a.median_s / b.median_s for a, b in pairs]
    runs = ", ".join(
        f"{fmt_time(a.median_s).strip()}/{fmt_time(b.median_s).strip()}={r:.2f}x"
        for (a, b), r in zip(pairs, ratios)
    )
    return f"{name}: median ratio {statistics.median(ratios):.2f}x ({runs})"


def training_steps(
    models: dict[Any, Any],
    x: Any,
    y: Any,
    loss: str,
    optimizer: str = "Adam",
    first_output: bool = False,
    **options: Any,
) -> tuple[Callable[[], object], Callable[[], object]]:
    """(nnlab_step, torch_step): zero_grad → forward → loss → backward → optimizer step,
    written the same way in both libraries. ``models`` maps each library module (nnlab,
    torch) to its model, holding identical weights; ``first_output`` keeps the first
    element of a tuple output (recurrent layers). The first losses are checked to agree."""
    steps = {}
    for lib, model in models.items():
        opt = getattr(lib.optim, optimizer)(model.parameters(), **options)
        loss_fn = getattr(lib.nn, loss)()
        xb, yb = lib.tensor(x), lib.tensor(y)

        def step(model=model, opt=opt, loss_fn=loss_fn, xb=xb, yb=yb):
            opt.zero_grad()
            out = model(xb)
            value = loss_fn(out[0] if first_output else out, yb)
            value.backward()
            opt.step()
            return value

        steps[lib.__name__] = step
    a, b = float(steps["nnlab"]().item()), float(steps["torch"]().item())
    assert abs(a - b) < 1e-4 * max(1.0, abs(b)), (a, b)
    return steps["nnlab"], steps["torch"]


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.1f} µs"
    return f"{seconds * 1e3:8.3f} ms"


def report(rows: list[tuple[str, Timing, Timing, str]]) -> None:
    """Print one line per workload: nnlab, torch, ratio (nnlab / torch), faults/step, target."""
    faults = "faults/step (nnlab, torch)"
    head = f"{'workload':<34} {'nnlab':>11} {'torch':>11} {'ratio':>7}  {faults:>27}  target"
    print(head)
    print("-" * len(head))
    for name, ours, theirs, target in rows:
        ratio = ours.median_s / theirs.median_s
        faults = f"{ours.faults_per_step:.1f}, {theirs.faults_per_step:.1f}"
        print(
            f"{name:<34} {fmt_time(ours.median_s):>11} {fmt_time(theirs.median_s):>11} "
            f"{ratio:6.2f}x  {faults:>27}  {target}"
        )
