"""Graph attention (Veličković et al. 2018), PyTorch Geometric's ``GATConv``.

Each node attends over its incoming neighbours (and itself, through an added self-loop).
With Θ the shared projection and, per head, attention vectors a_s, a_t (and a_e for edge
features):

    α_ij = softmax_{j ∈ N(i) ∪ {i}} LeakyReLU(a_sᵀ Θ x_j + a_tᵀ Θ x_i + a_eᵀ Θ_e e_ji)
    x'_i = ‖_{heads} Σ_j α_ij Θ x_j + b      (concatenated heads, or their mean)

The softmax runs over the edges that share a target: the segment softmax of
:mod:`nnlab.ops.scatter`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import nnlab.nn.functional as F
from nnlab import dtypes
from nnlab.geometric.nn.message_passing import MessagePassing
from nnlab.geometric.utils import add_self_loops, as_edge_index, remove_self_loops
from nnlab.nn import init
from nnlab.nn.modules.linear import Linear
from nnlab.nn.parameter import Parameter
from nnlab.ops.scatter import index_gather, scatter_softmax
from nnlab.tensor import Tensor

__all__ = ["GATConv"]


class GATConv(MessagePassing):
    """Multi-head graph attention (see the module docstring for the formula).

    Args:
        in_channels: features per input node.
        out_channels: features per head.
        heads: the number of attention heads. Default: 1.
        concat: concatenate the heads (output heads · out_channels) rather than average
            them (output out_channels). Default: True.
        negative_slope: of the LeakyReLU on the attention scores. Default: 0.2.
        dropout: probability of dropping an attention coefficient in training. Default: 0.
        add_self_loops: let each node attend to itself. Default: True.
        edge_dim: the width of edge features entering the scores, or None. Default: None.
        fill_value: the edge features of the added self-loops: ``"mean"`` of the node's
            incoming edge features (default) or a number.
        bias: learn an additive bias. Default: True.
        residual: add a linear projection of the input (``res``). Default: False.

    Shape: x (N, in_channels), edge_index (2, E), edge_attr (E, edge_dim)
    → (N, heads · out_channels) or (N, out_channels).
    Parameters: ``lin.weight``, ``att_src``, ``att_dst`` (1, heads, out_channels),
    ``lin_edge.weight``, ``att_edge``, ``res.weight``, ``bias``, as PyG's.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        edge_dim: int | None = None,
        fill_value: float | str = "mean",
        bias: bool = True,
        residual: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(node_dim=0, **kwargs)
        if not isinstance(in_channels, int):
            raise TypeError(
                f"GATConv: in_channels must be an int (bipartite pairs are not supported), "
                f"got {in_channels!r}"
            )
        self.in_channels, self.out_channels, self.heads = in_channels, out_channels, heads
        self.concat, self.negative_slope, self.dropout = concat, negative_slope, dropout
        self.add_self_loops, self.edge_dim, self.fill_value = add_self_loops, edge_dim, fill_value
        self.residual = residual
        d = dtypes.get_default_dtype()
        self.lin = Linear(in_channels, heads * out_channels, bias=False)
        self.att_src = Parameter(np.empty((1, heads, out_channels), dtype=d))
        self.att_dst = Parameter(np.empty((1, heads, out_channels), dtype=d))
        if edge_dim is not None:
            self.lin_edge = Linear(edge_dim, heads * out_channels, bias=False)
            self.att_edge = Parameter(np.empty((1, heads, out_channels), dtype=d))
        else:
            self.lin_edge = None
            self.register_parameter("att_edge", None)
        total = out_channels * (heads if concat else 1)
        self.res = Linear(in_channels, total, bias=False) if residual else None
        if bias:
            self.bias = Parameter(np.empty(total, dtype=d))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyG's "glorot" everywhere, zeros for the bias
        for w in (self.lin.weight, self.att_src, self.att_dst):
            init.xavier_uniform_(w)
        for layer in (self.lin_edge, self.res):
            if layer is not None:
                init.xavier_uniform_(layer.weight)
        if self.att_edge is not None:
            init.xavier_uniform_(self.att_edge)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(
        self,
        x: Tensor,
        edge_index: Any,
        edge_attr: Any = None,
        return_attention_weights: bool | None = None,
    ) -> Tensor | tuple[Tensor, tuple[np.ndarray, Tensor]]:
        if x.ndim != 2 or x.shape[1] != self.in_channels:
            raise self.shape_error(f"(num_nodes, {self.in_channels})", x.shape)
        heads, width, n = self.heads, self.out_channels, x.shape[0]
        h = self.lin(x).reshape(n, heads, width)
        score_src = (h * self.att_src).sum(-1)
        score_dst = (h * self.att_dst).sum(-1)
        ei = as_edge_index("GATConv", edge_index)
        if self.add_self_loops:
            ei, edge_attr = remove_self_loops(ei, edge_attr)
            ei, edge_attr = add_self_loops(ei, edge_attr, self.fill_value, n)
        alpha = index_gather(score_src, ei[0]) + index_gather(score_dst, ei[1])
        if edge_attr is not None and self.lin_edge is not None:
            e = edge_attr.reshape(-1, 1) if edge_attr.ndim == 1 else edge_attr
            e = self.lin_edge(e).reshape(-1, heads, width)
            alpha = alpha + (e * self.att_edge).sum(-1)
        alpha = F.leaky_relu(alpha, self.negative_slope)
        alpha = scatter_softmax(alpha, ei[1], num_nodes=n)
        alpha = F.dropout(alpha, p=self.dropout, training=self.training)
        out = self.propagate(ei, x=h, alpha=alpha)
        out = out.reshape(n, heads * width) if self.concat else out.mean(1)
        if self.res is not None:
            out = out + self.res(x)
        if self.bias is not None:
            out = out + self.bias
        if return_attention_weights:
            return out, (ei, alpha)
        return out

    def message(self, x_j: Tensor, alpha: Tensor) -> Tensor:
        return alpha.unsqueeze(-1) * x_j

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, heads={self.heads}"
