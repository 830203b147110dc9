"""Adaptive pooling: pool any input size down to a fixed output size.

Along a dim of length L pooled to L_out, output cell i covers the inputs
[⌊i·L/L_out⌋, ⌈(i+1)·L/L_out⌉), torch's windows: nearly equal, covering the input, and
overlapping when L_out does not divide L. Inputs are (N, C, *S) or unbatched (C, *S).

Both kinds are separable, which avoids any loop over pixels:

- adaptive averaging is one product per spatial dim with a 0/1 window matrix A (L_out × L),
  then a division by the window sizes: y = (A_1 ⊗ … ⊗ A_n) x / count; its backward applies
  the transposed matrices to g / count;
- adaptive max reduces the last dim first and then the earlier ones, looping only over the
  offsets within a window; this keeps torch's choice on ties, the first maximum in
  row-major order. The values are then gathered at the flat indices, and the backward
  adds g into those positions (a bincount: overlapping windows may pick the same input).

``global_avg_pool`` (an nnlab extra) is the mean over every spatial position.
The backwards run on NumPy arrays only (``double_backward = False``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnlab.autograd.function import Function
from nnlab.ops.pooling import _batched, _unbatch
from nnlab.tensor import Tensor

__all__ = [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", "global_avg_pool",
]  # fmt: skip


def _adaptive_bounds(length: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """torch's windows: [⌊i·L/out⌋, ⌈(i+1)·L/out⌉) for i = 0..out-1."""
    i = np.arange(out)
    return (i * length) // out, -((-(i + 1) * length) // out)


def _adaptive_size(op: str, x: Tensor, n: int, output_size: Any) -> tuple[int, ...]:
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        sizes = (output_size,) * n
    else:
        sizes = tuple(output_size)
        if len(sizes) != n:
            raise RuntimeError(f"{op}: output_size must be {n} values, got {output_size}")
    sizes = tuple(int(x.shape[-n + d]) if s is None else int(s) for d, s in enumerate(sizes))
    if min(sizes) < 0:
        raise RuntimeError(f"{op}: output_size must be non-negative, got {output_size}")
    return sizes


def _apply_axis(a: np.ndarray, matrix: np.ndarray, axis: int) -> np.ndarray:
    """Multiply dim ``axis`` of ``a`` by ``matrix`` (out × in): a GEMM over all other dims.
    A column of ones (the backward of global pooling) is a broadcast."""
    if matrix.shape[1] == 1 and matrix.all():
        return np.broadcast_to(a, a.shape[:axis] + (matrix.shape[0],) + a.shape[axis + 1 :])
    if axis == a.ndim - 1:
        return a @ matrix.T
    if axis == a.ndim - 2:
        return matrix @ a
    return np.moveaxis(matrix @ np.moveaxis(a, axis, -2), -2, axis)


class AdaptiveAvgPool(Function):
    """y = (A_1 ⊗ … ⊗ A_n) x / count: per spatial dim a 0/1 window matrix A (out × in),
    each window sum divided by its size.  dx = (A_1ᵀ ⊗ … ⊗ A_nᵀ)(g / count)."""

    double_backward = False

    @staticmethod
    def forward(ctx, x, out_size):
        n = len(out_size)
        mats, count = [], np.ones((1,) * n, dtype=x.dtype)
        for d, (length, out) in enumerate(zip(x.shape[2:], out_size)):
            start, end = _adaptive_bounds(length, out)
            pos = np.arange(length)
            mats.append(((pos >= start[:, None]) & (pos < end[:, None])).astype(x.dtype))
            shape = [1] * n
            shape[d] = out
            count = count * (end - start).astype(x.dtype).reshape(shape)
        y = x
        for d, matrix in enumerate(mats):
            y = _apply_axis(y, matrix, 2 + d)
        ctx.mats, ctx.count = mats, count
        return np.ascontiguousarray(y / count)

    @staticmethod
    def backward(ctx, g):
        dx = g / ctx.count
        for d, matrix in enumerate(ctx.mats):
            dx = _apply_axis(dx, matrix.T, 2 + d)
        return np.ascontiguousarray(dx), None


