"""Scatter and gather along an edge list: the two primitives of message passing on graphs.

A graph with N nodes and E edges stores its edges as an index array. Message passing
reads node features at the edges' ends (a *gather*, ``src.index_select(dim, index)``:
E rows from N) and sums the messages back into the nodes they point to (a *scatter*:
N rows from E, ``out[index[e]] += src[e]``). The two are each other's adjoints,

    y = gather(x, index)       ⇒  dx = scatter_sum(dy, index, N)
    y = scatter_sum(x, index)  ⇒  dx = gather(dy, index)

so each backward calls the other op, and higher-order gradients come for free.

The sum is one ``np.bincount`` over the flattened (row, column) keys: a single pass in C,
unlike ``np.add.at``, which is an order of magnitude slower on E × F messages. It
accumulates in float64 and rounds once at the end, so float32 results are at least as
accurate as a sequential float32 sum.

The max (and min) of a segment is found with ``np.maximum.reduceat`` over the entries
sorted by index. Its derivative is 1 at the entry that attains the maximum and 0
elsewhere; when several entries tie, the gradient is shared equally among them, as in
``torch.scatter_reduce(reduce="amax")``. An empty segment (a node that receives no
message) reduces to 0 for every reduction, as in PyTorch Geometric.

The segment softmax normalises scores over the entries that share an index (the edges
entering one node, for graph attention):

    y_e = exp(s_e - m_i) / (Σ_{e': index[e'] = i} exp(s_e' - m_i) + 1e-16),  i = index[e]

with m_i the segment's maximum (subtracted for stability; it cancels exactly). Its
derivative, as for the ordinary softmax, is  ds_e = y_e (g_e - Σ_{e' in i} g_e' y_e').
The 1e-16, taken from PyTorch Geometric, keeps an all-underflowing segment finite.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.autograd.function import Function
from nnlab.tensor import Tensor

__all__ = ["index_gather", "scatter", "scatter_softmax", "segment_index"]

_REDUCTIONS = ("sum", "add", "mean", "max", "min")


# -- NumPy kernels -----------------------------------------------------------------------


def _rows(x: np.ndarray, dim: int) -> np.ndarray:
    """``x`` with axis ``dim`` first and the others flattened: shape (x.shape[dim], rest)."""
    moved = np.moveaxis(x, dim, 0)
    return moved.reshape(moved.shape[0], -1)


def _unrows(rows: np.ndarray, like_shape: tuple[int, ...], dim: int, n: int) -> np.ndarray:
    """Undo :func:`_rows` for a result with ``n`` entries along ``dim``."""
    moved_shape = (n,) + like_shape[:dim] + like_shape[dim + 1 :]
    return np.moveaxis(rows.reshape(moved_shape), 0, dim)


def _sum_kernel(src: np.ndarray, index: np.ndarray, dim: int, n: int) -> np.ndarray:
    """out[i] = Σ_{e: index[e] = i} src[e] along ``dim``, as one bincount."""
    rows = _rows(src, dim)
    width = rows.shape[1]
    if rows.size == 0:
        out = np.zeros((n, width), dtype=src.dtype)
    else:
        keys = (index[:, None] * width + np.arange(width)).ravel()
        out = np.bincount(keys, weights=rows.ravel(), minlength=n * width)
        out = out.astype(src.dtype, copy=False).reshape(n, width)
    return _unrows(out, src.shape, dim, n)


def _gather_kernel(src: np.ndarray, index: np.ndarray, dim: int) -> np.ndarray:
    return np.take(src, index, axis=dim)


def _extreme_kernel(
    src: np.ndarray, index: np.ndarray, dim: int, n: int, ufunc: np.ufunc
) -> np.ndarray:
    """out[i] = max (or min) of src[e] over index[e] = i along ``dim``; 0 where empty."""
    rows = _rows(src, dim)
    out = np.zeros((n, rows.shape[1]), dtype=src.dtype)
    if len(index):
        order = np.argsort(index, kind="stable")
        ordered = index[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        out[ordered[starts]] = ufunc.reduceat(rows[order], starts, axis=0)
    return _unrows(out, src.shape, dim, n)


def _gather(x: Any, index: np.ndarray, dim: int) -> Any:
    """Gather on an array, or on a tensor (inside a ``create_graph`` backward)."""
    if isinstance(x, Tensor):
        return IndexGather.apply(x, index, dim, x.shape[dim])
    return _gather_kernel(x, index, dim)


def _scatter_sum(x: Any, index: np.ndarray, dim: int, n: int) -> Any:
    """Scatter-sum on an array, or on a tensor (inside a ``create_graph`` backward)."""
    if isinstance(x, Tensor):
        return ScatterSum.apply(x, index, dim, n)
    return _sum_kernel(x, index, dim, n)


# -- the ops -----------------------------------------------------------------------------


class ScatterSum(Function):
    """y[i] = Σ_{e: index[e] = i} x[e] along ``dim``;  dx[e] = g[index[e]] (a gather)."""

    @staticmethod
    def forward(ctx, x, index, dim, n):
        ctx.index, ctx.dim = index, dim
        return _sum_kernel(x, index, dim, n)

    @staticmethod
    def backward(ctx, g):
        return _gather(g, ctx.index, ctx.dim), None, None, None


class IndexGather(Function):
    """y[e] = x[index[e]] along ``dim`` (``x.index_select(dim, index)``);
    dx = scatter_sum(g, index): a row used k times collects k gradients."""

    @staticmethod
    def forward(ctx, x, index, dim, n):
        ctx.index, ctx.dim, ctx.n = index, dim, n
        return _gather_kernel(x, index, dim)

    @staticmethod
    def backward(ctx, g):
        return _scatter_sum(g, ctx.index, ctx.dim, ctx.n), None, None, None


class ScatterExtreme(Function):
    """y[i] = max (or min) of x[e] over index[e] = i along ``dim``, 0 for an empty segment;
    dx[e] = g[index[e]] / k where x[e] is one of the k entries attaining y[index[e]], else 0.

    The backward is linear in g with a constant mask, so its own derivative is exact
    (the second derivative of a maximum is zero almost everywhere)."""

    @staticmethod
    def forward(ctx, x, index, dim, n, ufunc):
        out = _extreme_kernel(x, index, dim, n, ufunc)
        hit = (x == _gather_kernel(out, index, dim)).astype(x.dtype)
        ties = _sum_kernel(hit, index, dim, n)
        ctx.index, ctx.dim = index, dim
        ctx.share = hit / np.maximum(_gather_kernel(ties, index, dim), 1)
        return out

    @staticmethod
    def backward(ctx, g):
        return _gather(g, ctx.index, ctx.dim) * ctx.share, None, None, None, None


class ScatterSoftmax(Function):
    """y_e = exp(s_e) / Σ_{e' with index[e'] = index[e]} exp(s_e') along ``dim``
    (stabilised, see the module docstring);  ds_e = y_e (g_e - Σ_{e' in segment} g_e' y_e')."""

    @staticmethod
    def forward(ctx, s, index, dim, n):
        top = _extreme_kernel(s, index, dim, n, np.maximum)
        e = np.exp(s - _gather_kernel(top, index, dim))
        total = _sum_kernel(e, index, dim, n) + 1e-16
        y = e / _gather_kernel(total, index, dim)
        ctx.index, ctx.dim, ctx.n = index, dim, n
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        gy = g * y
        segment = _scatter_sum(gy, ctx.index, ctx.dim, ctx.n)
        return gy - y * _gather(segment, ctx.index, ctx.dim), None, None, None


# -- checking arguments ------------------------------------------------------------------


def _as_tensor(op: str, name: str, x: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return Tensor(x)
    raise TypeError(f"{op}: {name} must be a floating tensor, got {type(x).__name__}")


def _dim(op: str, dim: int, ndim: int) -> int:
    if not -ndim <= dim < ndim:
        raise ValueError(
            f"{op}: dim must lie in [{-ndim}, {ndim - 1}] for src with {ndim} dims, got {dim}"
        )
    return dim % ndim


def _index(op: str, index: Any, length: int | None, dim_size: int | None) -> tuple[np.ndarray, int]:
    """A 1-D int64 index with values in [0, dim_size) and, unless ``length`` is None, one
    entry per slice of src along dim. Returns it and the output size (``dim_size``, or
    ``index.max() + 1`` when None)."""
    idx = np.asarray(index.array if isinstance(index, Tensor) else index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must hold integers (int64), got dtype {idx.dtype}")
    if idx.ndim != 1:
        raise ValueError(f"{op}: index must be one-dimensional, got shape {idx.shape}")
    if length is not None and len(idx) != length:
        raise ValueError(
            f"{op}: index has {len(idx)} entries but src has {length} along dim; "
            "give one index per slice of src"
        )
    idx = idx.astype(np.int64, copy=False)
    n = (int(idx.max()) + 1 if len(idx) else 0) if dim_size is None else int(dim_size)
    if len(idx) and (idx.min() < 0 or idx.max() >= n):
        bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
        raise IndexError(f"{op}: index {bad} is out of range for a size of {n} (dim_size)")
    return idx, n


# -- public functions --------------------------------------------------------------------


def scatter(
    src: Tensor, index: Any, dim: int = 0, dim_size: int | None = None, reduce: str = "sum"
) -> Tensor:
    """Reduce the slices of ``src`` along ``dim`` that share an index:
    ``out[i] = reduce_{e: index[e] = i} src[e]`` (``torch_geometric.utils.scatter``).

    Args:
        src: the values, e.g. messages of shape (E, F).
        index: one integer per slice of ``src`` along ``dim`` (shape (E,)), the output
            position it goes to.
        dim: the axis of ``src`` that ``index`` runs along. Default: 0.
        dim_size: the output's size along ``dim``. Default: ``index.max() + 1``.
        reduce: ``"sum"`` (or ``"add"``), ``"mean"``, ``"max"`` or ``"min"``; an output
            position that no index reaches is 0.

    Shape: src (..., E, ...) with E at ``dim``, index (E,) → (..., dim_size, ...).

    >>> import nnlab
    >>> from nnlab.ops.scatter import scatter
    >>> scatter(nnlab.tensor([1.0, 2.0, 4.0]), nnlab.tensor([0, 0, 2]), reduce="mean")
    tensor([1.5, 0. , 4. ])
    """
    op = "scatter"
    src = _as_tensor(op, "src", src)
    if src.ndim == 0:
        raise ValueError(f"{op}: src must have at least one dim, got a 0-d tensor")
    d = _dim(op, dim, src.ndim)
    idx, n = _index(op, index, src.shape[d], dim_size)
    if reduce in ("sum", "add"):
        return ScatterSum.apply(src, idx, d, n)
    if reduce == "mean":
        count = np.maximum(np.bincount(idx, minlength=n), 1).astype(src.dtype)
        shape = (n,) + (1,) * (src.ndim - d - 1)
        return ScatterSum.apply(src, idx, d, n) * (1 / count).reshape(shape)
    if reduce in ("max", "min"):
        ufunc = np.maximum if reduce == "max" else np.minimum
        return ScatterExtreme.apply(src, idx, d, n, ufunc)
    raise ValueError(f"{op}: reduce must be one of {', '.join(_REDUCTIONS)}; got {reduce!r}")


def index_gather(src: Tensor, index: Any, dim: int = 0) -> Tensor:
    """Pick slices of ``src`` along ``dim``: ``out[e] = src[index[e]]``, the adjoint of a
    scatter-sum (``src.index_select(dim, index)``, with a bincount backward).

    >>> import nnlab
    >>> from nnlab.ops.scatter import index_gather
    >>> index_gather(nnlab.tensor([10.0, 20.0, 30.0]), nnlab.tensor([2, 0, 2]))
    tensor([30., 10., 30.])
    """
    op = "index_gather"
    src = _as_tensor(op, "src", src)
    if src.ndim == 0:
        raise ValueError(f"{op}: src must have at least one dim, got a 0-d tensor")
    d = _dim(op, dim, src.ndim)
    idx, _ = _index(op, index, None, src.shape[d])
    return IndexGather.apply(src, idx, d, src.shape[d])


def segment_index(ptr: Any) -> np.ndarray:
    """The index array of a CSR pointer: ``ptr = [0, 2, 5]`` gives ``[0, 0, 1, 1, 1]``."""
    p = np.asarray(ptr.array if isinstance(ptr, Tensor) else ptr, dtype=np.int64)
    return np.repeat(np.arange(len(p) - 1), np.diff(p))


def scatter_softmax(
    src: Tensor,
    index: Any = None,
    ptr: Any = None,
    num_nodes: int | None = None,
    dim: int = 0,
) -> Tensor:
    """Softmax of ``src`` over each group of entries sharing an index along ``dim``
    (``torch_geometric.utils.softmax``): the attention weights of the edges entering a node.

    Args:
        src: scores, e.g. shape (E,) or (E, heads).
        index: the group of each entry along ``dim`` (shape (E,)), e.g. the target node.
        ptr: instead of ``index``, CSR boundaries of sorted groups.
        num_nodes: the number of groups. Default: ``index.max() + 1``.
        dim: the axis that ``index`` runs along. Default: 0.

    >>> import nnlab
    >>> from nnlab.ops.scatter import scatter_softmax
    >>> scatter_softmax(nnlab.tensor([1.0, 1.0, 3.0]), nnlab.tensor([0, 0, 1]))
    tensor([0.5, 0.5, 1. ])
    """
    op = "scatter_softmax"
    src = _as_tensor(op, "src", src)
    if index is None and ptr is None:
        raise ValueError(f"{op}: give index (the group of each entry) or ptr")
    if index is None:
        index = segment_index(ptr)
        num_nodes = len(np.asarray(ptr.array if isinstance(ptr, Tensor) else ptr)) - 1
    d = _dim(op, dim, max(src.ndim, 1))
    idx, n = _index(op, index, src.shape[d], num_nodes)
    return ScatterSoftmax.apply(src, idx, d, n)
