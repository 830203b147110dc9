"""Indexing and gathering: ``x[index]``, gather/scatter_add, index_select, one_hot.

Reading ``y = x[index]`` copies some elements of x into y; its backward writes the
gradient back into a zero tensor of x's shape at the same places. When an integer
index repeats an element, that element was used several times, so its gradients
must be *added* (``np.add.at``), not overwritten.

Indexing and "adding into zeros at an index" are each other's adjoints, and so are
gather and scatter_add: each backward calls the other op, which keeps higher-order
gradients working.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.autograd.function import Function
from nnlab.tensor import Tensor, _unwrap_index

__all__ = ["getitem", "gather", "scatter_add", "index_select", "one_hot"]


def _like(result: Tensor, g: Any) -> Any:
    """An op applied inside backward returns a Tensor; plain backward wants the array."""
    return result if isinstance(g, Tensor) else result.data


def _is_basic(index: Any) -> bool:
    """True when ``index`` selects each element at most once (no integer arrays)."""
    for p in index if isinstance(index, tuple) else (index,):
        if isinstance(p, np.ndarray) and p.dtype != np.bool_:
            return False
    return True


def _grid(index: np.ndarray, dim: int) -> tuple[Any, ...]:
    """Index tuple addressing ``x[i₀, …, index[i], …]`` for every position i of ``index``."""
    grids = list(np.ogrid[tuple(slice(n) for n in index.shape)])
    grids[dim] = index
    return tuple(grids)


class GetItem(Function):
    """y = x[index];  dx = zeros of x's shape with g added at ``index``."""

    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.index = x.shape, index
        try:
            return x[index]
        except IndexError as exc:
            raise IndexError(f"getitem: {exc} (tensor of shape {x.shape})") from None

    @staticmethod
    def backward(ctx, g):
        return _like(IndexAddToZeros.apply(g, ctx.shape, ctx.index), g), None


class IndexAddToZeros(Function):
    """y = zeros(shape) with x added at ``index`` (the adjoint of indexing);  dx = g[index]."""

    @staticmethod
    def forward(ctx, x, shape, index):
        ctx.index = index
        out = np.zeros(shape, dtype=x.dtype)
        if _is_basic(index):
            out[index] = x
        else:
            np.add.at(out, index, x)
        return out

    @staticmethod
    def backward(ctx, g):
        return g[ctx.index], None, None


class Gather(Function):
    """y[i][j] = x[index[i][j]][j] for dim 0 (``torch.gather``);
    dx = zeros with g added at the gathered places (a scatter_add)."""

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.shape, ctx.dim, ctx.index = x.shape, dim, index
        return x[_grid(index, dim)]

    @staticmethod
    def backward(ctx, g):
        zeros = np.zeros(ctx.shape, dtype=g.dtype)
        return _like(ScatterAdd.apply(zeros, ctx.dim, ctx.index, g), g), None, None


class ScatterAdd(Function):
    """y = x with src[i][j] added at y[index[i][j]][j] for dim 0 (``torch.scatter_add``);
    dx = g,  dsrc = g gathered at ``index``."""

    @staticmethod
    def forward(ctx, x, dim, index, src):
        ctx.dim, ctx.index = dim, index
        out = x.copy()
        np.add.at(out, _grid(index, dim), src)
        return out

    @staticmethod
    def backward(ctx, g):
        gsrc = _like(Gather.apply(g, ctx.dim, ctx.index), g) if ctx.needs_input_grad[3] else None
        return g, None, None, gsrc


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]`` with ints, slices, None, Ellipsis, integer and boolean arrays/tensors."""
    index = _unwrap_index(index)
    if isinstance(index, list):
        index = np.asarray(index)
    return GetItem.apply(x, index)


def _index_array(op: str, index: Any, x: Tensor, dim: int) -> tuple[np.ndarray, int]:
    idx = np.asarray(index.data if isinstance(index, Tensor) else index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor, got dtype {idx.dtype}")
    if idx.ndim != x.ndim:
        raise RuntimeError(
            f"{op}: index must have as many dims as the input ({x.ndim}), got shape {idx.shape}"
        )
    if not -x.ndim <= dim < x.ndim:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of shape {x.shape}")
    d = dim % x.ndim
    if idx.size and (idx.min() < -x.shape[d] or idx.max() >= x.shape[d]):
        raise IndexError(f"{op}: index out of range for dim {dim} of size {x.shape[d]}")
    return idx, d


def gather(x: Tensor, dim: int, index: Any) -> Tensor:
    """Pick values along ``dim`` at positions ``index`` (same number of dims as x)."""
    idx, d = _index_array("gather", index, x, dim)
    return Gather.apply(x, d, idx)


def scatter_add(x: Tensor, dim: int, index: Any, src: Any) -> Tensor:
    """Out-of-place scatter-add: a copy of x with ``src`` added at ``index`` along ``dim``."""
    idx, d = _index_array("scatter_add", index, x, dim)
    if np.shape(src) != idx.shape:
        raise RuntimeError(
            f"scatter_add: src must have the index's shape {idx.shape}, got {np.shape(src)}"
        )
    return ScatterAdd.apply(x, d, idx, src)


def index_select(x: Tensor, dim: int, index: Any) -> Tensor:
    """The entries of ``x`` at positions ``index`` (1-D) along ``dim``."""
    idx = np.asarray(index.data if isinstance(index, Tensor) else index)
    return GetItem.apply(x, (slice(None),) * (dim % x.ndim) + (idx,))


def one_hot(indices: Any, num_classes: int = -1) -> Tensor:
    """Integer class labels -> int64 one-hot vectors in a new last dim (``F.one_hot``)."""
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class labels, got dtype {idx.dtype}")
    if idx.size and idx.min() < 0:
        raise ValueError("one_hot: class labels must be non-negative")
    n = int(idx.max()) + 1 if num_classes < 0 else num_classes
    if idx.size and idx.max() >= n:
        raise ValueError(f"one_hot: label {int(idx.max())} is out of range for {n} classes")
    out = np.zeros(idx.shape + (n,), dtype=np.int64)
    np.put_along_axis(out, idx[..., None].astype(np.int64), 1, axis=-1)
    return Tensor._make(out, False, None, 0)
