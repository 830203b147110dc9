"""The layers of :mod:`nnlab.nn` that a run config trains as whole models on feature rows:
a multilayer perceptron, a linear model and Rosenblatt's perceptron.

They are registered here rather than beside their classes because ``nnlab.nn`` mirrors
``torch.nn`` and knows nothing of run configs (lower layers never import higher ones).
"""

from __future__ import annotations

from collections.abc import Sequence

from nnlab.models.registry import register_model
from nnlab.nn.module import Module
from nnlab.nn.modules.linear import Linear
from nnlab.nn.modules.mlp import MLP
from nnlab.nn.modules.perceptron import Perceptron

__all__ = ["mlp_or_linear"]


@register_model(
    "mlp",
    reads="features",
    args=lambda d: {
        "in_features": d.input_shape[0], "hidden_sizes": list(d.config.hidden_sizes),
        "out_features": d.outputs, "activation": d.config.activation,
        "dropout": d.config.dropout, "norm": None if d.config.norm == "none" else d.config.norm,
    },
)  # fmt: skip
def mlp_or_linear(
    in_features: int,
    hidden_sizes: Sequence[int],
    out_features: int,
    activation: str = "relu",
    dropout: float = 0.0,
    norm: str | None = None,
    bias: bool = True,
) -> Module:
    """:class:`~nnlab.nn.MLP`, or a plain :class:`~nnlab.nn.Linear` when there are no
    hidden layers, so that its ``state_dict`` keys are a torch Linear's (``weight``,
    ``bias``) rather than a one-layer Sequential's (``0.weight``, ``0.bias``)."""
    if not hidden_sizes:
        return Linear(in_features, out_features, bias=bias)
    return MLP(in_features, hidden_sizes, out_features, activation=activation,
               dropout=dropout, norm=norm, bias=bias)  # fmt: skip


register_model(
    "linear",
    reads="features",
    args=lambda d: {"in_features": d.input_shape[0], "out_features": d.outputs},
)(Linear)

register_model(
    "perceptron", reads="features", args=lambda d: {"in_features": d.input_shape[0]},
    own_fit=True,
)(Perceptron)  # fmt: skip
