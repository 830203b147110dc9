"""Pooling over 1, 2 or 3 spatial dims: max, average and max-unpooling (adaptive pooling
is in :mod:`nnlab.ops.adaptive_pooling`).

Convention (stated once, used by every op here): inputs are (N, C, *S) with ``len(S)``
spatial dims, or (C, *S) without a batch dim. A window of size k with stride s, padding
p (added on both sides) and dilation d gives, per spatial dim of length L, the output length

    L_out = ⌊(L + 2p - d·(k - 1) - 1) / s⌋ + 1        (⌈·⌉ with ``ceil_mode=True``; a
                                                       window that would start in the right
                                                       padding is then dropped, as torch)

Output position o reads the (padded) input at o·s + j·d for the kernel offsets j = 0..k-1.
Max and average pooling run through :mod:`nnlab.kernels.pooling`: a compiled loop over the
(sample, channel) planes under the numba backend, else the NumPy reference there (one NumPy
operation per kernel offset on strided views of the whole batch, never a Python loop over
pixels); both give the same bits:

- max pooling:  y = max_j x[o·s + j·d] (padding is -inf). The forward records each window's
  FIRST maximum in row-major order (its winner; torch's choice when a window has ties), and
  the backward routes g to it; windows that overlap add their gradients. A window holding a
  NaN gives NaN and passes no gradient.
- average pooling:  y = Σ_j x[o·s + j] / D with zero padding, D the window size (padding
  included, clipped to L + p), the number of real inputs (``count_include_pad=False``) or
  ``divisor_override``. Backward spreads g/D back over each window.
- ``return_indices`` gives torch's flat index into each channel's spatial block (for
  2-d: h·W + w of the unpadded input), which :func:`max_unpool2d` inverts.

The backwards write into NumPy scratch arrays (``double_backward = False``). The window
geometry and the argument checks shared by these ops are in :mod:`nnlab.ops.pooling_window`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnlab.autograd.function import Function
from nnlab.kernels import pooling as kernels
from nnlab.ops.pooling_window import (
    _batched,
    _dims,
    _fmt,
    _tuple,
    _unbatch,
    _Window,
    _window,
    pool_output_size,
)
from nnlab.tensor import Tensor

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "max_unpool1d", "max_unpool2d", "max_unpool3d", "pool_output_size",
]  # fmt: skip


# -- max pooling ---------------------------------------------------------------------------


class MaxPool(Function):
    """y[o] = max_j x[o·s + j·d] over the kernel offsets j (-inf padding).

    dx[i] = Σ_o g[o] over the windows o whose first maximum is input i (the forward records
    each window's winner; overlapping windows accumulate). ``sink``, a list or None, receives
    the winners for ``return_indices``.
    """

    double_backward = False

    @staticmethod
    def forward(ctx, x, win, sink):
        y, winner = kernels.max_pool(x, win, ctx.needs_input_grad[0] or sink is not None)
        if sink is not None:
            sink.append(winner)
        ctx.winner, ctx.win, ctx.shape = winner, win, x.shape
        return y

    @staticmethod
    def backward(ctx, g):
        return kernels.max_pool_backward(g, ctx.winner, ctx.win, ctx.shape), None, None


def _max_indices(winner: np.ndarray, win: _Window) -> np.ndarray:
    """torch's indices: the flat position, within each channel's unpadded spatial block,
    of each window's first maximum (its winner). A window without one (only padding,
    possible with dilation, or a NaN) gets its first position past the left padding."""
    strides = np.cumprod((1,) + win.size[:0:-1])[::-1]  # row-major strides of S
    offset = np.unravel_index(np.maximum(winner, 0), win.kernel)  # per dim, the winner's j
    idx = np.zeros(winner.shape, dtype=np.int64)
    for d, (o, s, p, dl, st) in enumerate(
        zip(win.out, win.stride, win.padding, win.dilation, strides)
    ):
        shape = [1] * len(win.out)
        shape[d] = o
        begin = (np.arange(o) * s - p).reshape(shape)
        skip = np.where(begin < 0, -(begin // dl) * dl, 0)  # whole dilation steps to >= 0
        pos = np.where(winner < 0, begin + skip, begin + offset[d] * dl)
        idx += pos * st
    return idx


def _max_pool(
    op: str, n: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
    dilation: Any, ceil_mode: bool, return_indices: bool,
) -> Any:  # fmt: skip
    x, batched = _batched(op, input, n)
    win = _window(op, x, n, kernel_size, stride, padding, dilation, ceil_mode)
    sink: list[Any] | None = [] if return_indices else None
    y = MaxPool.apply(x, win, sink)
    if sink is None:
        return _unbatch(y, batched)
    idx = Tensor._make(_max_indices(sink[0], win), False, None, 0)
    return _unbatch(y, batched), _unbatch(idx, batched)


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:  # fmt: skip
    """Max pooling over sequences (N, C, L) or (C, L) (``torch.nn.functional.max_pool1d``);
    formula, arguments and tie rule as :func:`max_pool2d`.

    Example:
        >>> import nnlab
        >>> x = nnlab.tensor([[[1.0, 5.0, 2.0, 4.0, 3.0]]])
        >>> max_pool1d(x, 2)
        tensor([[[5., 4.]]])
        >>> max_pool1d(x, 2, ceil_mode=True, return_indices=True)[1]
        tensor([[[1, 3, 4]]])
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)  # fmt: skip


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:  # fmt: skip
    """Max pooling over images (``torch.nn.functional.max_pool2d``).

    y[n, c, oh, ow] = max over i < kH, j < kW of x[n, c, oh·s - p + i·d, ow·s - p + j·d],
    with -inf padding; per dim L_out = ⌊(L + 2p - d(k - 1) - 1)/s⌋ + 1 (⌈·⌉ with
    ``ceil_mode``, dropping a last window that would start in the right padding). The
    gradient of each window goes to its first maximum in row-major order, as torch.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size: window size k, an int or (kH, kW).
        stride: step s between windows (default: ``kernel_size``).
        padding: -inf padding p on both sides, at most k // 2 (default: 0).
        dilation: spacing d between window elements (default: 1).
        ceil_mode: round the output size up (default: False).
        return_indices: also return the flat index h·W + w of each maximum within its
            channel, as torch, for :func:`max_unpool2d` (default: False).

    Example:
        >>> import nnlab
        >>> x = nnlab.arange(16.0).reshape(1, 1, 4, 4)
        >>> max_pool2d(x, 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
        >>> max_pool2d(x, 3, stride=1, padding=1, return_indices=True)[1][0, 0, 0]
        tensor([5, 6, 7, 7])
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)  # fmt: skip


def max_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:  # fmt: skip
    """Max pooling over volumes (N, C, D, H, W) or (C, D, H, W)
    (``torch.nn.functional.max_pool3d``); formula, arguments and tie rule as
    :func:`max_pool2d`, the index being d·H·W + h·W + w.

    Example:
        >>> import nnlab
        >>> max_pool3d(nnlab.arange(8.0).reshape(1, 1, 2, 2, 2), 2).flatten()
        tensor([7.])
    """
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)  # fmt: skip


# -- average pooling -----------------------------------------------------------------------


def _divisor(win: _Window, count_include_pad: bool, dtype: np.dtype) -> np.ndarray:
    """The number D each window sum is divided by, as an array of the output's spatial
    shape: the product over dims of each window's length (padding included but clipped to
    L + p), or of its number of real inputs."""
    divisor = np.ones((1,) * len(win.out), dtype=dtype)
    for d, (n, k, s, p, o) in enumerate(
        zip(win.size, win.kernel, win.stride, win.padding, win.out)
    ):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        shape = [1] * len(win.out)
        shape[d] = o
        divisor = divisor * (end - start).astype(dtype).reshape(shape)
    return divisor


class AvgPool(Function):
    """y[o] = Σ_j x[o·s + j] / D[o] (zero padding);  dx[i] = Σ_{o ∋ i} g[o] / D[o]."""

    double_backward = False

    @staticmethod
    def forward(ctx, x, win, divisor):
        ctx.win, ctx.divisor, ctx.shape = win, divisor, x.shape
        return kernels.avg_pool(x, win, divisor)

    @staticmethod
    def backward(ctx, g):
        return kernels.avg_pool_backward(g, ctx.win, ctx.divisor, ctx.shape), None, None


def _avg_pool(
    op: str, n: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
    ceil_mode: bool, count_include_pad: bool, divisor_override: int | None,
) -> Tensor:  # fmt: skip
    x, batched = _batched(op, input, n)
    win = _window(op, x, n, kernel_size, stride, padding, 1, ceil_mode)
    if n == 3 and any(size < k for size, k in zip(win.size, win.kernel)):
        # torch's 3-D average pooling alone requires this, padding or not
        raise RuntimeError(
            f"{op}: input image (T: {win.size[0]} H: {win.size[1]} W: {win.size[2]}) smaller "
            f"than kernel size (kT: {win.kernel[0]} kH: {win.kernel[1]} kW: {win.kernel[2]})"
        )
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError(f"{op}: divisor_override must be non-zero, got 0")
        divisor = np.asarray(divisor_override, dtype=x.dtype)
    else:
        divisor = _divisor(win, count_include_pad, x.dtype)
    return _unbatch(AvgPool.apply(x, win, divisor), batched)


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:  # fmt: skip
    """Average pooling over sequences (N, C, L) or (C, L) (``torch.nn.functional.avg_pool1d``);
    formula, divisor and arguments as :func:`avg_pool2d` (without ``divisor_override``).

    Example:
        >>> import nnlab
        >>> x = nnlab.tensor([[[1.0, 2.0, 3.0, 4.0]]])
        >>> avg_pool1d(x, 2)
        tensor([[[1.5, 3.5]]])
        >>> avg_pool1d(x, 2, padding=1), avg_pool1d(x, 2, padding=1, count_include_pad=False)
        (tensor([[[0.5, 2.5, 2. ]]]), tensor([[[1. , 2.5, 4. ]]]))
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)  # fmt: skip


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:  # fmt: skip
    """Average pooling over images (``torch.nn.functional.avg_pool2d``).

    y[n, c, oh, ow] = (1/D) Σ over i < kH, j < kW of x[n, c, oh·s - p + i, ow·s - p + j],
    with zero padding; per dim L_out = ⌊(L + 2p - k)/s⌋ + 1 (⌈·⌉ with ``ceil_mode``). The
    divisor D is the window's size, padding included but not the part past L + p that
    ``ceil_mode`` adds; its number of real inputs with ``count_include_pad=False``; or
    ``divisor_override``. The gradient spreads g/D evenly over each window.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size: window size k, an int or (kH, kW).
        stride: step s between windows (default: ``kernel_size``).
        padding: zero padding p on both sides, at most k // 2 (default: 0).
        ceil_mode: round the output size up (default: False).
        count_include_pad: count the zero padding in D (default: True).
        divisor_override: a fixed D instead (default: None).

    Example:
        >>> import nnlab
        >>> avg_pool2d(nnlab.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 2.5,  4.5],
                  [10.5, 12.5]]]])
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)  # fmt: skip


def avg_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:  # fmt: skip
    """Average pooling over volumes (N, C, D, H, W) or (C, D, H, W)
    (``torch.nn.functional.avg_pool3d``); formula, divisor and arguments as
    :func:`avg_pool2d`.

    Example:
        >>> import nnlab
        >>> avg_pool3d(nnlab.arange(8.0).reshape(1, 1, 2, 2, 2), 2).flatten()
        tensor([3.5])
    """
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)  # fmt: skip


# -- max unpooling -------------------------------------------------------------------------


class SpatialScatter(Function):
    """y = zeros of (N, C, *S_out) with y[n, c, index[n, c, i]] = x[n, c, i] (spatially
    flattened); dx = g read back at ``index`` (the adjoint of :class:`SpatialGather`)."""

    double_backward = False

    @staticmethod
    def forward(ctx, x, index, out_size):
        n, c = x.shape[:2]
        flat = index.reshape(n, c, -1)
        y = np.zeros((n, c, math.prod(out_size)), dtype=x.dtype)
        np.put_along_axis(y, flat, x.reshape(n, c, -1), axis=2)
        ctx.flat, ctx.x_shape = flat, x.shape
        return y.reshape((n, c) + tuple(out_size))

    @staticmethod
    def backward(ctx, g):
        n, c = ctx.x_shape[:2]
        dx = np.take_along_axis(g.reshape(n, c, -1), ctx.flat, axis=2)
        return dx.reshape(ctx.x_shape), None, None


def _max_unpool(
    op: str, n: int, input: Tensor, indices: Tensor, kernel_size: Any, stride: Any,
    padding: Any, output_size: Any,
) -> Tensor:  # fmt: skip
    kernel = _tuple(op, "kernel_size", kernel_size, n)
    stride = _tuple(op, "stride", kernel if stride is None else stride, n)
    padding = _tuple(op, "padding", padding, n)
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(
            f"{op}: expected a {n + 1}-D (C, {_dims(n)}) or {n + 2}-D (N, C, {_dims(n)}) "
            f"input, got a tensor with {input.ndim} dimensions, shape {tuple(input.shape)}"
        )
    index = indices.array if isinstance(indices, Tensor) else np.asarray(indices)
    if tuple(index.shape) != tuple(input.shape):
        raise RuntimeError(
            f"{op}: Expected shape of indices to be same as that of the input tensor "
            f"({tuple(input.shape)}) but got indices tensor with shape: {tuple(index.shape)}"
        )
    if index.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: indices must be an integer tensor, got {index.dtype}")
    size = input.shape[-n:]
    default = tuple((i - 1) * s - 2 * p + k for i, k, s, p in zip(size, kernel, stride, padding))
    if output_size is None:
        out = default
    else:
        out = tuple(int(v) for v in output_size)
        if len(out) == n + 2 or (len(out) == n + 1 and input.ndim == n + 1):
            out = out[-n:]
        if len(out) != n:
            raise ValueError(
                f"{op}: output_size should be a sequence containing {n} or {n + 2} elements, "
                f"but it has a length of '{len(out)}'"
            )
        for d, (o, base, s) in enumerate(zip(out, default, stride)):
            if not base - s < o < base + s:
                raise ValueError(
                    f'{op}: invalid output_size "{out}" (dim {d} must be between {base - s} '
                    f"and {base + s})"
                )
    block = math.prod(out)
    if index.size and (index.min() < 0 or index.max() >= block):
        bad = int(index.max() if index.max() >= block else index.min())
        raise RuntimeError(
            f"{op}: Found an invalid max index: {bad} (output volumes are of size {_fmt(out)})"
        )
    batched = input.ndim == n + 2
    x = input if batched else input.reshape((1,) + input.shape)
    y = SpatialScatter.apply(x, index.reshape(x.shape).astype(np.int64, copy=False), out)
    return _unbatch(y, batched)


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:  # fmt: skip
    """The partial inverse of :func:`max_pool1d` (``torch.nn.functional.max_unpool1d``):
    see :func:`max_unpool2d`.

    Example:
        >>> import nnlab
        >>> y, i = max_pool1d(nnlab.tensor([[[1.0, 5.0, 2.0, 4.0]]]), 2, return_indices=True)
        >>> max_unpool1d(y, i, 2)
        tensor([[[0., 5., 0., 4.]]])
    """
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding,
                       output_size)  # fmt: skip


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:  # fmt: skip
    """The partial inverse of :func:`max_pool2d` (``torch.nn.functional.max_unpool2d``).

    Puts each value back at the position ``indices`` says its maximum came from and zeros
    everywhere else: y[n, c, idx[n, c, i]] = x[n, c, i] (spatially flattened). The default
    output size is (H - 1)·s - 2p + k per dim; ``output_size`` picks another one within
    one stride of it (pooling several sizes gives the same output size).

    Args:
        input: (N, C, H, W) or (C, H, W), e.g. max-pooled values.
        indices: int tensor of the same shape, as returned by ``max_pool2d(...,
            return_indices=True)``.
        kernel_size, stride, padding: those of the max pooling (stride defaults to
            ``kernel_size``).
        output_size: (H_out, W_out), or the full (N, C, H_out, W_out) (default: None).

    Example:
        >>> import nnlab
        >>> x = nnlab.tensor([[[[1.0, 2.0], [4.0, 3.0]]]])
        >>> y, i = max_pool2d(x, 2, return_indices=True)
        >>> max_unpool2d(y, i, 2)
        tensor([[[[0., 0.],
                  [4., 0.]]]])
    """
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding,
                       output_size)  # fmt: skip


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:  # fmt: skip
    """The partial inverse of :func:`max_pool3d` (``torch.nn.functional.max_unpool3d``):
    see :func:`max_unpool2d`.

    Example:
        >>> import nnlab
        >>> y, i = max_pool3d(nnlab.arange(8.0).reshape(1, 1, 2, 2, 2), 2, return_indices=True)
        >>> max_unpool3d(y, i, 2).flatten()
        tensor([0., 0., 0., 0., 0., 0., 0., 7.])
    """
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding,
                       output_size)  # fmt: skip
