"""Engine benchmark: per-op overhead and a raw-op MLP step, nnlab vs PyTorch (CPU, 2 threads).

Run: ``.venv/bin/python benchmarks/bench_ops.py`` (or ``make bench``). Prints the median
time per step of each library, their ratio (nnlab / torch; below 1 means nnlab is
faster) and minor page faults per step. Targets from the issue: per-op overhead
≤ 1.0× torch, MLP 784-512-256-10 (batch 128) forward+backward ≤ 1.2× torch.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _harness import measure, report  # noqa: E402

import nnlab  # noqa: E402

torch.set_num_threads(2)


def overhead_case():
    """Smallest useful graph: y = sum(x * w); backward. Pure bookkeeping cost."""
    rng = np.random.default_rng(0)
    xv = rng.standard_normal(16).astype(np.float32)
    x = nnlab.tensor(xv)
    w = nnlab.tensor(xv, requires_grad=True)
    xt = torch.tensor(xv)
    wt = torch.tensor(xv, requires_grad=True)

    def ours():
        w.grad = None
        (x * w).sum().backward()

    def theirs():
        wt.grad = None
        (xt * wt).sum().backward()

    return ours, theirs


def mlp_case(batch: int = 128, sizes=(784, 512, 256, 10)):
    """784-512-256-10 ReLU MLP built from raw ops; loss = -mean(log_softmax · one_hot)."""
    rng = np.random.default_rng(0)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    xv = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    labels = rng.integers(0, sizes[-1], batch)
    onehot = np.eye(sizes[-1], dtype=np.float32)[labels]

    ps = [nnlab.tensor(p, requires_grad=True) for p in params]
    x, y = nnlab.tensor(xv), nnlab.tensor(onehot)
    pts = [torch.tensor(p, requires_grad=True) for p in params]
    xt, yt = torch.tensor(xv), torch.tensor(onehot)

    def forward(lib, h, weights, target):
        n = len(weights) // 2
        for i in range(n):
            h = h @ weights[2 * i].T + weights[2 * i + 1]
            if i < n - 1:
                h = lib.relu(h)
        return -(lib.log_softmax(h, -1) * target).sum(-1).mean()

    def ours():
        for p in ps:
            p.grad = None
        forward(nnlab, x, ps, y).backward()

    def theirs():
        for p in pts:
            p.grad = None
        forward(torch, xt, pts, yt).backward()

    # Same weights, same loss: check before timing.
    lo, lt = forward(nnlab, x, ps, y).item(), forward(torch, xt, pts, yt).item()
    assert abs(lo - lt) < 1e-4 * max(1.0, abs(lt)), (lo, lt)
    return ours, theirs


def main() -> None:
    rows = []
    ours, theirs = overhead_case()
    rows.append(
        (
            "per-op overhead (mul+sum+backward)",
            measure(ours, 2000, 50),
            measure(theirs, 2000, 50),
            "≤ 1.0x",
        )
    )
    ours, theirs = mlp_case()
    rows.append(
        ("MLP 784-512-256-10 b128 fwd+bwd", measure(ours, 60, 5), measure(theirs, 60, 5), "≤ 1.2x")
    )
    ours, theirs = mlp_case(batch=32, sizes=(64, 128, 10))
    rows.append(
        ("tiny MLP 64-128-10 b32 fwd+bwd", measure(ours, 500, 20), measure(theirs, 500, 20), "-")
    )
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    report(rows)


if __name__ == "__main__":
    main()
