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
    "cat", "concatenate", "stack", "split", "chunk", "pad", "repeat", "narrow",
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


def reshape(input: Tensor, shape: Sequence[int]) -> Tensor:
    """Same elements, new shape (one dimension may be -1, inferred)."""
    shape = tuple(int(s) for s in shape)
    if shape == input.shape:
        return input
    return Reshape.apply(input, shape)


def view(input: Tensor, shape: Sequence[int]) -> Tensor:
    """As :func:`reshape`, but never a copy: like torch, a tensor whose memory layout
    cannot be read in the new shape (a transposed one, say) raises; call ``.contiguous()``
    first or use ``reshape``."""
    shape = tuple(int(s) for s in shape)
    try:
        np.reshape(input.array, shape, copy=False)
    except ValueError as exc:
        if "copy" not in str(exc):
            return reshape(input, shape)  # a wrong element count: reshape explains it
        raise RuntimeError(
            f"view size {shape} is not compatible with the input tensor's size "
            f"{tuple(input.shape)} and memory layout (at least one dimension spans across two "
            "contiguous subspaces). Use .reshape(...) instead, or .contiguous().view(...)."
        ) from None
    return reshape(input, shape)


def repeat(input: Tensor, sizes: Sequence[int]) -> Tensor:
    """Tile ``x`` ``sizes[i]`` times along each dim (``sizes`` may add leading dims), as
    ``torch.Tensor.repeat`` (NumPy's ``tile``). Built from reshape and expand, so its
    gradient sums the copies back."""
    sizes = tuple(int(n) for n in sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError(
            f"repeat: the number of repeat dims ({len(sizes)}) can not be smaller than the "
            f"number of dimensions of the tensor ({input.ndim})"
        )
    if any(n < 0 for n in sizes):
        raise RuntimeError(f"repeat: repeats must be non-negative, got {sizes}")
    shape = (1,) * (len(sizes) - input.ndim) + tuple(input.shape)
    interleaved = tuple(d for n in shape for d in (1, n))
    tiled = tuple(d for r, n in zip(sizes, shape) for d in (r, n))
    out = expand(reshape(input, interleaved), tiled)
    return reshape(out, tuple(r * n for r, n in zip(sizes, shape)))


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """The slice ``start : start + length`` along ``dim`` (a view, as in torch)."""
    d = _dim("narrow", dim, max(input.ndim, 1))
    size = input.shape[d]
    start = int(start) + size if int(start) < 0 else int(start)
    if not 0 <= start <= size or length < 0 or start + length > size:
        raise RuntimeError(
            f"narrow: start ({start}) + length ({length}) exceeds dimension size ({size})"
        )
    return input[(slice(None),) * d + (slice(start, start + length),)]


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one."""
    if input.ndim == 0:
        return reshape(input, (1,))
    s = _dim("flatten", start_dim, input.ndim)
    e = _dim("flatten", end_dim, input.ndim)
    if s > e:
        raise ValueError(f"flatten: start_dim ({start_dim}) cannot come after end_dim ({end_dim})")
    merged = int(np.prod(input.shape[s : e + 1], dtype=np.int64))
    return reshape(input, input.shape[:s] + (merged,) + input.shape[e + 1 :])


def squeeze(input: Tensor, dim: Any = None) -> Tensor:
    """Remove size-1 dims (all of them, or those in ``dim``; others are left alone)."""
    if dim is None:
        shape = tuple(n for n in input.shape if n != 1)
    else:
        dims = {
            _dim("squeeze", d, max(input.ndim, 1))
            for d in ((dim,) if isinstance(dim, int) else dim)
        }
        shape = tuple(n for i, n in enumerate(input.shape) if not (i in dims and n == 1))
    return reshape(input, shape)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim`` (negative counts from the end of the new shape)."""
    d = _dim("unsqueeze", dim, input.ndim + 1)
    return reshape(input, input.shape[:d] + (1,) + input.shape[d:])


def permute(input: Tensor, dims: Sequence[int]) -> Tensor:
    dims = tuple(_dim("permute", d, input.ndim) for d in dims)
    if sorted(dims) != list(range(input.ndim)):
        raise RuntimeError(
            f"permute: {dims} is not a permutation of the {input.ndim} dims of {input.shape}"
        )
    if dims == tuple(range(input.ndim)):
        return input
    return Permute.apply(input, dims)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims (a view)."""
    if input.ndim < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return input
    dims = list(range(input.ndim))
    a, b = _dim("transpose", dim0, input.ndim), _dim("transpose", dim1, input.ndim)
    dims[a], dims[b] = dims[b], dims[a]
    return permute(input, dims)


def expand(input: Tensor, shape: Sequence[int]) -> Tensor:
    """Broadcast to ``shape`` without copying (-1 keeps a dim's size)."""
    shape = tuple(shape)
    lead = len(shape) - input.ndim
    if lead < 0:
        raise RuntimeError(f"expand: cannot expand shape {input.shape} to fewer dims {shape}")
    if any(n == -1 for n in shape[:lead]):
        raise RuntimeError(
            f"expand: -1 (keep the size) is not allowed for a new leading dim: {input.shape} "
            f"expanded to {shape}"
        )
    full = tuple(input.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
    if full == input.shape:
        return input
    return Expand.apply(input, full)


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


def split(input: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into pieces of ``split_size`` (the last may be smaller), or of the given sizes."""
    d = _dim("split", dim, input.ndim)
    n = input.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise RuntimeError(
                f"split: sizes {sizes} do not add up to {n} (dim {dim} of {input.shape})"
            )
    if len(sizes) <= 1:
        return (input,)
    return Split.apply(input, sizes, d)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into ``chunks`` pieces of size ⌈n / chunks⌉ (the last may be smaller)."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = input.shape[_dim("chunk", dim, input.ndim)]
    return split(input, max(-(-n // chunks), 1), dim)


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad with a constant. ``pad`` lists (before, after) pairs starting from the LAST dim,
    as ``torch.nn.functional.pad``: (1, 1) pads the last dim, (1, 1, 2, 2) the last two."""
    if mode != "constant":
        raise ValueError(f"pad: mode must be 'constant' here, got {mode!r}")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: needs an even number of values, at most 2 per dim; got {pad}")
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: negative padding is not supported, got {pad}")
    widths = [(0, 0)] * input.ndim
    for k in range(len(pad) // 2):
        widths[input.ndim - 1 - k] = (int(pad[2 * k]), int(pad[2 * k + 1]))
    return Pad.apply(input, widths, value)
