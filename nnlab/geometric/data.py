"""Graphs as data: one graph (:class:`Data`) and a mini-batch of graphs (:class:`Batch`), as
in PyTorch Geometric's ``torch_geometric.data``.

A batch of graphs is one big graph made of disconnected pieces: node features are
stacked, and each graph's ``edge_index`` is shifted by the number of nodes before it, so a
message-passing layer processes all graphs at once without ever mixing them. The vector
``batch`` (one entry per node) says which graph a node belongs to, and ``ptr`` holds the
boundaries (graph g owns nodes ``ptr[g]:ptr[g + 1]``); global pooling reads them to
produce one row per graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import nnlab
from nnlab.tensor import Tensor

__all__ = ["Batch", "Data"]


def _as_tensor(value: Any) -> Any:
    """Arrays and lists of numbers become tensors; other values (a SMILES string) stay."""
    if value is None or isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray) or (isinstance(value, (list, tuple)) and value):
        array = np.asarray(value)
        if array.dtype.kind in "iufb":
            return nnlab.as_tensor(array)
    return value


class Data:
    """One graph: node features ``x`` (N, F), ``edge_index`` (2, E) with column e the edge
    ``edge_index[0, e] → edge_index[1, e]``, edge features ``edge_attr`` (E, D), a target
    ``y``, and any other named attribute (e.g. ``smiles``).

    >>> import nnlab
    >>> from nnlab.geometric.data import Data
    >>> g = Data(x=nnlab.ones(3, 2), edge_index=nnlab.tensor([[0, 1], [1, 2]]))
    >>> g
    Data(x=[3, 2], edge_index=[2, 2])
    >>> g.num_nodes, g.num_edges
    (3, 2)
    """

    def __init__(
        self, x: Any = None, edge_index: Any = None, edge_attr: Any = None, y: Any = None, **kwargs
    ) -> None:
        store = {"x": x, "edge_index": edge_index, "edge_attr": edge_attr, "y": y, **kwargs}
        object.__setattr__(self, "_store", {})
        for key, value in store.items():
            setattr(self, key, value)

    def __setattr__(self, key: str, value: Any) -> None:
        if value is None:
            self._store.pop(key, None)
        else:
            self._store[key] = _as_tensor(value)

    def __getattr__(self, key: str) -> Any:
        store = self.__dict__.get("_store", {})
        if key in store:
            return store[key]
        if key in ("x", "edge_index", "edge_attr", "y", "batch", "ptr", "pos"):
            return None
        raise AttributeError(f"{type(self).__name__} has no attribute {key!r}")

    def keys(self) -> list[str]:
        """The names of the attributes that are set."""
        return list(self._store)

    def __contains__(self, key: str) -> bool:
        return key in self._store

    def __iter__(self):
        return iter(self._store.items())

    @property
    def num_nodes(self) -> int:
        """From ``num_nodes`` if set, else the rows of ``x``, else the largest edge end + 1."""
        if "num_nodes" in self._store:
            return int(self._store["num_nodes"])
        if self.x is not None:
            return int(self.x.shape[0])
        if self.edge_index is not None and self.edge_index.shape[1]:
            return int(self.edge_index.array.max()) + 1
        return 0

    @property
    def num_edges(self) -> int:
        return 0 if self.edge_index is None else int(self.edge_index.shape[1])

    @property
    def num_node_features(self) -> int:
        return 0 if self.x is None else int(self.x.shape[1]) if self.x.ndim > 1 else 1

    @property
    def num_edge_features(self) -> int:
        attr = self.edge_attr
        return 0 if attr is None else int(attr.shape[1]) if attr.ndim > 1 else 1

    def __repr__(self) -> str:
        parts = []
        for key, value in self._store.items():
            shown = list(value.shape) if isinstance(value, Tensor) else repr(value)
            parts.append(f"{key}={shown}")
        return f"{type(self).__name__}({', '.join(parts)})"


def _is_node_index(key: str) -> bool:
    """PyG's rule: an attribute whose name contains ``index`` holds node numbers (shifted by
    the nodes of the graphs before it) and is laid out (2, E), joined along axis 1."""
    return "index" in key


class Batch(Data):
    """Several graphs as one disconnected graph, with ``batch`` (node → graph) and ``ptr``
    (graph g owns nodes ``ptr[g]:ptr[g + 1]``).

    >>> import nnlab
    >>> from nnlab.geometric.data import Batch, Data
    >>> a = Data(x=nnlab.ones(2, 1), edge_index=nnlab.tensor([[0], [1]]))
    >>> b = Data(x=nnlab.ones(3, 1), edge_index=nnlab.tensor([[2], [0]]))
    >>> batch = Batch.from_data_list([a, b])
    >>> batch.edge_index.tolist(), batch.batch.tolist(), batch.ptr.tolist()
    ([[0, 4], [1, 2]], [0, 0, 1, 1, 1], [0, 2, 5])
    """

    @classmethod
    def from_data_list(cls, data_list: Sequence[Data]) -> Batch:
        """Join the graphs: tensors are concatenated (node-index attributes shifted by the
        nodes before them), 0-d tensors stacked, other values gathered in lists."""
        if not data_list:
            raise ValueError("Batch.from_data_list: data_list is empty; give at least one graph")
        keys = data_list[0].keys()
        for i, data in enumerate(data_list):
            if data.keys() != keys:
                raise ValueError(
                    f"Batch.from_data_list: graph {i} has attributes {data.keys()} but graph 0 "
                    f"has {keys}; every graph must carry the same attributes"
                )
        counts = np.array([d.num_nodes for d in data_list], dtype=np.int64)
        ptr = np.concatenate([[0], np.cumsum(counts)])
        batch = cls()
        for key in keys:
            if key == "num_nodes":
                continue
            values = [d._store[key] for d in data_list]
            if not isinstance(values[0], Tensor):
                setattr(batch, key, list(values))
                continue
            arrays = [v.array for v in values]
            if arrays[0].ndim == 0:
                setattr(batch, key, nnlab.as_tensor(np.stack(arrays)))
                continue
            axis = 0
            if _is_node_index(key):
                arrays, axis = [a + offset for a, offset in zip(arrays, ptr[:-1])], 1
            setattr(batch, key, nnlab.as_tensor(np.concatenate(arrays, axis=axis)))
        batch.batch = nnlab.as_tensor(np.repeat(np.arange(len(data_list)), counts))
        batch.ptr = nnlab.as_tensor(ptr)
        batch._store["num_nodes"] = int(ptr[-1])
        return batch

    @property
    def num_graphs(self) -> int:
        return int(self.ptr.shape[0]) - 1
