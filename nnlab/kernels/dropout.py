"""Dropout's element loop: the mask from uniform draws, and the masked, rescaled input.

The uniform draws ``u`` stay the caller's (``rng.random(shape, dtype=np.float32)`` from
nnlab's generator), so a seeded run draws the same numbers whichever backend runs; the
kernel only replaces the three passes that turn them into the mask and the output::

    keep = u >= p                       (u float32; p compared as float32, NumPy's rule)
    mask = keep · 1/(1 - p)             (in the input's dtype)
    y    = x · mask

with one pass writing ``mask`` and ``y``; the same bits as the reference (the tests hold
them to that). The backward, ``g · mask``, is one NumPy multiply already.
"""

from __future__ import annotations

import numpy as np

from nnlab.kernels import use_kernel
from nnlab.kernels.runtime import Kernel

__all__ = ["dropout", "dropout_numba", "dropout_numpy"]


def dropout_numpy(x: np.ndarray, u: np.ndarray, p: float) -> tuple[np.ndarray, np.ndarray]:
    """(y, mask) for dropout with probability ``p`` < 1, from uniform draws ``u`` (float32,
    x's shape)."""
    keep = u >= p
    mask = keep * np.asarray(1.0 / (1.0 - p), dtype=x.dtype)
    return x * mask, mask


def _dropout(loop):
    def dropout(x, u, p, scale, y, mask):
        zero = x.dtype.type(0)
        for i in loop(x.size):
            m = scale if u[i] >= p else zero
            mask[i] = m
            y[i] = x[i] * m

    return dropout


#: :func:`dropout_numpy` in one pass.
dropout_numba = Kernel(_dropout)


def dropout(x: np.ndarray, u: np.ndarray, p: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`dropout_numpy`, by the kernel where it applies."""
    flat = use_kernel(x)
    if flat is None or u.dtype != np.float32 or u.shape != x.shape:
        return dropout_numpy(x, u, p)
    y, mask = np.empty_like(flat[0]), np.empty_like(flat[0])
    scale = np.asarray(1.0 / (1.0 - p), dtype=x.dtype)[()]
    # p compared as the reference's `u >= p` compares it: a Python float as float32, a
    # NumPy float64 (from a sweep, say) as float64 (NumPy 2's promotion rules)
    p_cmp = np.result_type(u, p).type(p)
    dropout_numba(x.size, flat[0], u.reshape(-1), p_cmp, scale, y, mask)
    return y.reshape(x.shape), mask.reshape(x.shape)
