"""Sequence-model benchmark: nnlab vs PyTorch (CPU, 2 threads) on the same weights and data.

Workloads (targets from the "Sequence models" issue):
  * an LSTM training step: 1 layer, input 32, hidden 128, 50 steps, batch 64   (≤ 2.0× torch)
  * the same with a GRU                                                          (≤ 2.0× torch)
  * a transformer encoder layer step: d_model 128, 4 heads, feed-forward 512, 64 tokens,
    batch 32 (``_seq_transformer.py``)                                          (≤ 1.5× torch)

Each step is zero_grad → forward → MSE loss on the output sequence → backward → Adam
step, written the same way in both libraries. The machine's 2 cores are shared, so each
case is measured in several rounds (``NNLAB_BENCH_ROUNDS``, default 5): the table shows the
round with the median ratio, and a summary lists every round's ratio of median step times
and the ratio of the best (minimum) step times over all rounds, which is the least
disturbed by other processes. Run: ``.venv/bin/python benchmarks/bench_seq.py``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _harness import Timing, fmt_time, measure_rounds, report, rounds_summary, training_steps  # noqa: E402
from _seq_transformer import transformer_case  # noqa: E402

import nnlab  # noqa: E402

torch.set_num_threads(2)

SEQ, BATCH, INPUT, HIDDEN = 50, 64, 32, 128


def recurrent_case(kind: str) -> tuple[Callable[[], object], Callable[[], object]]:
    """(nnlab_step, torch_step) for a one-layer ``kind`` ("LSTM" or "GRU") training step."""
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(INPUT, HIDDEN)
    ours = getattr(nnlab.nn, kind)(INPUT, HIDDEN)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(1)
    x = rng.standard_normal((SEQ, BATCH, INPUT)).astype(np.float32)
    y = rng.standard_normal((SEQ, BATCH, HIDDEN)).astype(np.float32)
    models = {nnlab: ours, torch: theirs}
    return training_steps(models, x, y, "MSELoss", first_output=True, lr=1e-3)


def lstm_case():
    return recurrent_case("LSTM")


def gru_case():
    return recurrent_case("GRU")


# The benchmark table: (name, builder returning (nnlab_step, torch_step), repeats, target).
CASES: list[tuple[str, Callable[[], tuple[Callable, Callable]], int, str]] = [
    ("LSTM 32→128 T50 b64 Adam step", lstm_case, 30, "≤ 2.0x"),
    ("GRU 32→128 T50 b64 Adam step", gru_case, 30, "≤ 2.0x"),
    ("Transformer enc. layer d128 h4 T64 b32", transformer_case, 20, "≤ 1.5x"),
]


def best_step(step: Callable[[], object], n: int = 10) -> float:
    """The fastest of ``n`` steps (after ≥0.15 s idle, as the harness)."""
    time.sleep(0.2)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        step()
        samples.append(time.perf_counter() - t0)
    return min(samples)


def main() -> None:
    rounds = int(os.environ.get("NNLAB_BENCH_ROUNDS", "5"))
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    rows: list[tuple[str, Timing, Timing, str]] = []
    summary = []
    for name, build, repeats, target in CASES:
        ours, theirs = build()
        a, b, pairs = measure_rounds(ours, theirs, rounds, repeats, 3)
        rows.append((name, a, b, target))
        best = [best_step(ours, 10 * rounds), best_step(theirs, 10 * rounds)]
        summary.append(
            f"{rounds_summary(name, pairs)}; best steps "
            f"{fmt_time(best[0]).strip()} / {fmt_time(best[1]).strip()} = {best[0] / best[1]:.2f}x"
        )
    report(rows)
    print()
    print("\n".join(summary))


if __name__ == "__main__":
    main()
