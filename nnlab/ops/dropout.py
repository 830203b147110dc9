"""Dropout: randomly zero activations during training to prevent co-adaptation.

Inverted dropout keeps each element with probability 1 - p and scales the kept ones
by 1/(1 - p), so the expected activation is unchanged and evaluation needs no
rescaling: y = x ⊙ m / (1 - p), m ~ Bernoulli(1 - p);  dy/dx = m / (1 - p).

Channel (feature) dropout — ``dropout1d/2d/3d`` — draws one mask value per sample and
channel of an (N, C, *S) input and zeroes whole feature maps: neighbouring pixels of a
map are strongly correlated, so dropping single pixels hardly regularises a
convolutional layer (Tompson et al., 2015).
"""

from __future__ import annotations

import warnings

import numpy as np

from nnlab.autograd.function import Function
from nnlab.kernels import dropout as kernels
from nnlab.random import Generator, _rng
from nnlab.tensor import Tensor

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "feature_dropout"]


class Dropout(Function):
    """y = x ⊙ mask, mask = Bernoulli(1 - p) / (1 - p);  dy/dx = mask."""

    @staticmethod
    def forward(ctx, x, p, rng):
        if p >= 1.0:
            ctx.mask = np.zeros(x.shape, dtype=x.dtype)
            return x * ctx.mask
        # the draws stay NumPy's (the same mask on either backend); the kernel (numba
        # backend) fuses mask and product, see nnlab.kernels.dropout for the reference
        y, ctx.mask = kernels.dropout(x, rng.random(x.shape, dtype=np.float32), p)
        return y

    @staticmethod
    def backward(ctx, g):
        return g * ctx.mask, None, None


def dropout(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    """Inverted dropout; the identity when ``training`` is False or ``p`` is 0. ``inplace``
    is accepted for PyTorch code; nnlab always returns a new tensor."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    return Dropout.apply(input, p, _rng(generator))


class FeatureDropout(Function):
    """y = x ⊙ mask with one mask value per (sample, channel), Bernoulli(1 - p) / (1 - p),
    broadcast over the spatial dims;  dy/dx = mask."""

    @staticmethod
    def forward(ctx, x, p, rng):
        shape = x.shape[:2] + (1,) * (x.ndim - 2)
        if p >= 1.0:
            ctx.mask = np.zeros(shape, dtype=x.dtype)
        else:
            keep = rng.random(shape, dtype=np.float32) >= p
            ctx.mask = keep * np.asarray(1.0 / (1.0 - p), dtype=x.dtype)
        return x * ctx.mask

    @staticmethod
    def backward(ctx, g):
        return g * ctx.mask, None, None


def _check_p(op: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")


def feature_dropout(
    x: Tensor, p: float = 0.5, training: bool = True, generator: Generator | None = None
) -> Tensor:
    """Zero whole channels: each x[n, c] is kept with probability 1 - p and scaled by
    1/(1 - p), or zeroed (``torch.feature_dropout``). The input is (N, C, *S)."""
    _check_p("feature_dropout", p)
    if not training or p == 0.0:
        return x
    if x.ndim < 2:
        raise RuntimeError(
            f"feature_dropout: expected an (N, C, *S) input with at least 2 dims, got shape "
            f"{tuple(x.shape)}"
        )
    return FeatureDropout.apply(x, p, _rng(generator))


def _unbatched(x: Tensor, p: float, training: bool, generator: Generator | None) -> Tensor:
    """Channel dropout of a (C, *S) input: its channels are the mask's rows."""
    return feature_dropout(x.unsqueeze(0), p, training, generator=generator).squeeze(0)


def dropout1d(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    """Zero whole channels of a sequence batch (``torch.nn.functional.dropout1d``).

    y[n, c, :] = x[n, c, :] · m[n, c] / (1 - p), m ~ Bernoulli(1 - p); the identity when
    not ``training``. The mask comes from the default generator (``nnlab.manual_seed``).

    Args:
        input: (N, C, L) or (C, L).
        p: probability of zeroing a channel (default: 0.5).
        training: apply dropout (default: True).

    Example:
        >>> import nnlab
        >>> y = dropout1d(nnlab.ones(4, 100, 3), p=0.5).numpy()
        >>> bool(((y == 0).all(-1) | (y == 2).all(-1)).all())  # whole channels
        True
    """
    _check_p("dropout1d", p)
    if input.ndim not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input "
            f"(shape {tuple(input.shape)}). Note that dropout1d exists to provide channel-wise "
            "dropout on inputs with 1 spatial dimension, a channel dimension, and an optional "
            "batch dimension (i.e. 2D or 3D inputs)."
        )
    if input.ndim == 2:
        return _unbatched(input, p, training, generator)
    return feature_dropout(input, p, training, generator)


def dropout2d(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    """Zero whole feature maps of an image batch (``torch.nn.functional.dropout2d``).

    y[n, c] = x[n, c] · m[n, c] / (1 - p), m ~ Bernoulli(1 - p); the identity when not
    ``training``. As torch, a 3-D input is read as (N, C, L) with a warning (use
    :func:`dropout1d`), and other ranks as (N, C, *) with a deprecation warning.

    Args:
        input: (N, C, H, W) or (N, C, L).
        p: probability of zeroing a channel (default: 0.5).
        training: apply dropout (default: True).

    Example:
        >>> import nnlab
        >>> _ = nnlab.manual_seed(0)
        >>> y = dropout2d(nnlab.ones(2, 3, 2, 2), p=0.5)
        >>> sorted(set(y.flatten().tolist()))
        [0.0, 2.0]
    """
    _check_p("dropout2d", p)
    if input.ndim not in (3, 4):
        warnings.warn(_deprecated("dropout2d", input.ndim, "2 spatial dimensions", "3D or 4D"),
                      stacklevel=2)  # fmt: skip
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. To maintain the 1D channel-wise dropout behavior, please switch "
            "to using dropout1d instead.",
            stacklevel=2,
        )
    return feature_dropout(input, p, training, generator)


def dropout3d(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    """Zero whole volumes of a 3-D feature batch (``torch.nn.functional.dropout3d``).

    y[n, c] = x[n, c] · m[n, c] / (1 - p), m ~ Bernoulli(1 - p); the identity when not
    ``training``. A 4-D input is one unbatched sample (C, D, H, W).

    Args:
        input: (N, C, D, H, W) or (C, D, H, W).
        p: probability of zeroing a channel (default: 0.5).
        training: apply dropout (default: True).

    Example:
        >>> import nnlab
        >>> dropout3d(nnlab.ones(2, 3, 2, 2, 2), p=0.25).shape
        nnlab.Size([2, 3, 2, 2, 2])
    """
    _check_p("dropout3d", p)
    if input.ndim not in (4, 5):
        warnings.warn(_deprecated("dropout3d", input.ndim, "3 spatial dimensions", "4D or 5D"),
                      stacklevel=2)  # fmt: skip
    if input.ndim == 4:
        return _unbatched(input, p, training, generator)
    return feature_dropout(input, p, training, generator)


def _deprecated(op: str, ndim: int, spatial: str, ranks: str) -> str:
    return (
        f"{op}: Received a {ndim}-D input to {op}, which is deprecated and will result in an "
        f"error in a future release. To retain the behavior and silence this warning, please "
        f"use dropout instead. Note that {op} exists to provide channel-wise dropout on "
        f"inputs with {spatial}, a channel dimension, and an optional batch dimension (i.e. "
        f"{ranks} inputs)."
    )
