"""Occlusion (Zeiler & Fergus 2014): hide a patch, see how much the score drops.

A window of shape ``sliding_window_shapes`` slides over the input with ``strides``; at
each position the covered features are replaced by the baseline and the drop of the
target score is credited to every covered feature:

    attribution_i = mean over the windows W ∋ i of [f_t(x) − f_t(x with W := b)]

It needs no gradient (a black-box method) and measures an actual change of the output,
at the price of one forward pass per window position. For a linear score f = w·x + c and
a 1-feature window it is exactly w_i (x_i − b_i). Features that no window covers (the
stride skips them) get 0.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from nnlab.attribution.base import (
    Attribution,
    Target,
    as_batch,
    baselines_like,
    evaluate_scores,
    target_indices,
)

__all__ = ["Occlusion"]


def _per_dim(value: Any, ndim: int, name: str, method: str) -> tuple[int, ...]:
    """``value`` (an int or one int per non-batch dim) as a tuple of ``ndim`` ints ≥ 1."""
    values = (value,) * ndim if isinstance(value, int) else tuple(value)
    if len(values) != ndim or not all(isinstance(v, int) and v >= 1 for v in values):
        raise ValueError(
            f"{method}: {name} must be {ndim} ints ≥ 1 (one per input dim after the batch), "
            f"got {value!r}"
        )
    return values


class Occlusion(Attribution):
    """Occlusion attribution (``captum.attr.Occlusion``).

    Args:
        forward_func: the model, or a function from a batch to (N, classes) or (N,) scores.

    Example:
        >>> import numpy as np, nnlab
        >>> from nnlab import nn
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
        >>> Occlusion(net).attribute(np.ones((2, 1, 4, 4), np.float32), target=0,
        ...                          sliding_window_shapes=(1, 2, 2), strides=(1, 2, 2)).shape
        (2, 1, 4, 4)
    """

    def attribute(
        self, inputs: Any, sliding_window_shapes: Any, strides: Any = 1, baselines: Any = None,
        target: Target = None, perturbations_per_eval: int = 1,
    ) -> np.ndarray:  # fmt: skip
        """Occlusion attributions shaped like ``inputs``.

        Args:
            inputs: the batch (N, ...).
            sliding_window_shapes: the window, one size per input dim after the batch,
                e.g. (1, 3, 3) for (C, H, W) images.
            strides: the window's step, an int or one per dim (default: 1).
            baselines: what a hidden feature becomes: None (zeros), a number, one example
                or a batch.
            target: the class explained (one index, or one per row).
            perturbations_per_eval: window positions evaluated in one forward pass
                (default: 1).
        """
        x = as_batch(inputs, self.name)
        b = baselines_like(baselines, x, self.name)
        t = target_indices(target, len(x), self.name)
        dims = x.ndim - 1
        window = _per_dim(sliding_window_shapes, dims, "sliding_window_shapes", self.name)
        stride = _per_dim(strides, dims, "strides", self.name)
        if any(w > s for w, s in zip(window, x.shape[1:])):
            raise ValueError(
                f"{self.name}: sliding_window_shapes {window} is larger than an input {x.shape[1:]}"
            )
        if not isinstance(perturbations_per_eval, int) or perturbations_per_eval < 1:
            raise ValueError(
                f"{self.name}: perturbations_per_eval must be an int ≥ 1, got "
                f"{perturbations_per_eval!r}"
            )
        starts = [range(0, size - w + 1, s) for size, w, s in zip(x.shape[1:], window, stride)]
        masks = []
        for corner in itertools.product(*starts):
            mask = np.zeros(x.shape[1:], dtype=bool)
            mask[tuple(slice(c, c + w) for c, w in zip(corner, window))] = True
            masks.append(mask)
        f_x = evaluate_scores(self.forward_func, x, t, self.name)
        total = np.zeros(x.shape, dtype=np.float64)
        for i in range(0, len(masks), perturbations_per_eval):
            group = np.stack(masks[i : i + perturbations_per_eval])  # (k, ...)
            hidden = np.where(group[:, None], b[None], x[None])  # (k, N, ...)
            scores = evaluate_scores(
                self.forward_func, hidden.reshape((-1,) + x.shape[1:]),
                None if t is None else np.tile(t, len(group)), self.name,
            ).reshape(len(group), len(x))  # fmt: skip
            drops = f_x[None] - scores  # (k, N)
            total += np.einsum("kn,k...->n...", drops, group.astype(np.float64))
        counts = np.sum(masks, axis=0)
        return np.where(counts > 0, total / np.maximum(counts, 1), 0.0).astype(x.dtype)
