"""Graph convolutions on the message-passing base: GCN, GraphSAGE, GIN and GINE, with PyTorch
Geometric's names, arguments and parameter names (a PyG ``state_dict`` loads unchanged).

Each layer's node-wise formula, for node i with incoming neighbours N(i):

* GCN (Kipf & Welling 2017):  x'_i = Θᵀ Σ_{j ∈ N(i) ∪ {i}} e_ji / √(d̂_j d̂_i) · x_j + b,
  with d̂_i = 1 + Σ_{j ∈ N(i)} e_ji the degree counting the added self-loop.
* GraphSAGE (Hamilton et al. 2017):  x'_i = W₁ x_i + W₂ · mean_{j ∈ N(i)} x_j.
* GIN (Xu et al. 2019):  x'_i = h_Θ((1 + ε) x_i + Σ_{j ∈ N(i)} x_j), h an MLP; sum
  aggregation with an injective h makes it as discriminative as the Weisfeiler-Lehman test.
* GINE (Hu et al. 2020):  as GIN with messages ReLU(x_j + W e_ji) carrying edge features.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import nnlab
import nnlab.nn.functional as F
from nnlab import dtypes
from nnlab.geometric.nn.message_passing import MessagePassing
from nnlab.geometric.utils import add_remaining_self_loops, as_edge_index
from nnlab.nn import init
from nnlab.nn.module import Module
from nnlab.nn.modules.linear import Linear
from nnlab.nn.parameter import Parameter
from nnlab.ops.scatter import index_gather, scatter
from nnlab.tensor import Tensor

__all__ = ["GCNConv", "GINConv", "GINEConv", "SAGEConv", "gcn_norm"]


def _check_nodes(layer: Module, x: Tensor, in_channels: int) -> None:
    if x.ndim != 2 or (in_channels > 0 and x.shape[1] != in_channels):
        raise layer.shape_error(
            f"(num_nodes, {in_channels})",
            x.shape,
            "node features are one row per node; in_channels must match their width",
        )


def gcn_norm(
    edge_index: Any,
    edge_weight: Any = None,
    num_nodes: int | None = None,
    improved: bool = False,
    add_self_loops: bool = True,
    flow: str = "source_to_target",
    dtype: Any = None,
) -> tuple[np.ndarray, Tensor]:
    """GCN's symmetric normalisation: self-loops (weight 1, or 2 when ``improved``) are
    added to nodes without one, then each edge j → i is weighted e_ji / √(d̂_j d̂_i), with d̂
    the weighted in-degree; a node of degree 0 gets weight 0 instead of 1/0.

    PyG 2.8 ignores ``improved`` when no ``edge_weight`` is given (its self-loops then get
    weight 1); nnlab follows the documented formula Â = A + 2I in both cases."""
    ei = as_edge_index("gcn_norm", edge_index)
    n = int(ei.max()) + 1 if num_nodes is None and ei.size else int(num_nodes or 0)
    d = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    if edge_weight is None:
        edge_weight = nnlab.ones(ei.shape[1], dtype=d)
    if add_self_loops:
        ei, edge_weight = add_remaining_self_loops(ei, edge_weight, 2.0 if improved else 1.0, n)
    row, col = (ei[0], ei[1]) if flow == "source_to_target" else (ei[1], ei[0])
    deg = scatter(edge_weight, col, dim=0, dim_size=n, reduce="sum")
    positive = deg.array > 0
    safe = nnlab.where(nnlab.tensor(positive), deg, nnlab.ones_like(deg))
    inv_sqrt = safe.pow(-0.5) * nnlab.tensor(positive.astype(safe.dtype))
    norm = index_gather(inv_sqrt, row) * edge_weight * index_gather(inv_sqrt, col)
    return ei, norm


class GCNConv(MessagePassing):
    """Graph convolution x' = D̂^{-1/2} Â D̂^{-1/2} X Θ + b, with Â = A + I (see the module
    docstring for the node-wise formula).

    Args:
        in_channels: features per input node.
        out_channels: features per output node.
        improved: use Â = A + 2I. Default: False.
        cached: compute the normalised edge weights once and reuse them (only for a fixed
            graph, as in transductive node classification). Default: False.
        add_self_loops: add self-loops before normalising. Default: ``normalize``.
        normalize: apply the symmetric normalisation. Default: True.
        bias: learn an additive bias. Default: True.

    Shape: x (N, in_channels), edge_index (2, E), edge_weight (E,) → (N, out_channels).
    Parameters: ``lin.weight`` (out, in), ``bias`` (out,), as PyG's.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        improved: bool = False,
        cached: bool = False,
        add_self_loops: bool | None = None,
        normalize: bool = True,
        bias: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        if add_self_loops is None:
            add_self_loops = normalize
        if add_self_loops and not normalize:
            raise ValueError(
                "GCNConv: add_self_loops=True needs normalize=True (self-loops are added as "
                "part of the normalisation)"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.improved, self.cached = improved, cached
        self.add_self_loops, self.normalize = add_self_loops, normalize
        self._cached_edge_index: tuple[np.ndarray, Tensor] | None = None
        self.lin = Linear(in_channels, out_channels, bias=False)
        if bias:
            self.bias = Parameter(np.zeros(out_channels, dtype=dtypes.get_default_dtype()))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.xavier_uniform_(self.lin.weight)  # PyG's "glorot"
        if self.bias is not None:
            init.zeros_(self.bias)
        self._cached_edge_index = None

    def forward(self, x: Tensor, edge_index: Any, edge_weight: Any = None) -> Tensor:
        _check_nodes(self, x, self.in_channels)
        if self.normalize:
            if self._cached_edge_index is None:
                normed = gcn_norm(
                    edge_index, edge_weight, x.shape[0], self.improved, self.add_self_loops,
                    self.flow, x.dtype,
                )  # fmt: skip
                if self.cached:
                    self._cached_edge_index = normed
            else:
                normed = self._cached_edge_index
            edge_index, edge_weight = normed
        out = self.propagate(edge_index, x=self.lin(x), edge_weight=edge_weight)
        return out if self.bias is None else out + self.bias

    def message(self, x_j: Tensor, edge_weight: Any = None) -> Tensor:
        if edge_weight is None:
            return x_j
        return nnlab.as_tensor(edge_weight).reshape(-1, 1) * x_j

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}"


