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

# Segmentation losses.
from nnlab.nn.modules.segmentation_loss import DiceLoss  # noqa: E402

__all__ += ["DiceLoss"]

# Convolution and padding.
from nnlab.nn.modules.conv import (  # noqa: E402
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
)
from nnlab.nn.modules.padding import (  # noqa: E402
    CircularPad1d,
    CircularPad2d,
    CircularPad3d,
    ConstantPad1d,
    ConstantPad2d,
    ConstantPad3d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad1d,
    ReplicationPad2d,
    ReplicationPad3d,
    ZeroPad1d,
    ZeroPad2d,
    ZeroPad3d,
)

__all__ += [
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
    "CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d",
    "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
    "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "ZeroPad1d", "ZeroPad2d",
    "ZeroPad3d",
]  # fmt: skip

# Pooling, upsampling, feature-map normalization and channel dropout.
from nnlab.nn.modules.dropout import Dropout1d, Dropout2d, Dropout3d  # noqa: E402
from nnlab.nn.modules.normalization import (  # noqa: E402
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LocalResponseNorm,
)
from nnlab.nn.modules.pooling import (  # noqa: E402
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    GlobalAvgPool,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
)
from nnlab.nn.modules.upsampling import (  # noqa: E402
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
)

__all__ += [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "BatchNorm2d", "BatchNorm3d", "Dropout1d", "Dropout2d", "Dropout3d", "GlobalAvgPool",
    "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LocalResponseNorm",
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
    "Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d",
]  # fmt: skip

# Attention and transformers.
from nnlab.nn.modules import (  # noqa: E402
    AdditiveAttention,
    DotProductAttention,
    LearnedPositionalEncoding,
    MultiheadAttention,
    SinusoidalPositionalEncoding,
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ += [
    "AdditiveAttention", "DotProductAttention", "LearnedPositionalEncoding",
    "MultiheadAttention", "SinusoidalPositionalEncoding", "Transformer", "TransformerDecoder",
    "TransformerDecoderLayer", "TransformerEncoder", "TransformerEncoderLayer",
]  # fmt: skip

# Embeddings and recurrent layers.
from nnlab.nn.modules.embedding import Embedding  # noqa: E402
from nnlab.nn.modules.rnn import (  # noqa: E402
    GRU,
    LSTM,
    RNN,
    GRUCell,
    LSTMCell,
    RNNBase,
    RNNCell,
    RNNCellBase,
)

__all__ += [
    "Embedding", "GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase",
]  # fmt: skip
