"""``torch.linalg``: norms of vectors and matrices, built from the differentiable ops.

A vector norm is ‖x‖ₚ = (Σ|xᵢ|ᵖ)^(1/p). The matrix norms here are the ones that need no
singular values: Frobenius ‖A‖_F = √(Σ aᵢⱼ²), and the induced 1- and ∞-norms, the largest
absolute column sum and row sum (their ``-1``/``-inf`` twins take the smallest).
"""

from __future__ import annotations

import math
from typing import Any

from nnlab import ops
from nnlab.ops.reduction import vector_norm
from nnlab.tensor import Tensor

__all__ = ["norm", "vector_norm", "matrix_norm"]


def matrix_norm(
    A: Tensor, ord: Any = "fro", dim: tuple[int, int] = (-2, -1), keepdim: bool = False
) -> Tensor:
    """A matrix norm over the two dims ``dim`` (the last two by default): ``"fro"``,
    ``1``/``-1`` (max/min absolute column sum) or ``inf``/``-inf`` (max/min absolute row sum).

    Example:
        >>> import nnlab
        >>> A = nnlab.tensor([[1.0, -2.0], [3.0, 4.0]])
        >>> nnlab.linalg.matrix_norm(A), nnlab.linalg.matrix_norm(A, ord=1)
        (tensor(5.4772), tensor(6.))
    """
    if A.ndim < 2:
        raise RuntimeError(
            f"linalg.matrix_norm: the input must have at least 2 dimensions, got {A.ndim}"
        )
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple, got {dim!r}")
    rows, cols = (d % A.ndim for d in dim)
    if rows == cols:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different, got {dim!r}")
    if ord == "fro":
        return vector_norm(A, 2.0, (rows, cols), keepdim)
    if ord in ("nuc", 2, -2):
        raise NotImplementedError(
            f"linalg.matrix_norm: ord={ord!r} needs singular values, which nnlab does not "
            "compute yet; use 'fro', 1, -1, inf or -inf"
        )
    if ord not in (1, -1, math.inf, -math.inf):
        raise RuntimeError(f"linalg.matrix_norm: order {ord!r} not supported")
    # The induced 1-norm sums down columns (over rows), the ∞-norm along rows.
    summed, other = (rows, cols) if abs(ord) == 1 else (cols, rows)
    sums = ops.sum(ops.abs(A), summed, keepdim=True)
    pick = ops.amax if ord > 0 else ops.amin
    out = pick(sums, other, keepdim=True)
    return out if keepdim else ops.squeeze(out, (rows, cols))


def norm(A: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False) -> Tensor:
    """``torch.linalg.norm``: with ``ord`` and ``dim`` both None the 2-norm of all elements;
    an int ``dim`` (or a 1-D input) gives a vector norm; a 2-tuple ``dim`` (or a 2-D input
    with ``ord`` given) a matrix norm.

    Example:
        >>> import nnlab
        >>> nnlab.linalg.norm(nnlab.tensor([[3.0, 4.0], [0.0, 0.0]]))
        tensor(5.)
    """
    if isinstance(dim, int):
        dim = (dim,)
    if ord is None:
        if dim is not None and len(dim) == 2:
            return matrix_norm(A, "fro", tuple(dim), keepdim)
        return vector_norm(A, 2.0, dim, keepdim)
    if dim is None:
        if A.ndim == 1:
            return vector_norm(A, ord, None, keepdim)
        if A.ndim == 2:
            return matrix_norm(A, ord, (-2, -1), keepdim)
        raise RuntimeError(
            f"linalg.norm: with ord={ord!r} and no dim the input must be 1-D or 2-D, got {A.ndim}-D"
        )
    if len(dim) == 2:
        return matrix_norm(A, ord, tuple(dim), keepdim)
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.norm: ord={ord!r} is a matrix norm; it needs 2 dims")
    return vector_norm(A, ord, dim, keepdim)
