"""Sorting: ``sort``, ``argsort`` and ``topk``.

Sorting only reorders values, so it needs no backward of its own: the order is found on
the raw array (``np.argsort``), then the values are picked with :func:`gather`, whose
backward sends each gradient back to the position its value came from. ``sort`` and
``topk`` return a named tuple ``(values, indices)`` like ``torch.return_types.sort``;
the indices are int64 and not differentiable.

The order is always stable (equal values keep their original order), which is what
torch's ``stable=True`` promises; NaN counts as larger than every number, as in torch.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from nnlab.ops.indexing import gather
from nnlab.tensor import Tensor

__all__ = ["sort", "argsort", "topk", "SortResult", "TopkResult"]

#: What ``sort`` returns: unpacks as ``values, indices`` (``torch.return_types.sort``).
SortResult = namedtuple("sort", ("values", "indices"))
#: What ``topk`` returns (``torch.return_types.topk``).
TopkResult = namedtuple("topk", ("values", "indices"))


def _axis(op: str, ndim: int, dim: int) -> int:
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(
            f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions "
            f"(expected to be in [{-size}, {size - 1}])"
        )
    return dim % size


def _order(data: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable sorting indices along ``axis``. Descending: sort the reversed array stably
    (NaN last, ties in reversed order) and reverse the result, which puts NaN first and
    restores the original order of ties, without negating (-x overflows int64's minimum)."""
    if not descending:
        return np.argsort(data, axis=axis, kind="stable")
    n = data.shape[axis]
    ascending = np.argsort(np.flip(data, axis), axis=axis, kind="stable")
    return (n - 1) - np.flip(ascending, axis)


def _pick(x: Tensor, axis: int, idx: np.ndarray, result: Any) -> Any:
    return result(gather(x, axis, idx), Tensor._make(idx.astype(np.int64), False, None, 0))


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """The values of ``x`` sorted along ``dim`` and where each came from.

    Returns a named tuple ``(values, indices)`` with ``values = x.gather(dim, indices)``;
    the gradient of ``values`` flows back to the positions in ``indices``. The sort is
    always stable, so ``stable`` only exists for torch's signature.

    Example:
        >>> import nnlab
        >>> values, indices = nnlab.sort(nnlab.tensor([3.0, 1.0, 2.0]), descending=True)
        >>> values, indices
        (tensor([3., 2., 1.]), tensor([0, 2, 1]))
    """
    axis = _axis("sort", input.ndim, dim)
    if input.ndim == 0:
        return SortResult(input.reshape(()), Tensor(np.zeros((), np.int64)))
    return _pick(input, axis, _order(input.array, axis, descending), SortResult)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The int64 indices that sort ``x`` along ``dim`` (``sort(x, ...).indices``)."""
    axis = _axis("argsort", input.ndim, dim)
    if input.ndim == 0:
        return Tensor(np.zeros((), np.int64))
    return Tensor._make(_order(input.array, axis, descending).astype(np.int64), False, None, 0)


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    """The ``k`` largest (``largest=False``: smallest) values along ``dim`` and their indices.

    Returns a named tuple ``(values, indices)``, differentiable through ``values`` as
    :func:`sort`. The values always come sorted (largest first, or smallest first); torch
    leaves the order unspecified when ``sorted=False``, so this order is one it allows.

    Example:
        >>> import nnlab
        >>> nnlab.topk(nnlab.tensor([1.0, 5.0, 3.0, 4.0]), 2)
        topk(values=tensor([5., 4.]), indices=tensor([1, 3]))
    """
    axis = _axis("topk", input.ndim, dim)
    size = input.shape[axis] if input.ndim else 1
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"topk: k must be an int, got {k!r}")
    if not 0 <= k <= size:
        raise RuntimeError(
            f"topk: selected index k={k} out of range for dim {dim} of size {size} "
            f"(tensor of shape {input.shape})"
        )
    if input.ndim == 0:
        # torch returns the element itself for k = 0 and k = 1 alike
        return TopkResult(input.reshape(()), Tensor(np.zeros((), np.int64)))
    order = _order(input.array, axis, largest)
    idx = np.take(order, np.arange(k), axis=axis)
    return _pick(input, axis, idx, TopkResult)
