"""Ops that rearrange elements without changing them: reshape, transpose, permute, expand,
squeeze/unsqueeze, cat/stack/split and constant padding.

Their backward applies the inverse rearrangement to the gradient: a reshape is undone
by reshaping back, a permutation by the inverse permutation, an expand by summing over
the expanded axes, a concatenation by slicing.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from nnlab.autograd.function import Function
from nnlab.ops._broadcast import unbroadcast
from nnlab.tensor import Tensor

__all__ = [
    "reshape", "view", "flatten", "squeeze", "unsqueeze", "transpose", "permute", "expand",
    "cat", "concatenate", "stack", "split", "chunk", "pad",
]  # fmt: skip


def _dim(op: str, dim: int, ndim: int) -> int:
    if not -ndim <= dim < ndim:
        raise IndexError(
            f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions "
            f"(expected to be in [{-ndim}, {ndim - 1}])"
        )
    return dim % ndim


def _shapes(xs: Sequence[Any]) -> str:
    return ", ".join(str(np.shape(x)) for x in xs)


class Reshape(Function):
    """y = x with a new shape;  dx = g reshaped back."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise RuntimeError(
                f"reshape: shape {tuple(shape)} is invalid for a tensor of shape {x.shape} "
                f"({x.size} elements)"
            ) from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None


class Permute(Function):
    """y = x with its axes reordered;  dx = g with the inverse order."""

    @staticmethod
    def forward(ctx, x, dims):
        ctx.inverse = tuple(np.argsort(dims))
        return np.transpose(x, dims)

    @staticmethod
    def backward(ctx, g):
        return g.permute(ctx.inverse) if isinstance(g, Tensor) else g.transpose(ctx.inverse), None


class Expand(Function):
    """y = x broadcast to a larger shape (a view);  dx = g summed over the new axes."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise RuntimeError(
                f"expand: a tensor of shape {x.shape} cannot be expanded to {tuple(shape)} "
                "(only size-1 dimensions can grow)"
            ) from None

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shape), None


class Cat(Function):
    """y = [x₁, x₂, ...] joined along ``dim``;  dxₖ = the slice of g that xₖ became."""

    @staticmethod
    def forward(ctx, *xs, dim):
        ctx.dim = dim
        if len({np.ndim(x) for x in xs}) > 1:
            raise RuntimeError(f"cat: tensors must have the same number of dims; got {_shapes(xs)}")
        try:
            y = np.concatenate(xs, axis=dim)
        except ValueError:
            raise RuntimeError(
                f"cat: tensors must have the same shape except in dim {dim}; got {_shapes(xs)}"
            ) from None
        ctx.bounds = np.cumsum([0] + [x.shape[dim] for x in xs])
        return y

    @staticmethod
    def backward(ctx, g):
        lead = (slice(None),) * ctx.dim
        b = ctx.bounds
        return tuple(g[lead + (slice(b[k], b[k + 1]),)] for k in range(len(b) - 1))


class Stack(Function):
    """y = [x₁, x₂, ...] stacked along a new axis ``dim``;  dxₖ = g[..., k, ...]."""

    @staticmethod
    def forward(ctx, *xs, dim):
        ctx.dim = dim
        ctx.count = len(xs)
        try:
            return np.stack(xs, axis=dim)
        except ValueError:
            raise RuntimeError(
                f"stack: all tensors must have the same shape; got {_shapes(xs)}"
            ) from None

    @staticmethod
    def backward(ctx, g):
        lead = (slice(None),) * ctx.dim
        return tuple(g[lead + (k,)] for k in range(ctx.count))


class Split(Function):
    """(y₁, y₂, ...) = consecutive pieces of x along ``dim``;  dx = the pieces' gradients
    joined back together (zeros for pieces that were not used)."""

    @staticmethod
    def forward(ctx, x, sizes, dim):
        ctx.dim = dim
        cuts = np.cumsum(sizes)[:-1]
        return tuple(np.split(x, cuts, axis=dim))

    @staticmethod
    def backward(ctx, *gs):
        if isinstance(gs[0], Tensor) or any(isinstance(g, Tensor) for g in gs):
            return cat([g if isinstance(g, Tensor) else Tensor(g) for g in gs], ctx.dim), None, None
        return np.concatenate(gs, axis=ctx.dim), None, None


class Pad(Function):
    """y = x surrounded by a constant;  dx = the centre of g (the padding had no inputs)."""

    @staticmethod
    def forward(ctx, x, widths, value):
        ctx.centre = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, x.shape))
        return np.pad(x, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.centre], None, None


def reshape(x: Tensor, shape: Sequence[int]) -> Tensor:
    """Same elements, new shape (one dimension may be -1, inferred)."""
    shape = tuple(int(s) for s in shape)
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape)


def view(x: Tensor, shape: Sequence[int]) -> Tensor:
    """As :func:`reshape` (nnlab arrays can always be viewed or copied as needed)."""
    return reshape(x, shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one."""
    if x.ndim == 0:
        return reshape(x, (1,))
    s = _dim("flatten", start_dim, x.ndim)
    e = _dim("flatten", end_dim, x.ndim)
    if s > e:
        raise ValueError(f"flatten: start_dim ({start_dim}) cannot come after end_dim ({end_dim})")
    merged = int(np.prod(x.shape[s : e + 1], dtype=np.int64))
    return reshape(x, x.shape[:s] + (merged,) + x.shape[e + 1 :])