class SAGEConv(MessagePassing):
    """GraphSAGE: x'_i = W₁ x_i + W₂ · aggr_{j ∈ N(i)} x_j (+ b), optionally ℓ2-normalised.

    Args:
        in_channels: features per input node, or a pair (source, target) for a bipartite
            graph.
        out_channels: features per output node.
        aggr: ``"mean"`` (default), ``"add"``, ``"max"`` or ``"min"``.
        normalize: divide each output row by its ℓ2 norm. Default: False.
        root_weight: add the W₁ x_i term. Default: True.
        bias: learn a bias (in ``lin_l``). Default: True.

    Parameters: ``lin_l.weight``, ``lin_l.bias`` (the neighbours' term), ``lin_r.weight``
    (the root's term), as PyG's.
    """

    def __init__(
        self,
        in_channels: int | tuple[int, int],
        out_channels: int,
        aggr: str = "mean",
        normalize: bool = False,
        root_weight: bool = True,
        bias: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(aggr=aggr, **kwargs)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.normalize, self.root_weight = normalize, root_weight
        pair = (in_channels, in_channels) if isinstance(in_channels, int) else in_channels
        self.lin_l = Linear(pair[0], out_channels, bias=bias)
        self.lin_r = Linear(pair[1], out_channels, bias=False) if root_weight else None

    def forward(self, x: Tensor | tuple[Tensor, Tensor], edge_index: Any) -> Tensor:
        pair = (x, x) if isinstance(x, Tensor) else tuple(x)
        _check_nodes(self, pair[0], self.lin_l.in_features)
        out = self.lin_l(self.propagate(edge_index, x=pair))
        if self.lin_r is not None and pair[1] is not None:
            out = out + self.lin_r(pair[1])
        return F.normalize(out, p=2.0, dim=-1) if self.normalize else out

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, aggr={self.aggr!r}"


class _GINBase(MessagePassing):
    """What GIN and GINE share: the MLP ``nn`` and ε (a parameter when ``train_eps``,
    otherwise a buffer, both named ``eps`` with shape (1,), as in PyG)."""

    def __init__(self, nn: Module, eps: float, train_eps: bool, **kwargs: Any) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        self.nn = nn
        self.initial_eps = eps
        value = np.full(1, eps, dtype=dtypes.get_default_dtype())
        if train_eps:
            self.eps = Parameter(value)
        else:
            self.register_buffer("eps", Tensor(value))

    def _combine(self, x: Tensor | tuple[Tensor, Tensor], edge_index: Any, **kw: Any) -> Tensor:
        pair = (x, x) if isinstance(x, Tensor) else tuple(x)
        out = self.propagate(edge_index, x=pair, **kw)
        if pair[1] is not None:
            out = out + (1 + self.eps) * pair[1]
        return self.nn(out)

    def extra_repr(self) -> str:
        return f"eps={self.initial_eps}"


class GINConv(_GINBase):
    """Graph isomorphism network layer: x'_i = nn((1 + ε) x_i + Σ_{j ∈ N(i)} x_j).

    Args:
        nn: the MLP h_Θ applied after aggregation (maps in_channels to the output width).
        eps: the initial ε. Default: 0.
        train_eps: learn ε. Default: False.

    >>> import nnlab
    >>> from nnlab.geometric.nn import GINConv
    >>> conv = GINConv(nnlab.nn.Identity())
    >>> conv(nnlab.tensor([[1.0], [10.0]]), nnlab.tensor([[0], [1]])).tolist()
    [[1.0], [11.0]]
    """

    def __init__(self, nn: Module, eps: float = 0.0, train_eps: bool = False, **kwargs) -> None:
        super().__init__(nn, eps, train_eps, **kwargs)

    def forward(self, x: Tensor | tuple[Tensor, Tensor], edge_index: Any) -> Tensor:
        return self._combine(x, edge_index)


def _in_features(nn: Module) -> int:
    """The input width of GINE's MLP: its first layer's ``in_features``."""
    first = nn[0] if isinstance(nn, nnlab.nn.Sequential) else nn
    width = getattr(first, "in_features", None) or getattr(first, "in_channels", None)
    if width is None:
        raise ValueError(
            "GINEConv: could not read the input width of nn (its first layer has no "
            "in_features); pass edge_dim=None and edge features of the node width instead"
        )
    return int(width)


class GINEConv(_GINBase):
    """GIN with edge features: x'_i = nn((1 + ε) x_i + Σ_{j ∈ N(i)} ReLU(x_j + W e_ji + c)).

    Args:
        nn, eps, train_eps: as :class:`GINConv`.
        edge_dim: the width of the edge features; when given, a linear map ``lin`` brings
            them to the node width, otherwise they must already have it.
    """

    def __init__(
        self,
        nn: Module,
        eps: float = 0.0,
        train_eps: bool = False,
        edge_dim: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(nn, eps, train_eps, **kwargs)
        self.lin = Linear(edge_dim, _in_features(nn)) if edge_dim is not None else None

    def forward(
        self, x: Tensor | tuple[Tensor, Tensor], edge_index: Any, edge_attr: Tensor
    ) -> Tensor:
        return self._combine(x, edge_index, edge_attr=nnlab.as_tensor(edge_attr))

    def message(self, x_j: Tensor, edge_attr: Tensor) -> Tensor:
        if self.lin is None and x_j.shape[-1] != edge_attr.shape[-1]:
            raise ValueError(
                f"GINEConv: edge features have {edge_attr.shape[-1]} columns but node "
                f"features {x_j.shape[-1]}; set edge_dim={edge_attr.shape[-1]} to map them"
            )
        if self.lin is not None:
            edge_attr = self.lin(edge_attr)
        return F.relu(x_j + edge_attr)
