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

# Attention and transformers.
from nnlab.nn.modules.attention import (  # noqa: E402
    AdditiveAttention,
    DotProductAttention,
    MultiheadAttention,
)
from nnlab.nn.modules.positional import (  # noqa: E402
    LearnedPositionalEncoding,
    SinusoidalPositionalEncoding,
)
from nnlab.nn.modules.transformer import (  # noqa: E402
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
