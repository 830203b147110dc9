"""Dropout: randomly zero activations during training to prevent co-adaptation.

Inverted dropout keeps each element with probability 1 - p and scales the kept ones
by 1/(1 - p), so the expected activation is unchanged and evaluation needs no
rescaling: y = x ⊙ m / (1 - p), m ~ Bernoulli(1 - p);  dy/dx = m / (1 - p).
"""

from __future__ import annotations

import numpy as np

from nnlab.autograd.function import Function
from nnlab.random import Generator, _rng
from nnlab.tensor import Tensor

__all__ = ["dropout"]


class Dropout(Function):
    """y = x ⊙ mask, mask = Bernoulli(1 - p) / (1 - p);  dy/dx = mask."""

    @staticmethod
    def forward(ctx, x, p, rng):
        if p >= 1.0:
            ctx.mask = np.zeros(x.shape, dtype=x.dtype)
        else:
            keep = rng.random(x.shape, dtype=np.float32) >= p
            ctx.mask = keep * np.asarray(1.0 / (1.0 - p), dtype=x.dtype)
        return x * ctx.mask

    @staticmethod
    def backward(ctx, g):
        return g * ctx.mask, None, None


def dropout(
    x: Tensor, p: float = 0.5, training: bool = True, generator: Generator | None = None
) -> Tensor:
    """Inverted dropout; the identity when ``training`` is False or ``p`` is 0."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    return Dropout.apply(x, p, _rng(generator))
