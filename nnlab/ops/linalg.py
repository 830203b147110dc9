"""Matrix multiplication, the op that carries almost all of a network's arithmetic.

For ``Y = A @ B``:  dL/dA = dL/dY @ Bᵀ  and  dL/dB = Aᵀ @ dL/dY.
Leading (batch) dimensions broadcast as in ``np.matmul``; a 1-D operand is treated as a
row (left) or column (right) vector whose extra dimension is removed afterwards.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.autograd.function import Function
from nnlab.ops._broadcast import unbroadcast
from nnlab.tensor import Tensor

__all__ = ["matmul", "mm", "bmm", "tril", "triu"]


class MatMul(Function):
    """Y = A @ B;  dA = G @ Bᵀ,  dB = Aᵀ @ G (transposes are views: BLAS reads them as is)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        if a.ndim == 0 or b.ndim == 0:
            raise RuntimeError(
                f"matmul: both arguments need at least 1 dimension, got shapes "
                f"{a.shape} and {b.shape}"
            )
        try:
            return np.matmul(a, b)
        except ValueError:
            raise RuntimeError(
                f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied "
                f"(inner dimensions {a.shape[-1]} and {b.shape[-2] if b.ndim > 1 else b.shape[0]} "
                "must match; leading dimensions must broadcast)"
            ) from None

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        if a.ndim == 1 and b.ndim == 1:
            return (g * b if need_a else None), (g * a if need_b else None)
        a2 = a.reshape((1,) + a.shape) if a.ndim == 1 else a
        b2 = b.reshape(b.shape + (1,)) if b.ndim == 1 else b
        if a.ndim == 1:
            g = g.reshape(g.shape[:-1] + (1,) + g.shape[-1:])
        if b.ndim == 1:
            g = g.reshape(g.shape + (1,))
        ga = unbroadcast(g @ b2.mT, a2.shape).reshape(a.shape) if need_a else None
        gb = unbroadcast(a2.mT @ g, b2.shape).reshape(b.shape) if need_b else None
        return ga, gb


def matmul(input: Any, other: Any) -> Tensor:
    """Matrix product with NumPy/PyTorch broadcasting rules (``input @ other``)."""
    return MatMul.apply(input, other)


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Product of two matrices (2-D only)."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(
            f"mm: expected 2-D tensors, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}"
        )
    return MatMul.apply(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched product of matrices: (B, n, m) @ (B, m, p) -> (B, n, p)."""
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise RuntimeError(
            f"bmm: expected (B, n, m) and (B, m, p), got {tuple(input.shape)} and "
            f"{tuple(mat2.shape)}"
        )
    return MatMul.apply(input, mat2)


class TriangleMask(Function):
    """y = x · M with M the lower (``tril``) or upper (``triu``) triangle of ones on the
    last two dims, shifted by ``diagonal``;  dx = g · M."""

    @staticmethod
    def forward(ctx, x, upper, diagonal):
        rows, cols = x.shape[-2:]
        keep = (
            np.triu(np.ones((rows, cols), bool), diagonal)
            if upper
            else np.tril(np.ones((rows, cols), bool), diagonal)
        )
        ctx.keep = keep
        return np.where(keep, x, x.dtype.type(0))

    @staticmethod
    def backward(ctx, g):
        return g * ctx.keep, None, None


def _triangle(op: str, input: Tensor, upper: bool, diagonal: int) -> Tensor:
    if input.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions, got {input.ndim}")
    return TriangleMask.apply(input, upper, int(diagonal))


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (elements with j - i <= diagonal), zeros
    elsewhere."""
    return _triangle("tril", input, False, diagonal)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims (elements with j - i >= diagonal), zeros
    elsewhere."""
    return _triangle("triu", input, True, diagonal)
