"""Neural-network building blocks: ``Module``, ``Parameter``, layers, losses, init.

``nnlab.nn.functional`` holds the stateless ops (``import nnlab.nn.functional as F``).
"""

from nnlab.nn import functional
from nnlab.nn.module import IncompatibleKeys, Module, ShapeError
from nnlab.nn.parameter import Buffer, Parameter

__all__ = ["Buffer", "IncompatibleKeys", "Module", "Parameter", "ShapeError", "functional"]

# Layers: containers, linear, activations, dropout, normalization, perceptron, MLP, init.
from nnlab.nn import init, utils  # noqa: E402
from nnlab.nn.modules import (  # noqa: E402
    ELU,
    GELU,
    MLP,
    BatchNorm1d,
    Bilinear,
    Dropout,
    Flatten,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    LogSoftmax,
    ModuleDict,
    ModuleList,
    Perceptron,
    ReLU,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
    Unflatten,
)  # fmt: skip

__all__ += [
    "BatchNorm1d", "Bilinear", "Dropout", "ELU", "Flatten", "GELU", "Identity", "LayerNorm",
    "LeakyReLU", "Linear", "LogSoftmax", "MLP", "ModuleDict", "ModuleList", "Perceptron",
    "ReLU", "Sequential", "SiLU", "Sigmoid", "Softmax", "Softplus", "Tanh", "Unflatten",
    "init", "utils",
]  # fmt: skip

# Losses.
from nnlab.nn.modules.loss import (  # noqa: E402
    BCELoss,
    BCEWithLogitsLoss,
    ContrastiveLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    HingeEmbeddingLoss,
    HingeLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    MultiMarginLoss,
    NLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    TripletMarginLoss,
)

__all__ += [
    "BCELoss", "BCEWithLogitsLoss", "ContrastiveLoss", "CosineEmbeddingLoss", "CrossEntropyLoss",
    "HingeEmbeddingLoss", "HingeLoss", "HuberLoss", "KLDivLoss", "L1Loss", "MSELoss",
    "MarginRankingLoss", "MultiMarginLoss", "NLLLoss", "SmoothL1Loss", "SoftMarginLoss",
    "TripletMarginLoss",
]  # fmt: skip
