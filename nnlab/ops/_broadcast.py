"""Broadcasting and its adjoint, in one place.

When an op broadcasts an input of shape ``(3, 1)`` against ``(2, 3, 4)``, each input
element is used several times, so its gradient is the *sum* of the gradients of all
its copies: ``unbroadcast`` sums the incoming gradient over the broadcast axes.
Both helpers accept NumPy arrays (plain backward) and Tensors (``create_graph``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["BroadcastError", "unbroadcast", "broadcast_to", "broadcast_shapes"]


class BroadcastError(ValueError, RuntimeError):
    """Shapes that cannot be broadcast together. A ValueError (a bad argument) that is also
    the RuntimeError PyTorch raises here, so code written for either keeps working."""


def broadcast_shapes(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast shape, or a :class:`BroadcastError` naming the op and the shapes."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise BroadcastError(
            f"{op}: shapes {listed} cannot be broadcast together (each dimension, aligned "
            "from the right, must be equal or 1)"
        ) from None


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` over the axes that broadcasting added or stretched, giving ``shape``."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    if isinstance(g, np.ndarray):
        if axes == tuple(range(lead)) and lead > 0 and g.size and g.flags.c_contiguous:
            # Summing rows is ≈17× faster as a GEMV than as np.sum(axis=0) (PERFORMANCE.md).
            rows = g.reshape(-1, int(np.prod(shape, dtype=np.int64)))
            return (np.ones(rows.shape[0], dtype=g.dtype) @ rows).reshape(shape)
        return g.sum(axis=axes).reshape(shape)
    return g.sum(dim=axes).reshape(shape)


def broadcast_to(g: Any, shape: tuple[int, ...]) -> Any:
    """Broadcast ``g`` to ``shape`` (a read-only view for arrays, an Expand op for tensors)."""
    if g.shape == shape:
        return g
    if isinstance(g, np.ndarray):
        # A fresh writeable array, not a broadcast view: np.broadcast_to runs a Python
        # layer on every call, and a read-only view would have to be copied before it could
        # become a leaf's .grad anyway.
        out = np.empty(shape, dtype=g.dtype)
        out[...] = g
        return out
    return g.expand(shape)
