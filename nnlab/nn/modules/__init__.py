"""The layers of ``nnlab.nn``, one family per file (all re-exported by ``nnlab.nn``)."""

from nnlab.nn.modules.activation import (
    ELU,
    GELU,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)  # fmt: skip
from nnlab.nn.modules.container import ModuleDict, ModuleList, Sequential
from nnlab.nn.modules.dropout import Dropout
from nnlab.nn.modules.linear import Bilinear, Flatten, Identity, Linear, Unflatten
from nnlab.nn.modules.mlp import MLP
from nnlab.nn.modules.normalization import BatchNorm1d, LayerNorm
from nnlab.nn.modules.perceptron import Perceptron

__all__ = [
    "BatchNorm1d", "Bilinear", "Dropout", "ELU", "Flatten", "GELU", "Identity", "LayerNorm",
    "LeakyReLU", "Linear", "LogSoftmax", "MLP", "ModuleDict", "ModuleList", "Perceptron",
    "ReLU", "Sequential", "SiLU", "Sigmoid", "Softmax", "Softplus", "Tanh", "Unflatten",
]  # fmt: skip
