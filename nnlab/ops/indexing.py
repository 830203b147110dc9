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
    return result if isinstance(g, Tensor) else result.array


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


def _is_int(p: Any) -> bool:
    if isinstance(p, (bool, np.bool_)):
        return False
    if isinstance(p, np.ndarray):
        return p.ndim == 0 and p.dtype.kind in "iu"
    return isinstance(p, (int, np.integer))


def _torch_order(index: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    """Split an index mixing integers and arrays into (integers, arrays), or None.

    NumPy counts an integer as one more advanced index, so when a slice separates it from
    an array the indexed dims move to the front: for x of shape (3, 4, 5), x[0, :, [1, 2]]
    has shape (2, 4) in NumPy. PyTorch applies integers first (and treats 0-d integer
    tensors as integers): shape (4, 2). Indexing twice, integers then arrays, gives that.
    """
    if not any(_is_int(p) for p in index):
        return None
    if not any(isinstance(p, np.ndarray) and p.ndim for p in index):
        return None
    first: list[Any] = []
    second: list[Any] = []
    for p in index:
        if _is_int(p):
            first.append(int(p))
        elif isinstance(p, np.ndarray):
            # a boolean mask spans as many dims as it has
            first.extend([slice(None)] * (p.ndim if p.dtype == np.bool_ else 1))
            second.append(p)
        else:
            first.append(p)
            second.append(p if p is Ellipsis else slice(None))
    return tuple(first), tuple(second)


def getitem(input: Tensor, index: Any) -> Tensor:
    """``x[index]`` with ints, slices, None, Ellipsis, integer and boolean arrays/tensors,
    with PyTorch's placement of the result's dims."""
    index = _unwrap_index(index)
    if isinstance(index, list):
        index = np.asarray(index)
    elif isinstance(index, tuple):
        kinds = set(map(type, index))  # cheap: most indices are ints and slices only
        if list in kinds:
            index = tuple(np.asarray(p) if isinstance(p, list) else p for p in index)
            kinds.add(np.ndarray)
        split = _torch_order(index) if np.ndarray in kinds else None
        if split is not None:
            return GetItem.apply(GetItem.apply(input, split[0]), split[1])
    return GetItem.apply(input, index)


def _index_array(op: str, index: Any, x: Tensor, dim: int) -> tuple[np.ndarray, int]:
    """Check a gather/scatter index as torch does: integer, as many dims as the input, no
    larger than it off ``dim``, values in [0, size) (torch rejects negative indices)."""
    idx = np.asarray(index.array if isinstance(index, Tensor) else index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor, got dtype {idx.dtype}")
    if idx.ndim != x.ndim:
        raise RuntimeError(
            f"{op}: index must have as many dims as the input of shape {x.shape}, got an "
            f"index of shape {idx.shape}"
        )
    if not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of shape {x.shape}")
    d = dim % x.ndim if x.ndim else 0
    if any(i != d and m > n for i, (m, n) in enumerate(zip(idx.shape, x.shape))):
        raise RuntimeError(
            f"{op}: index of shape {idx.shape} is larger than the input of shape {x.shape} "
            f"outside dim {dim}"
        )
    if idx.size and (idx.min() < 0 or idx.max() >= x.shape[d]):
        bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
        raise IndexError(
            f"{op}: index {bad} is out of range for dim {dim} of size {x.shape[d]} "
            f"(input of shape {x.shape})"
        )
    return idx, d


def gather(input: Tensor, dim: int, index: Any) -> Tensor:
    """Pick values along ``dim`` at positions ``index`` (same number of dims as x)."""
    idx, d = _index_array("gather", index, input, dim)
    return Gather.apply(input, d, idx)


def scatter_add(input: Tensor, dim: int, index: Any, src: Any) -> Tensor:
    """Out-of-place scatter-add: a copy of x with ``src`` added at ``index`` along ``dim``."""
    idx, d = _index_array("scatter_add", index, input, dim)
    src_shape = np.shape(src)
    if len(src_shape) != idx.ndim or any(m > n for m, n in zip(idx.shape, src_shape)):
        raise RuntimeError(
            f"scatter_add: src of shape {src_shape} must be at least as large as the index "
            f"of shape {idx.shape} in every dim"
        )
    if src_shape != idx.shape:
        # as torch, only the index-shaped corner of a larger src is used
        corner = tuple(slice(0, n) for n in idx.shape)
        src = getitem(src, corner) if isinstance(src, Tensor) else np.asarray(src)[corner]
    return ScatterAdd.apply(input, d, idx, src)


def index_select(input: Tensor, dim: int, index: Any) -> Tensor:
    """The entries of ``x`` at positions ``index`` (a 1-D or 0-d integer tensor) along
    ``dim``; that dim keeps its place, with one entry per index."""
    idx = np.asarray(index.array if isinstance(index, Tensor) else index)
    if idx.ndim > 1:
        raise IndexError(f"index_select: index must be 1-D (a vector), got shape {idx.shape}")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"index_select: index must be an integer tensor, got dtype {idx.dtype}")
    ndim = max(input.ndim, 1)
    if not -ndim <= dim < ndim:
        raise IndexError(
            f"index_select: dim {dim} is out of range for a tensor of shape {input.shape}"
        )
    d = dim % ndim
    size = input.shape[d] if input.ndim else 1
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
        raise IndexError(
            f"index_select: index {bad} is out of range for dim {dim} of size {size} "
            f"(tensor of shape {input.shape})"
        )
    return GetItem.apply(input, (slice(None),) * d + (idx.reshape(-1),))


def one_hot(indices: Any, num_classes: int = -1) -> Tensor:
    """Integer class labels -> int64 one-hot vectors in a new last dim (``F.one_hot``)."""
    idx = np.asarray(indices.array if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class labels, got dtype {idx.dtype}")
    if idx.size and idx.min() < 0:
        raise ValueError("one_hot: class labels must be non-negative")
    if num_classes < 0 and not idx.size:
        raise RuntimeError(
            f"one_hot: cannot infer the number of classes from an empty tensor of shape "
            f"{idx.shape}; pass num_classes"
        )
    n = int(idx.max()) + 1 if num_classes < 0 else num_classes
    if idx.size and idx.max() >= n:
        raise ValueError(f"one_hot: label {int(idx.max())} is out of range for {n} classes")
    out = np.zeros(idx.shape + (n,), dtype=np.int64)
    np.put_along_axis(out, idx[..., None].astype(np.int64), 1, axis=-1)
    return Tensor._make(out, False, None, 0)