def _adaptive_avg_pool(op: str, n: int, input: Tensor, output_size: Any) -> Tensor:
    x, batched = _batched(op, input, n)
    return _unbatch(AdaptiveAvgPool.apply(x, _adaptive_size(op, x, n, output_size)), batched)


def _adaptive_argmax(x: np.ndarray, out_size: tuple[int, ...]) -> np.ndarray:
    """Flat spatial index of the row-major first maximum of every adaptive window.

    Max is separable: reduce the last dim first (first maximum of each row), then the
    earlier ones (first row holding the maximum), which is the row-major first overall.
    Each reduction loops over the offsets k within a window, taking index start + k
    clamped to the window's end, so only kernel offsets are looped over.
    """
    n = len(out_size)
    flat = np.arange(math.prod(x.shape[2:]), dtype=np.int64).reshape(x.shape[2:])
    values, index = x, np.broadcast_to(flat, x.shape)
    for d in reversed(range(n)):
        axis = 2 + d
        start, end = _adaptive_bounds(x.shape[axis], out_size[d])
        steps = int((end - start).max()) if out_size[d] else 1
        taps = np.minimum(start[:, None] + np.arange(steps), end[:, None] - 1)
        best = values.take(taps[:, 0], axis=axis)
        best_index = index.take(taps[:, 0], axis=axis)
        for k in range(1, steps):
            cand = values.take(taps[:, k], axis=axis)
            better = cand > best
            np.maximum(best, cand, out=best)
            best_index = np.where(better, index.take(taps[:, k], axis=axis), best_index)
        values, index = best, best_index
    return np.ascontiguousarray(index)


class SpatialGather(Function):
    """y[n, c, o] = x[n, c, index[n, c, o]] over the flattened spatial dims;
    dx = g summed into the picked positions (a bincount: windows may share an input)."""

    double_backward = False

    @staticmethod
    def forward(ctx, x, index):
        n, c = x.shape[:2]
        flat = index.reshape(n, c, -1)
        ctx.x_shape, ctx.flat = x.shape, flat
        y = np.take_along_axis(x.reshape(n, c, -1), flat, axis=2)
        return y.reshape(index.shape)

    @staticmethod
    def backward(ctx, g):
        n, c = ctx.x_shape[:2]
        block = math.prod(ctx.x_shape[2:])
        where = ctx.flat + (np.arange(n * c, dtype=np.int64) * block).reshape(n, c, 1)
        dx = np.bincount(where.ravel(), weights=g.ravel(), minlength=n * c * block)
        return dx.astype(g.dtype, copy=False).reshape(ctx.x_shape), None


