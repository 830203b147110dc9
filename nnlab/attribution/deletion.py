"""Deletion curves (Petsiuk et al. 2018, "RISE"): a faithfulness test of an attribution.

Remove the features in the order the attribution ranks them, most important first, by
setting them to the baseline, and follow the target score as more are removed:

    curve[k] = f_t(x with its top-k attributed features := b)

A faithful map names the features the model actually uses, so its curve falls faster
than one for a random order; the area under the curve (lower is better) summarises it.
For a linear score and the attribution w_i (x_i − b_i) the curve is exactly
f_t(x) minus the running sum of the sorted attributions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.attribution.base import as_batch, baselines_like, evaluate_scores, target_indices

__all__ = ["deletion_curve"]


def deletion_curve(
    forward_func: Any, inputs: Any, attributions: Any, target: Any = None,
    baselines: Any = None, n_steps: int = 16,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The target score as the top-attributed features are replaced by the baseline.

    Args:
        forward_func: the model, or a function from a batch to (N, classes) or (N,) scores.
        inputs: the batch (N, ...).
        attributions: one map per input, shaped like ``inputs``; features are removed from
            the largest value down (pass ``abs(a)`` to rank by magnitude), ties in index
            order.
        target: the class whose score is followed (one index, or one per row).
        baselines: what a removed feature becomes: None (zeros), a number, one example or
            a batch.
        n_steps: points after the start; step k removes round(k·D/n_steps) of the D
            features (default: 16).

    Returns:
        (fractions, scores): the fraction of features removed (n_steps + 1,) and the
        scores (N, n_steps + 1), starting at f_t(x) and ending at f_t(b).

    Example:
        >>> import numpy as np, nnlab
        >>> from nnlab import nn
        >>> net = nn.Linear(4, 2)
        >>> x = np.ones((3, 4), np.float32)
        >>> fractions, scores = deletion_curve(net, x, x, target=0, n_steps=4)
        >>> fractions.tolist(), scores.shape
        ([0.0, 0.25, 0.5, 0.75, 1.0], (3, 5))
    """
    x = as_batch(inputs, "deletion_curve")
    a = np.asarray(getattr(attributions, "array", attributions), dtype=np.float64)
    if a.shape != x.shape:
        raise ValueError(
            f"deletion_curve: attributions of shape {a.shape} must be shaped like the inputs "
            f"{x.shape}"
        )
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"deletion_curve: n_steps must be an int ≥ 1, got {n_steps!r}")
    b = baselines_like(baselines, x, "deletion_curve")
    t = target_indices(target, len(x), "deletion_curve")
    n, d = len(x), x[0].size
    order = np.argsort(-a.reshape(n, d), axis=1, kind="stable")  # most important first
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(d)[None].repeat(n, 0), axis=1)
    counts = np.round(np.linspace(0, d, n_steps + 1)).astype(int)
    flat_x, flat_b = x.reshape(n, d), b.reshape(n, d)
    # All steps in one batch: row s·N + j is input j with its counts[s] top features removed.
    removed = rank[None] < counts[:, None, None]  # (steps + 1, N, D)
    batch = np.where(removed, flat_b[None], flat_x[None]).reshape((-1,) + x.shape[1:])
    scores = evaluate_scores(
        forward_func, batch, None if t is None else np.tile(t, n_steps + 1), "deletion_curve"
    )
    return counts / d, scores.reshape(n_steps + 1, n).T