def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    """Remove size-1 dims (all of them, or those in ``dim``; others are left alone)."""
    if dim is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        dims = {
            _dim("squeeze", d, max(x.ndim, 1)) for d in ((dim,) if isinstance(dim, int) else dim)
        }
        shape = tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1))
    return reshape(x, shape)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim`` (negative counts from the end of the new shape)."""
    d = _dim("unsqueeze", dim, x.ndim + 1)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def permute(x: Tensor, dims: Sequence[int]) -> Tensor:
    dims = tuple(_dim("permute", d, x.ndim) for d in dims)
    if sorted(dims) != list(range(x.ndim)):
        raise RuntimeError(
            f"permute: {dims} is not a permutation of the {x.ndim} dims of {x.shape}"
        )
    if dims == tuple(range(x.ndim)):
        return x
    return Permute.apply(x, dims)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims (a view)."""
    if x.ndim < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return x
    dims = list(range(x.ndim))
    a, b = _dim("transpose", dim0, x.ndim), _dim("transpose", dim1, x.ndim)
    dims[a], dims[b] = dims[b], dims[a]
    return permute(x, dims)


def expand(x: Tensor, shape: Sequence[int]) -> Tensor:
    """Broadcast to ``shape`` without copying (-1 keeps a dim's size)."""
    shape = tuple(shape)
    lead = len(shape) - x.ndim
    if lead < 0:
        raise RuntimeError(f"expand: cannot expand shape {x.shape} to fewer dims {shape}")
    if any(n == -1 for n in shape[:lead]):
        raise RuntimeError(
            f"expand: -1 (keep the size) is not allowed for a new leading dim: {x.shape} "
            f"expanded to {shape}"
        )
    full = tuple(x.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
    if full == x.shape:
        return x
    return Expand.apply(x, full)


def cat(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    return Cat.apply(*tensors, dim=_dim("cat", dim, max(np.ndim(tensors[0]), 1)))


concatenate = cat


def stack(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    return Stack.apply(*tensors, dim=_dim("stack", dim, np.ndim(tensors[0]) + 1))


def split(x: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into pieces of ``split_size`` (the last may be smaller), or of the given sizes."""
    d = _dim("split", dim, x.ndim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise RuntimeError(
                f"split: sizes {sizes} do not add up to {n} (dim {dim} of {x.shape})"
            )
    if len(sizes) <= 1:
        return (x,)
    return Split.apply(x, sizes, d)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into ``chunks`` pieces of size ⌈n / chunks⌉ (the last may be smaller)."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = x.shape[_dim("chunk", dim, x.ndim)]
    return split(x, max(-(-n // chunks), 1), dim)


def pad(x: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad with a constant. ``pad`` lists (before, after) pairs starting from the LAST dim,
    as ``torch.nn.functional.pad``: (1, 1) pads the last dim, (1, 1, 2, 2) the last two."""
    if mode != "constant":
        raise ValueError(f"pad: mode must be 'constant' here, got {mode!r}")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: needs an even number of values, at most 2 per dim; got {pad}")
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: negative padding is not supported, got {pad}")
    widths = [(0, 0)] * x.ndim
    for k in range(len(pad) // 2):
        widths[x.ndim - 1 - k] = (int(pad[2 * k]), int(pad[2 * k + 1]))
    return Pad.apply(x, widths, value)
