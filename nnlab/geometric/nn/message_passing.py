"""The message-passing base class of graph layers (PyTorch Geometric's ``MessagePassing``).

One layer updates every node from its neighbours in three steps:

    m_e  = message(x_i, x_j, ...)          for each edge e = (j → i)
    a_i  = aggregate({m_e : target(e) = i}) sum, mean or max over the incoming edges
    x'_i = update(a_i, ...)

``propagate(edge_index, **kwargs)`` runs them. As in PyG, ``message`` declares what it
needs by the names of its arguments: ``x_j`` is ``x`` gathered at each edge's source,
``x_i`` at its target (any keyword passed to ``propagate`` works with the two suffixes),
other keywords arrive unchanged (e.g. a per-edge ``edge_weight``), and ``index``
(the targets), ``size_i`` and ``size_j`` (node counts) are filled in. A pair ``x=(x_src,
x_dst)`` gives the bipartite case, sources and targets drawn from different sets.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from nnlab.geometric.utils import as_edge_index
from nnlab.nn.module import Module
from nnlab.ops.scatter import index_gather, scatter
from nnlab.tensor import Tensor

__all__ = ["MessagePassing"]

_AGGREGATIONS = {"add": "sum", "sum": "sum", "mean": "mean", "max": "max", "min": "min"}


class MessagePassing(Module):
    """Base class: subclasses define ``message`` (and, if needed, ``aggregate``/``update``)
    and call ``self.propagate(edge_index, ...)`` in ``forward``.

    Args:
        aggr: how incoming messages combine: ``"add"``, ``"mean"``, ``"max"`` or ``"min"``.
        flow: ``"source_to_target"`` (messages go along the edges, the default) or
            ``"target_to_source"``.
        node_dim: the axis of node features that indexes nodes. Default: -2.

    >>> import nnlab
    >>> from nnlab.geometric.nn import MessagePassing
    >>> class NeighbourSum(MessagePassing):
    ...     def forward(self, x, edge_index):
    ...         return self.propagate(edge_index, x=x)
    ...     def message(self, x_j):
    ...         return x_j
    >>> x = nnlab.tensor([[1.0], [2.0], [4.0]])
    >>> NeighbourSum()(x, nnlab.tensor([[0, 1, 2], [2, 2, 0]])).tolist()
    [[4.0], [0.0], [3.0]]
    """

    def __init__(
        self, aggr: str = "add", flow: str = "source_to_target", node_dim: int = -2
    ) -> None:
        super().__init__()
        if aggr not in _AGGREGATIONS:
            raise ValueError(
                f"{type(self).__name__}: aggr must be one of {', '.join(_AGGREGATIONS)}, "
                f"got {aggr!r}"
            )
        if flow not in ("source_to_target", "target_to_source"):
            raise ValueError(
                f"{type(self).__name__}: flow must be 'source_to_target' or "
                f"'target_to_source', got {flow!r}"
            )
        self.aggr, self.flow, self.node_dim = aggr, flow, node_dim
        self._message_args = [
            p for p in inspect.signature(self.message).parameters if p not in ("self",)
        ]

    # -- the three steps -----------------------------------------------------------------

    def message(self, x_j: Tensor) -> Tensor:
        """The message along each edge; by default the source's features."""
        return x_j

    def aggregate(self, inputs: Tensor, index: np.ndarray, dim_size: int | None = None) -> Tensor:
        """Combine the messages that share a target node with ``self.aggr``."""
        dim = self.node_dim % inputs.ndim
        return scatter(inputs, index, dim=dim, dim_size=dim_size, reduce=_AGGREGATIONS[self.aggr])

    def update(self, inputs: Tensor) -> Tensor:
        """The new node features from the aggregated messages; by default unchanged."""
        return inputs

    # -- running them --------------------------------------------------------------------

    def propagate(
        self, edge_index: Any, size: tuple[int, int] | None = None, **kwargs: Any
    ) -> Tensor:
        """Gather the arguments ``message`` asks for, then message → aggregate → update."""
        ei = as_edge_index(f"{type(self).__name__}.propagate", edge_index)
        j, i = (0, 1) if self.flow == "source_to_target" else (1, 0)
        sizes = self._sizes(kwargs, size, ei)
        args = {}
        for name in self._message_args:
            args[name] = self._message_arg(name, kwargs, ei, (i, j), sizes)
        out = self.message(**args)
        out = self.aggregate(out, ei[i], dim_size=sizes[1])
        return self.update(out)

    def _sizes(self, kwargs: dict[str, Any], size: Any, ei: np.ndarray) -> list[int | None]:
        """[number of source nodes, number of target nodes], from ``size``, the node
        features, or else the largest index + 1."""
        sizes: list[int | None] = list(size) if size is not None else [None, None]
        for value in kwargs.values():
            pair = value if isinstance(value, (tuple, list)) else (value, value)
            for side, t in enumerate(pair):
                if isinstance(t, Tensor) and sizes[side] is None:
                    sizes[side] = t.shape[self.node_dim % t.ndim]
        for side in (0, 1):
            if sizes[side] is None:
                sizes[side] = int(ei.max()) + 1 if ei.size else 0
        return sizes

    def _message_arg(self, name: str, kwargs: dict[str, Any], ei, ends, sizes) -> Any:
        i, j = ends
        if name == "index":
            return ei[i]
        if name in ("size_i", "dim_size"):
            return sizes[1]
        if name == "size_j":
            return sizes[0]
        if name == "edge_index":
            return ei
        if name in kwargs:
            return kwargs[name]
        base, suffix = name[:-2], name[-2:]
        if suffix in ("_i", "_j") and base in kwargs:
            value = kwargs[base]
            if isinstance(value, (tuple, list)):
                value = value[1] if suffix == "_i" else value[0]
            if value is None:
                return None
            at = ei[i] if suffix == "_i" else ei[j]
            return index_gather(value, at, dim=self.node_dim % value.ndim)
        param = inspect.signature(self.message).parameters[name]
        if param.default is not inspect.Parameter.empty:
            return param.default
        raise TypeError(
            f"{type(self).__name__}.message needs {name!r}, which propagate was not given "
            f"(pass {name}=... or {base}=... to propagate)"
        )

    def extra_repr(self) -> str:
        return f"aggr={self.aggr!r}"
