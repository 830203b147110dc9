"""``nnlab.nn.functional``: the stateless forms of activations and other ops, with
PyTorch's names and signatures (``import nnlab.nn.functional as F``)."""

from __future__ import annotations

from typing import Any

from nnlab.ops import (
    dropout,
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    one_hot,
    pad,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)  # fmt: skip
from nnlab.tensor import Tensor

__all__ = [
    "dropout", "elu", "gelu", "leaky_relu", "linear", "log_softmax", "one_hot", "pad", "relu",
    "sigmoid", "silu", "softmax", "softplus", "tanh",
]  # fmt: skip


def linear(x: Tensor, weight: Tensor, bias: Any = None) -> Tensor:
    """y = x Wᵀ + b, with W stored (out_features, in_features) as in PyTorch."""
    y = x @ weight.T
    return y if bias is None else y + bias

# --- layers: fused linear, batch_norm, layer_norm ---

# --- losses ---
