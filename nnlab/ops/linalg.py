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

__all__ = ["matmul", "mm", "bmm"]


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


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy/PyTorch broadcasting rules (``a @ b``)."""
    return MatMul.apply(a, b)


def mm(a: Tensor, b: Tensor) -> Tensor:
    """Product of two matrices (2-D only)."""
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got shapes {a.shape} and {b.shape}")
    return MatMul.apply(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    """Batched product of matrices: (B, n, m) @ (B, m, p) -> (B, n, p)."""
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise RuntimeError(f"bmm: expected (B, n, m) and (B, m, p), got {a.shape} and {b.shape}")
    return MatMul.apply(a, b)
