"""Softmax and log-softmax along one dimension, both numerically stable.

softmax(x)ᵢ = e^(xᵢ - m) / Σⱼ e^(xⱼ - m) with m = max x: subtracting m changes nothing
mathematically but keeps e^(·) ≤ 1, so large logits never overflow.

Both ops, forward and backward, run through :mod:`nnlab.kernels.softmax` (row kernels
under the numba backend along the last axis; the NumPy formulas, kept there as the
references, otherwise and under ``create_graph``).
"""

from __future__ import annotations

from nnlab.autograd.function import Function
from nnlab.kernels import softmax as kernels
from nnlab.tensor import Tensor

__all__ = ["softmax", "log_softmax"]


def _check_dim(op: str, x: Tensor, dim: int | None) -> int:
    if dim is None:
        raise TypeError(f"{op}: pass dim explicitly (e.g. dim=-1 for the last axis)")
    if not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of shape {x.shape}")
    return dim


class Softmax(Function):
    """y = softmax(x);  Jacobian-vector product dx = y ⊙ (g - Σ(g ⊙ y))."""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        y = kernels.softmax(x, dim)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return kernels.softmax_backward(g, y, ctx.dim), None


class LogSoftmax(Function):
    """y = x - logsumexp(x);  dx = g - softmax(x) Σ g, with softmax(x) = eʸ."""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        y = kernels.log_softmax(x, dim)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return kernels.log_softmax_backward(g, y, ctx.dim), None


def softmax(input: Tensor, dim: int | None = None) -> Tensor:
    return Softmax.apply(input, _check_dim("softmax", input, dim))


def log_softmax(input: Tensor, dim: int | None = None) -> Tensor:
    return LogSoftmax.apply(input, _check_dim("log_softmax", input, dim))
