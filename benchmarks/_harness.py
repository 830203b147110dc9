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
