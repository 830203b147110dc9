"""Edge-list utilities of PyTorch Geometric's ``torch_geometric.utils``: scatter, segment
softmax, self-loops and degrees.

A graph's edges are an integer array ``edge_index`` of shape (2, E): column e is the edge
from node ``edge_index[0, e]`` (the source, j) to node ``edge_index[1, e]`` (the target, i).
Self-loops have i = j; the same pair may appear several times (a multigraph).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import nnlab
from nnlab.ops.scatter import index_gather, scatter, scatter_softmax
from nnlab.tensor import Tensor

__all__ = [
    "add_remaining_self_loops", "add_self_loops", "degree", "index_gather",
    "remove_self_loops", "scatter", "softmax",
]  # fmt: skip

#: PyTorch Geometric's name for the segment softmax.
softmax = scatter_softmax


def as_edge_index(op: str, edge_index: Any) -> np.ndarray:
    """``edge_index`` as an int64 array of shape (2, E), or a clear error."""
    ei = np.asarray(edge_index.array if isinstance(edge_index, Tensor) else edge_index)
    if ei.dtype.kind not in "iu" or ei.ndim != 2 or ei.shape[0] != 2:
        raise ValueError(
            f"{op}: edge_index must be an integer array of shape (2, E), got dtype "
            f"{ei.dtype} and shape {ei.shape}"
        )
    return ei.astype(np.int64, copy=False)


def remove_self_loops(edge_index: Any, edge_attr: Any = None) -> tuple[np.ndarray, Any]:
    """Drop every edge i → i (and its attribute row)."""
    ei = as_edge_index("remove_self_loops", edge_index)
    keep = ei[0] != ei[1]
    if edge_attr is None:
        return ei[:, keep], None
    return ei[:, keep], index_gather(_attr_tensor(edge_attr), np.flatnonzero(keep))


def add_self_loops(
    edge_index: Any, edge_attr: Any = None, fill_value: Any = None, num_nodes: int | None = None
) -> tuple[np.ndarray, Any]:
    """Append one edge i → i for every node (existing loops stay, as in PyG).

    The new edges' attributes are ``fill_value``: a number (default 1), or ``"mean"`` for
    the mean attribute of the edges entering each node (0 for a node without any), which
    is what ``GATConv`` uses for edge features."""
    ei = as_edge_index("add_self_loops", edge_index)
    n = _num_nodes(ei, num_nodes)
    loops = np.tile(np.arange(n, dtype=np.int64), (2, 1))
    out = np.concatenate([ei, loops], axis=1)
    if edge_attr is None:
        return out, None
    return out, _concat_loop_attr(edge_attr, ei[1], n, fill_value)


def add_remaining_self_loops(
    edge_index: Any, edge_attr: Any = None, fill_value: Any = None, num_nodes: int | None = None
) -> tuple[np.ndarray, Any]:
    """Give every node exactly one self-loop: existing loops are moved to the end and keep
    their attribute (the last one when a node has several); the other nodes get
    ``fill_value`` (default 1)."""
    ei = as_edge_index("add_remaining_self_loops", edge_index)
    n = _num_nodes(ei, num_nodes)
    keep = ei[0] != ei[1]
    loops = np.tile(np.arange(n, dtype=np.int64), (2, 1))
    out = np.concatenate([ei[:, keep], loops], axis=1)
    if edge_attr is None:
        return out, None
    attr = _attr_tensor(edge_attr)
    fill = 1.0 if fill_value is None else float(fill_value)
    loop_attr = nnlab.full((n,) + tuple(attr.shape[1:]), fill, dtype=attr.dtype)
    looped = np.flatnonzero(~keep)
    if len(looped):
        last = np.full(n, -1)
        np.maximum.at(last, ei[0, looped], looped)  # a node's last loop wins, as in PyG
        has = (last >= 0).reshape((-1,) + (1,) * (attr.ndim - 1))
        loop_attr = nnlab.where(
            nnlab.tensor(has), index_gather(attr, np.maximum(last, 0)), loop_attr
        )
    return out, nnlab.cat([index_gather(attr, np.flatnonzero(keep)), loop_attr])


def degree(index: Any, num_nodes: int | None = None, dtype: Any = None) -> Tensor:
    """The number of times each node appears in ``index`` (e.g. ``edge_index[1]``: in-degree)."""
    idx = np.asarray(index.array if isinstance(index, Tensor) else index, dtype=np.int64)
    n = (int(idx.max()) + 1 if len(idx) else 0) if num_nodes is None else num_nodes
    counts = np.bincount(idx, minlength=n)
    return Tensor(counts.astype(np.float32 if dtype is None else dtype))


def _num_nodes(ei: np.ndarray, num_nodes: int | None) -> int:
    if num_nodes is not None:
        return int(num_nodes)
    return int(ei.max()) + 1 if ei.size else 0


def _attr_tensor(edge_attr: Any) -> Tensor:
    return edge_attr if isinstance(edge_attr, Tensor) else nnlab.as_tensor(edge_attr)


def _concat_loop_attr(edge_attr: Any, target: np.ndarray, n: int, fill_value: Any) -> Tensor:
    """The edge attributes followed by one row per node for its new self-loop."""
    attr = _attr_tensor(edge_attr)
    if isinstance(fill_value, str):
        if fill_value != "mean":
            raise ValueError(
                f"add_self_loops: fill_value must be a number or 'mean', got {fill_value!r}"
            )
        loop_attr = scatter(attr, target, 0, n, reduce="mean")
    else:
        fill = 1.0 if fill_value is None else float(fill_value)
        loop_attr = nnlab.full((n,) + tuple(attr.shape[1:]), fill, dtype=attr.dtype)
    return nnlab.cat([attr, loop_attr])
