"""Transformer benchmark case: one training step of a transformer encoder layer, nnlab vs
PyTorch (CPU), same weights and data in both.

Workload: ``TransformerEncoderLayer(d_model=128, nhead=4, dim_feedforward=512,
dropout=0.0, batch_first=True)`` (post-norm, ReLU) on a (32, 64, 128) batch, MSE loss
against a fixed target, Adam(lr=1e-3): zero_grad → forward → loss → backward → step.
``dim_feedforward`` is the usual 4·d_model rather than torch's default 2048, so the
attention is a real share of the work instead of being hidden behind the feed-forward
GEMMs.

``transformer_case()`` returns ``(nnlab_step, torch_step)`` after checking that the first
losses agree; ``benchmarks/bench_seq.py`` times it. Run this file alone for a quick
measurement: ``.venv/bin/python benchmarks/_seq_transformer.py``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _harness import training_steps  # noqa: E402

import nnlab  # noqa: E402

D_MODEL, NHEAD, DIM_FF, SEQ, BATCH = 128, 4, 512, 64, 32


def _layer(lib):
    return lib.nn.TransformerEncoderLayer(
        D_MODEL, NHEAD, dim_feedforward=DIM_FF, dropout=0.0, batch_first=True
    )


def transformer_case():
    """(nnlab_step, torch_step) for the encoder-layer training step described above."""
    torch.manual_seed(0)
    theirs = _layer(torch)
    ours = _layer(nnlab)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(1)
    x = rng.standard_normal((BATCH, SEQ, D_MODEL)).astype(np.float32)
    y = rng.standard_normal((BATCH, SEQ, D_MODEL)).astype(np.float32)
    return training_steps({nnlab: ours, torch: theirs}, x, y, "MSELoss", lr=1e-3)


def main() -> None:
    from _harness import measure, report

    torch.set_num_threads(2)
    ours, theirs = transformer_case()
    rows = []
    for _ in range(int(os.environ.get("RUNS", "3"))):
        rows.append(("transformer enc layer b32 L64 step", measure(ours, 30, 3),
                     measure(theirs, 30, 3), "≤ 1.5x"))  # fmt: skip
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    report(rows)


if __name__ == "__main__":
    main()
