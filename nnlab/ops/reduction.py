"""Reductions: sum, mean, prod, var/std, max/min, logsumexp, argmax/argmin, all/any, the
vector norm, and the running sum ``cumsum``.

A reduction's backward spreads the incoming gradient back over the reduced axes:
``sum`` copies it to every element, ``mean`` divides by the count, ``max`` sends it to
the maximal elements only. ``dim`` may be an int, a tuple or None (all axes); NumPy's
names ``axis``/``keepdims`` are accepted too, as PyTorch does. ``max(x, dim)`` and
``min(x, dim)`` return a named tuple ``(values, indices)``, as ``torch.return_types.max``.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple
from typing import Any

import numpy as np

from nnlab.autograd.function import Function
from nnlab.ops import elementwise
from nnlab.ops._broadcast import broadcast_to
from nnlab.ops.indexing import gather
from nnlab.tensor import Tensor

# This module defines sum/max/min/all/any, so Python's own are reached under other names.
_max = builtins.max

__all__ = [
    "sum", "mean", "prod", "var", "std", "max", "min", "amax", "amin", "logsumexp",
    "argmax", "argmin", "all", "any", "norm", "vector_norm", "cumsum", "MaxResult",
    "MinResult",
]  # fmt: skip

#: What ``max(x, dim)`` returns: unpacks as ``values, indices`` (``torch.return_types.max``).
MaxResult = namedtuple("max", ("values", "indices"))
#: What ``min(x, dim)`` returns (``torch.return_types.min``).
MinResult = namedtuple("min", ("values", "indices"))


def _axes(op: str, ndim: int, dim: Any) -> tuple[int, ...] | None:
    """Normalise ``dim`` to a sorted tuple of non-negative axes (None: all axes)."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = []
    for d in dims:
        if not -_max(ndim, 1) <= d < _max(ndim, 1):
            raise IndexError(
                f"{op}: dim {d} is out of range for a tensor with {ndim} dimensions "
                f"(expected to be in [{-_max(ndim, 1)}, {_max(ndim, 1) - 1}])"
            )
        out.append(d % ndim if ndim else 0)
    return tuple(sorted(set(out))) if ndim else None


