"""Graph-level readout: one vector per graph from its nodes' vectors (PyTorch Geometric's
``global_*_pool`` and ``AttentionalAggregation``).

In a batch, node n belongs to graph ``batch[n]``; a readout is a scatter over that index.
Sum pooling keeps the graph's size in the result (a molecule's mass is a sum over atoms),
mean pooling forgets it, max pooling keeps the strongest detector, and attention pooling
(Li et al. 2016) learns a softmax weight per node:

    r_g = Σ_{n in g} softmax_{n in g}(gate_nn(x_n)) · nn(x_n)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.nn.module import Module
from nnlab.ops.scatter import scatter, scatter_softmax, segment_index
from nnlab.tensor import Tensor

__all__ = ["AttentionalAggregation", "global_add_pool", "global_max_pool", "global_mean_pool"]


def _pool(x: Tensor, batch: Any, size: int | None, reduce: str) -> Tensor:
    if batch is None:  # one graph: reduce over all nodes, keeping a graph axis
        return scatter(x, np.zeros(x.shape[-2], dtype=np.int64), dim=-2, dim_size=1, reduce=reduce)
    return scatter(x, batch, dim=-2, dim_size=size, reduce=reduce)


def global_add_pool(x: Tensor, batch: Any = None, size: int | None = None) -> Tensor:
    """r_g = Σ_{n in g} x_n. x (N, F), batch (N,) → (number of graphs, F); ``size`` is
    the number of graphs (default ``batch.max() + 1``)."""
    return _pool(x, batch, size, "sum")


def global_mean_pool(x: Tensor, batch: Any = None, size: int | None = None) -> Tensor:
    """r_g = mean_{n in g} x_n (see :func:`global_add_pool` for the shapes)."""
    return _pool(x, batch, size, "mean")


def global_max_pool(x: Tensor, batch: Any = None, size: int | None = None) -> Tensor:
    """r_g = max_{n in g} x_n, feature by feature (see :func:`global_add_pool`)."""
    return _pool(x, batch, size, "max")


class AttentionalAggregation(Module):
    """Soft-attention readout r_g = Σ_{n in g} softmax_g(gate_nn(x_n)) · nn(x_n).

    Args:
        gate_nn: maps node features (N, F) to scores (N, 1) (one gate for all features)
            or (N, F') (one per output feature).
        nn: optional map applied to the features before weighting. Default: None.

    Parameters: those of ``gate_nn`` and ``nn`` under these names, as in PyG.
    """

    def __init__(self, gate_nn: Module, nn: Module | None = None) -> None:
        super().__init__()
        self.gate_nn = gate_nn
        self.nn = nn

    def forward(
        self, x: Tensor, index: Any = None, ptr: Any = None, dim_size: int | None = None
    ) -> Tensor:
        if index is None and ptr is None:  # one graph
            index, dim_size = np.zeros(x.shape[0], dtype=np.int64), 1
        elif index is None:
            index = segment_index(ptr)
            dim_size = len(np.asarray(ptr.array if isinstance(ptr, Tensor) else ptr)) - 1
        gate = self.gate_nn(x)
        if gate.ndim == 1:
            gate = gate.reshape(-1, 1)
        value = self.nn(x) if self.nn is not None else x
        weights = scatter_softmax(gate, index, num_nodes=dim_size)
        return scatter(weights * value, index, dim=0, dim_size=dim_size, reduce="sum")
