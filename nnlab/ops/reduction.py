"""Reductions: sum, mean, prod, var/std, max/min, logsumexp, argmax/argmin.

A reduction's backward spreads the incoming gradient back over the reduced axes:
``sum`` copies it to every element, ``mean`` divides by the count, ``max`` sends it to
the maximal elements only. ``dim`` may be an int, a tuple or None (all axes); NumPy's
names ``axis``/``keepdims`` are accepted too, as PyTorch does.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from nnlab.autograd.function import Function
from nnlab.ops._broadcast import broadcast_to
from nnlab.tensor import Tensor

# This module defines sum/max/min, so Python's own are reached under other names.
_max = builtins.max

__all__ = [
    "sum", "mean", "prod", "var", "std", "max", "min", "amax", "amin", "logsumexp",
    "argmax", "argmin",
]  # fmt: skip


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
        ctx.denominator = _max(n - correction, 0)
        return x.var(axis=axes, keepdims=keepdim, ddof=correction)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        centred = x - x.mean(axis=ctx.axes, keepdims=True)
        return g.reshape(ctx.keep) * centred * (2 / ctx.denominator), None, None, None


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


def sum(x: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
    dim, keepdim = _dim_args(dim, keepdim, kw)
    return Sum.apply(x, _axes("sum", x.ndim, dim), keepdim)


def mean(x: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
    dim, keepdim = _dim_args(dim, keepdim, kw)
    return Mean.apply(x, _axes("mean", x.ndim, dim), keepdim)


def prod(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    return Prod.apply(x, _axes("prod", x.ndim, dim), keepdim)


def var(x: Tensor, dim: Any = None, keepdim: bool = False, *, correction: int = 1,
        unbiased: bool | None = None, **kw: Any) -> Tensor:  # fmt: skip
    """Variance with Bessel's correction by default (``correction=1``, as PyTorch)."""
    dim, keepdim = _dim_args(dim, keepdim, kw)
    if unbiased is not None:
        correction = 1 if unbiased else 0
    return Var.apply(x, _axes("var", x.ndim, dim), keepdim, correction)


def std(x: Tensor, dim: Any = None, keepdim: bool = False, *, correction: int = 1,
        unbiased: bool | None = None, **kw: Any) -> Tensor:  # fmt: skip
    """Standard deviation, √var (composed, so its gradient follows from both)."""
    return var(x, dim, keepdim, correction=correction, unbiased=unbiased, **kw).sqrt()


def amax(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    return Amax.apply(x, _axes("amax", x.ndim, dim), keepdim, False)


def amin(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    return Amax.apply(x, _axes("amin", x.ndim, dim), keepdim, True)


def _extreme(x: Tensor, dim: Any, keepdim: bool, minimum: bool) -> Any:
    """``max(x)``: the largest value. ``max(x, dim)``: (values, indices) along ``dim``, the
    gradient flowing to the returned index, as ``torch.max``."""
    if dim is None:
        return Amax.apply(x, None, False, minimum)
    from nnlab.ops.indexing import gather

    (axis,) = _axes("min" if minimum else "max", x.ndim, dim) or (0,)
    pick = np.argmin if minimum else np.argmax
    idx = np.expand_dims(pick(x.data, axis=axis), axis) if x.ndim else np.zeros((), np.int64)
    if x.ndim == 0:
        return x, Tensor._make(idx, False, None, 0)
    values = gather(x, axis, idx)
    if not keepdim:
        values = values.squeeze(axis)
        idx = np.squeeze(idx, axis)
    return values, Tensor._make(idx.astype(np.int64), False, None, 0)


def max(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    return _extreme(x, dim, keepdim, False)


def min(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    return _extreme(x, dim, keepdim, True)


def logsumexp(x: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    return LogSumExp.apply(x, _axes("logsumexp", x.ndim, dim), keepdim)


def _arg(x: Any, dim: Any, keepdim: bool, pick: Any) -> Tensor:
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    if dim is None:
        out = np.asarray(pick(data))
        if keepdim:
            out = out.reshape((1,) * data.ndim)
    else:
        out = pick(data, axis=dim, keepdims=keepdim)
    return Tensor._make(np.asarray(out, dtype=np.int64), False, None, 0)


def argmax(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Index of the largest value (flattened when ``dim`` is None); not differentiable."""
    return _arg(x, dim, keepdim, np.argmax)


def argmin(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    return _arg(x, dim, keepdim, np.argmin)
