"""What several experiments share: the standardised digits, and a plain training loop
that records the loss curve.

Results depend on this module too: the runner's source digest of an experiment covers
the experiment modules it imports, so a change here reruns them all.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

import nnlab
import nnlab.nn.functional as F
from nnlab import nn

__all__ = ["digits", "evaluate", "train_steps"]


def digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 digit images as standardised float32 rows of 64 pixels, and their labels."""
    data = load_digits()
    x = data.data
    std = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)  # corner pixels are always 0
    return x.astype(np.float32), data.target.astype(np.int64)


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Cross-entropy and accuracy of ``model`` on all of (x, y)."""
    with nnlab.no_grad():
        logits = model(nnlab.tensor(x))
        loss = F.cross_entropy(logits, nnlab.tensor(y)).item()
        accuracy = float((logits.argmax(1).numpy() == y).mean())
    return loss, accuracy


def train_steps(
    model: nn.Module,
    opt: nnlab.optim.Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    order: np.ndarray,
    log_every: int,
) -> list[float]:
    """One optimiser step on the cross-entropy per row of ``order`` (the mini-batch
    indices); the training loss on all of (x, y) before the first step and after every
    ``log_every`` steps."""
    xs, ys = nnlab.tensor(x), nnlab.tensor(y)
    curve = [evaluate(model, x, y)[0]]
    for step, rows in enumerate(order, start=1):
        idx = nnlab.tensor(rows)
        loss = F.cross_entropy(model(xs[idx]), ys[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % log_every == 0:
            curve.append(evaluate(model, x, y)[0])
    return curve