def _adaptive_max_pool(
    op: str, n: int, input: Tensor, output_size: Any, return_indices: bool
) -> Any:
    x, batched = _batched(op, input, n)
    out_size = _adaptive_size(op, x, n, output_size)
    if 0 in x.shape[2:]:
        raise RuntimeError(f"{op}: input has an empty spatial dim, shape {tuple(x.shape)}")
    index = _adaptive_argmax(x.array, out_size)
    y = _unbatch(SpatialGather.apply(x, index), batched)
    if not return_indices:
        return y
    return y, _unbatch(Tensor._make(index, False, None, 0), batched)


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Adaptive average pooling to a fixed length (``torch.nn.functional.adaptive_avg_pool1d``).

    Output cell i averages the inputs [⌊i·L/L_out⌋, ⌈(i+1)·L/L_out⌉): windows of nearly
    equal size that cover the input, overlapping when L_out does not divide L.

    Args:
        input: (N, C, L) or (C, L).
        output_size: L_out.

    Example:
        >>> import nnlab
        >>> adaptive_avg_pool1d(nnlab.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]]), 2)
        tensor([[[2., 4.]]])
    """
    return _adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Adaptive average pooling to a fixed (H_out, W_out)
    (``torch.nn.functional.adaptive_avg_pool2d``).

    Per dim, output cell i averages inputs [⌊i·L/L_out⌋, ⌈(i+1)·L/L_out⌉); the 2-d window
    is the product of the two ranges.

    Args:
        input: (N, C, H, W) or (C, H, W).
        output_size: an int (square) or (H_out, W_out); None keeps that input size.

    Example:
        >>> import nnlab
        >>> adaptive_avg_pool2d(nnlab.arange(16.0).reshape(1, 1, 4, 4), 1).flatten()
        tensor([7.5])
    """
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input: Tensor, output_size: Any) -> Tensor:
    """Adaptive average pooling to a fixed (D_out, H_out, W_out)
    (``torch.nn.functional.adaptive_avg_pool3d``); windows as :func:`adaptive_avg_pool2d`.

    Example:
        >>> import nnlab
        >>> adaptive_avg_pool3d(nnlab.ones(1, 2, 3, 3, 3), (1, 2, None)).shape
        nnlab.Size([1, 2, 1, 2, 3])
    """
    return _adaptive_avg_pool("adaptive_avg_pool3d", 3, input, output_size)


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Adaptive max pooling to a fixed length (``torch.nn.functional.adaptive_max_pool1d``).

    Output cell i is the max of the inputs [⌊i·L/L_out⌋, ⌈(i+1)·L/L_out⌉); on ties the
    first maximum is picked (and gets the gradient), as torch.

    Example:
        >>> import nnlab
        >>> adaptive_max_pool1d(nnlab.tensor([[[1.0, 5.0, 2.0, 4.0, 3.0]]]), 2)
        tensor([[[5., 4.]]])
    """
    return _adaptive_max_pool("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Adaptive max pooling to a fixed (H_out, W_out)
    (``torch.nn.functional.adaptive_max_pool2d``).

    Per dim, output cell i covers inputs [⌊i·L/L_out⌋, ⌈(i+1)·L/L_out⌉); its value is the
    window's maximum, the first one in row-major order on ties (which gets the gradient).

    Args:
        input: (N, C, H, W) or (C, H, W).
        output_size: an int (square) or (H_out, W_out); None keeps that input size.
        return_indices: also return the flat index h·W + w of each maximum (default: False).

    Example:
        >>> import nnlab
        >>> y, idx = adaptive_max_pool2d(nnlab.arange(9.0).reshape(1, 1, 3, 3), 2, True)
        >>> y
        tensor([[[[4., 5.],
                  [7., 8.]]]])
        >>> idx
        tensor([[[[4, 5],
                  [7, 8]]]])
    """
    return _adaptive_max_pool("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Adaptive max pooling to a fixed (D_out, H_out, W_out)
    (``torch.nn.functional.adaptive_max_pool3d``); windows as :func:`adaptive_max_pool2d`.

    Example:
        >>> import nnlab
        >>> adaptive_max_pool3d(nnlab.arange(8.0).reshape(1, 1, 2, 2, 2), 1).flatten()
        tensor([7.])
    """
    return _adaptive_max_pool("adaptive_max_pool3d", 3, input, output_size, return_indices)


def global_avg_pool(input: Tensor, flatten: bool = True) -> Tensor:
    """Global average pooling (an nnlab extra): the mean of each channel over all its
    spatial positions, y[n, c] = mean_s x[n, c, s].

    The usual head of a convolutional classifier in place of flattening a feature map
    into a large Linear layer (Lin et al., 2014); the same as ``adaptive_avg_pool{k}d(x, 1)``.

    Args:
        input: (N, C, *S) with at least one spatial dim.
        flatten: return (N, C) (default: True); otherwise keep (N, C, 1, ..., 1).

    Example:
        >>> import nnlab
        >>> global_avg_pool(nnlab.arange(8.0).reshape(1, 2, 2, 2))
        tensor([[1.5, 5.5]])
    """
    if input.ndim < 3:
        raise RuntimeError(
            f"global_avg_pool: expected an (N, C, *spatial) input with at least one spatial "
            f"dim, got shape {tuple(input.shape)}"
        )
    return input.mean(dim=tuple(range(2, input.ndim)), keepdim=not flatten)