def _keep_shape(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> tuple[int, ...]:
    """The reduced shape with size-1 dims kept, so a gradient can broadcast back."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _drop(y: np.ndarray, axes: tuple[int, ...] | None, keepdim: bool) -> np.ndarray:
    """Remove the size-1 reduced dims of a result computed with keepdims=True."""
    if keepdim:
        return y
    return y.reshape(()) if axes is None else np.squeeze(y, axis=axes)


def _dim_args(dim: Any, keepdim: bool, kw: dict[str, Any]) -> tuple[Any, bool]:
    if "axis" in kw:
        dim = kw.pop("axis")
    if "keepdims" in kw:
        keepdim = kw.pop("keepdims")
    if kw:
        raise TypeError(f"unexpected keyword arguments {sorted(kw)}")
    return dim, bool(keepdim)


class Sum(Function):
    """y = Σᵢ xᵢ over the axes;  dy/dxᵢ = 1, so the gradient is broadcast back."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.keep = x.shape, _keep_shape(x.shape, axes)
        return x.sum(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        return broadcast_to(g.reshape(ctx.keep), ctx.shape), None, None


class Mean(Function):
    """y = (1/n) Σᵢ xᵢ;  dy/dxᵢ = 1/n."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.keep = x.shape, _keep_shape(x.shape, axes)
        ctx.count = x.size // _max(int(np.prod(ctx.keep, dtype=np.int64)), 1) if x.size else 0
        return x.mean(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        return broadcast_to(g.reshape(ctx.keep) / ctx.count, ctx.shape), None, None


class Prod(Function):
    """y = Πᵢ xᵢ;  dy/dxᵢ = Π_{j≠i} xⱼ (computed without dividing, so zeros are fine)."""

    double_backward = False

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.save_for_backward(x)
        ctx.axes, ctx.keep = axes, _keep_shape(x.shape, axes)
        return x.prod(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        axes = ctx.axes if ctx.axes is not None else tuple(range(x.ndim))
        # Move the reduced axes to the end and flatten them: product of all others
        # = exclusive prefix product × exclusive suffix product.
        kept = [i for i in range(x.ndim) if i not in axes]
        moved = np.transpose(x, kept + list(axes))
        flat = moved.reshape(moved.shape[: len(kept)] + (-1,))
        ones = np.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
        before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        after = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        others = (before * after).reshape(moved.shape)
        others = np.transpose(others, np.argsort(kept + list(axes)))
        return g.reshape(ctx.keep) * others, None, None


class Var(Function):
    """y = Σᵢ (xᵢ - x̄)² / (n - correction);  dy/dxᵢ = 2(xᵢ - x̄) / (n - correction)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        ctx.save_for_backward(x)
        ctx.axes, ctx.keep = axes, _keep_shape(x.shape, axes)
        n = x.size // _max(int(np.prod(ctx.keep, dtype=np.int64)), 1) if x.size else 0
        # n ≤ correction: the variance is undefined, NaN like its gradient (as in torch)
        ctx.scale = 2 / (n - correction) if n > correction else np.nan
        return x.var(axis=axes, keepdims=keepdim, ddof=correction)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        centred = x - x.mean(axis=ctx.axes, keepdims=True)
        return g.reshape(ctx.keep) * centred * ctx.scale, None, None, None


class Std(Function):
    """y = √var(x);  dy/dxᵢ = (xᵢ - x̄) / ((n - correction)·y), taken as 0 where y = 0.

    Not composed as var(x).sqrt(): on a constant slice (y = 0) that gives 0·∞ = NaN,
    where torch defines the gradient as 0.
    """

    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        ctx.axes, ctx.keep = axes, _keep_shape(x.shape, axes)
        n = x.size // _max(int(np.prod(ctx.keep, dtype=np.int64)), 1) if x.size else 0
        ctx.scale = 1 / (n - correction) if n > correction else np.nan
        y = np.sqrt(x.var(axis=axes, keepdims=keepdim, ddof=correction))
        ctx.constant = np.reshape(y == 0, ctx.keep)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        centred = x - x.mean(axis=ctx.axes, keepdims=True)
        # 1/y where y > 0, 0 where y = 0; adding the mask keeps it a function of y
        inverse = ~ctx.constant / (y.reshape(ctx.keep) + ctx.constant)
        return g.reshape(ctx.keep) * centred * inverse * ctx.scale, None, None, None


class Amax(Function):
    """y = max of x over the axes;  the gradient is shared equally among tied maxima."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, minimum):
        ctx.keep = _keep_shape(x.shape, axes)
        y = (x.min if minimum else x.max)(axis=axes, keepdims=True)
        hits = x == y
        ctx.share = (hits / hits.sum(axis=axes, keepdims=True)).astype(x.dtype)
        return _drop(y, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.keep) * ctx.share, None, None, None


class LogSumExp(Function):
    """y = ln Σᵢ e^(xᵢ), computed as m + ln Σᵢ e^(xᵢ - m) with m = max x so it never
    overflows;  dy/dxᵢ = e^(xᵢ - y) = softmax(x)ᵢ."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.keep = _keep_shape(x.shape, axes)
        m = x.max(axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        y = _drop(np.log(np.exp(x - m).sum(axis=axes, keepdims=True)) + m, axes, keepdim)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g.reshape(ctx.keep) * np.exp(x - y.reshape(ctx.keep)), None, None


class VectorNorm(Function):
    """y = ‖x‖ₚ = (Σᵢ |xᵢ|ᵖ)^(1/p) over the axes; p = ∞: max |xᵢ|, p = -∞: min |xᵢ|,
    p = 0: the number of non-zero xᵢ.

    dy/dxᵢ = sign(xᵢ)·|xᵢ|^(p-1) / y^(p-1)  (p = 2: xᵢ / y;  p = 1: sign xᵢ);
    p = ±∞: sign(xᵢ) shared equally among the xᵢ with |xᵢ| = y;  p = 0: 0.
    As torch, the gradient is 0 where y = 0 (for p > 1) and where xᵢ = 0 (for p < 1),
    instead of the 0/0 of the formula.
    """

    @staticmethod
    def forward(ctx, x, p, axes, keepdim):
        ctx.p, ctx.keep = p, _keep_shape(x.shape, axes)
        a = np.abs(x)
        with np.errstate(divide="ignore"):
            if p == math.inf or p == -math.inf:
                y = (a.max if p > 0 else a.min)(axis=axes, keepdims=True)
                hits = a == y
                ctx.share = (np.sign(x) * hits / hits.sum(axis=axes, keepdims=True)).astype(x.dtype)
            elif p == 0:
                y = (x != 0).sum(axis=axes, keepdims=True).astype(x.dtype)
            elif p == 1:
                y = a.sum(axis=axes, keepdims=True)
            elif p == 2:
                y = np.sqrt((x * x).sum(axis=axes, keepdims=True))
            else:
                y = ((a**p).sum(axis=axes, keepdims=True)) ** (1 / p)
        ctx.sign = np.sign(x)
        if p > 1 and p != math.inf:
            # 0 where the norm is 0, and y + 1 there so nothing divides by 0
            ctx.y_zero = (y == 0).astype(x.dtype)
        elif p < 1 and p != 0 and p != -math.inf:
            ctx.x_zero = (x == 0).astype(x.dtype)
        y = _drop(y, axes, keepdim)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        p, g = ctx.p, g.reshape(ctx.keep)
        if p == math.inf or p == -math.inf:
            return g * ctx.share, None, None, None
        if p == 0:
            return g * np.zeros(x.shape, dtype=x.dtype), None, None, None
        if p == 1:
            return g * ctx.sign, None, None, None
        y = y.reshape(ctx.keep)
        if p == 2:
            return g * x / (y + ctx.y_zero) * (1 - ctx.y_zero), None, None, None
        if p > 1:
            scale = g / (y + ctx.y_zero) ** (p - 1) * (1 - ctx.y_zero)
            return ctx.sign * np.abs(x) ** (p - 1) * scale, None, None, None
        # p < 1: |x|^(p-1) is infinite at x = 0, where torch sets the gradient to 0
        powered = (np.abs(x) + ctx.x_zero) ** (p - 1) * (1 - ctx.x_zero)
        return ctx.sign * powered * g * y ** (1 - p), None, None, None


class CumSum(Function):
    """yᵢ = Σ_{j≤i} xⱼ along an axis;  dL/dxⱼ = Σ_{i≥j} gᵢ: the running sum of the gradient
    taken from the far end (reverse, cumsum, reverse)."""

    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        dtype = np.int64 if x.dtype.kind in "biu" else x.dtype
        if x.ndim == 0:
            return x.astype(dtype, copy=True)
        return np.cumsum(x, axis=axis, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        if g.ndim == 0:
            return g, None
        reverse = (slice(None),) * ctx.axis + (slice(None, None, -1),)
        flipped = g[reverse]
        summed = CumSum.apply(flipped, ctx.axis) if isinstance(g, Tensor) else None
        if summed is None:
            summed = np.cumsum(flipped, axis=ctx.axis)
        return summed[reverse], None


def sum(input: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
    dim, keepdim = _dim_args(dim, keepdim, kw)
    return Sum.apply(input, _axes("sum", input.ndim, dim), keepdim)


def _require_float(op: str, x: Tensor) -> None:
    """mean/var/std of integers have no dtype to return in torch: it refuses them."""
    if x.array.dtype.kind not in "fc":
        raise RuntimeError(
            f"{op}(): input dtype must be floating point, got {x.dtype}; convert first, "
            "e.g. x.float()"
        )


def mean(input: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
    dim, keepdim = _dim_args(dim, keepdim, kw)
    _require_float("mean", input)
    return Mean.apply(input, _axes("mean", input.ndim, dim), keepdim)


def prod(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    return Prod.apply(input, _axes("prod", input.ndim, dim), keepdim)


def _correction(unbiased: bool | None, correction: int | None) -> int:
    """PyTorch's two spellings: ``var(x, dim, unbiased, keepdim)`` and ``correction=``."""
    if unbiased is not None and correction is not None:
        raise TypeError("pass either unbiased or correction, not both")
    if unbiased is not None:
        return 1 if unbiased else 0
    return 1 if correction is None else int(correction)


def var(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: int | None = None, **kw: Any) -> Tensor:  # fmt: skip
    """Variance Σ(xᵢ - x̄)² / (n - correction), with Bessel's correction (``correction=1``)
    by default, as PyTorch. The third positional argument is ``unbiased``, as in torch."""
    dim, keepdim = _dim_args(dim, keepdim, kw)
    _require_float("var", input)
    correction = _correction(unbiased, correction)
    return Var.apply(input, _axes("var", input.ndim, dim), keepdim, correction)


def std(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: int | None = None, **kw: Any) -> Tensor:  # fmt: skip
    """Standard deviation √var, with Bessel's correction by default (as PyTorch); its
    gradient is 0 on a constant slice, as in PyTorch."""
    dim, keepdim = _dim_args(dim, keepdim, kw)
    _require_float("std", input)
    correction = _correction(unbiased, correction)
    return Std.apply(input, _axes("std", input.ndim, dim), keepdim, correction)


def amax(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    return Amax.apply(input, _axes("amax", input.ndim, dim), keepdim, False)


def amin(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    return Amax.apply(input, _axes("amin", input.ndim, dim), keepdim, True)


def _extreme(x: Tensor, dim: Any, keepdim: bool, minimum: bool) -> Any:
    """``max(x)``: the largest value. ``max(x, dim)``: a named tuple (values, indices) along
    ``dim``, the gradient flowing to the returned index. ``max(x, other)``: the elementwise
    ``maximum``, as ``torch.max``."""
    if dim is None:
        return Amax.apply(x, None, False, minimum)
    if isinstance(dim, Tensor):
        return (elementwise.minimum if minimum else elementwise.maximum)(x, dim)
    result = MinResult if minimum else MaxResult

    (axis,) = _axes("min" if minimum else "max", x.ndim, dim) or (0,)
    pick = np.argmin if minimum else np.argmax
    idx = np.expand_dims(pick(x.array, axis=axis), axis) if x.ndim else np.zeros((), np.int64)
    if x.ndim == 0:
        return result(x, Tensor._make(idx, False, None, 0))
    values = gather(x, axis, idx)
    if not keepdim:
        values = values.squeeze(axis)
        idx = np.squeeze(idx, axis)
    return result(values, Tensor._make(idx.astype(np.int64), False, None, 0))


def max(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    return _extreme(input, dim, keepdim, False)


def min(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    return _extreme(input, dim, keepdim, True)


def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    return LogSumExp.apply(input, _axes("logsumexp", input.ndim, dim), keepdim)


def _arg(op: str, x: Any, dim: Any, keepdim: bool, pick: Any) -> Tensor:
    data = x.array if isinstance(x, Tensor) else np.asarray(x)
    axes = _axes(op, data.ndim, dim)
    if dim is None or not data.ndim:
        out = np.asarray(pick(data))
        if keepdim:
            out = out.reshape((1,) * data.ndim)
    else:
        out = pick(data, axis=axes[0], keepdims=keepdim)
    return Tensor._make(np.asarray(out, dtype=np.int64), False, None, 0)


def argmax(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Index of the largest value (flattened when ``dim`` is None); the first one among
    ties, as torch documents. Not differentiable."""
    return _arg("argmax", input, dim, keepdim, np.argmax)


def argmin(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Index of the smallest value (the first among ties); not differentiable."""
    return _arg("argmin", input, dim, keepdim, np.argmin)


def _logical(op: str, x: Any, dim: Any, keepdim: bool, reduce: Any) -> Tensor:
    data = x.array if isinstance(x, Tensor) else np.asarray(x)
    axes = _axes(op, data.ndim, dim)
    return Tensor._make(np.asarray(reduce(data, axis=axes, keepdims=keepdim)), False, None, 0)


def all(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """True where every element (along ``dim``; everywhere when None) is non-zero. A
    boolean tensor, not differentiable."""
    return _logical("all", input, dim, keepdim, np.all)


def any(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """True where some element (along ``dim``; anywhere when None) is non-zero."""
    return _logical("any", input, dim, keepdim, np.any)


def vector_norm(input: Tensor, ord: float = 2, dim: Any = None, keepdim: bool = False) -> Tensor:
    """The p-norm ‖x‖ₚ = (Σ|xᵢ|ᵖ)^(1/p) over ``dim`` (all elements when None), as
    ``torch.linalg.vector_norm``; ``ord`` may be any number, ``inf`` (max |xᵢ|), ``-inf``
    (min |xᵢ|) or 0 (the count of non-zeros).

    Example:
        >>> import nnlab
        >>> nnlab.ops.vector_norm(nnlab.tensor([3.0, -4.0]))
        tensor(5.)
    """
    if isinstance(ord, str) or isinstance(ord, bool):
        raise TypeError(f"vector_norm: ord must be a number, got {ord!r}")
    if input.array.dtype.kind not in "fc":
        raise RuntimeError(
            f"linalg.vector_norm: expected a floating point tensor as input, got {input.dtype}; "
            "convert first, e.g. x.float()"
        )
    return VectorNorm.apply(input, float(ord), _axes("vector_norm", input.ndim, dim), bool(keepdim))


def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:
    """The norm of ``x`` over ``dim`` (all elements when None), as ``torch.norm``: ``p``
    is ``"fro"`` (the 2-norm of the elements), a number, ``inf`` or ``-inf``; see
    :func:`vector_norm`. The nuclear norm (``"nuc"``) is not implemented.

    Example:
        >>> import nnlab
        >>> nnlab.tensor([[3.0, 4.0], [0.0, 1.0]]).norm(dim=1)
        tensor([5., 1.])
    """
    if isinstance(p, str):
        if p != "fro":
            raise ValueError(f"norm: p={p!r} is not supported; use 'fro' or a number")
        if dim is not None and not isinstance(dim, (int, np.integer)) and len(dim) > 2:
            raise RuntimeError(f"norm: p='fro' takes at most 2 dims, got dim={dim}")
        p = 2
    return vector_norm(input, 2.0 if p is None else p, dim, keepdim)


def cumsum(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """Running sum along ``dim``: yᵢ = x₀ + … + xᵢ. Integer and boolean input gives int64,
    as torch; ``dtype`` converts the input first.

    Example:
        >>> import nnlab
        >>> nnlab.cumsum(nnlab.tensor([1.0, 2.0, 3.0]), dim=0)
        tensor([1., 3., 6.])
    """
    if dtype is not None:
        input = input.to(dtype)
    (axis,) = _axes("cumsum", input.ndim, dim) or (0,)
    return CumSum.apply(input, axis)
