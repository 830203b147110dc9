"""The layers of ``nnlab.nn``, one family per file, all re-exported by ``nnlab.nn``.

Each file's ``__all__`` is the one list of its public names: it is imported here name by
name (so that editors and type checkers see every layer) and ``__all__`` below is their
union. A new layer goes into its file's ``__all__`` and the import here;
``tests/nn/test_exports.py`` checks that the two agree.

The torch-path aliases ``batchnorm``, ``module`` and ``sparse`` (``torch.nn.modules.batchnorm``
and so on) re-export layers that live elsewhere, so they add nothing here.
"""

# ruff: noqa: F401  (every import below is a re-export; ruff does not read `__all__ += m.__all__`)

from nnlab.nn.modules import (
    activation,
    attention,
    container,
    conv,
    distillation,
    dropout,
    embedding,
    focal_loss,
    linear,
    loss,
    metric_loss,
    mlp,
    normalization,
    padding,
    perceptron,
    pooling,
    positional,
    rnn,
    segmentation_loss,
    sync_batchnorm,
    task_weighting,
    transformer,
    upsampling,
)
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
)
from nnlab.nn.modules.attention import (
    AdditiveAttention,
    DotProductAttention,
    MultiheadAttention,
)
from nnlab.nn.modules.container import (
    ModuleDict,
    ModuleList,
    Sequential,
)
from nnlab.nn.modules.conv import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
)
from nnlab.nn.modules.distillation import (
    DistillationLoss,
)
from nnlab.nn.modules.dropout import (
    Dropout,
    Dropout1d,
    Dropout2d,
    Dropout3d,
)
from nnlab.nn.modules.embedding import (
    Embedding,
)
from nnlab.nn.modules.focal_loss import (
    FocalLoss,
)
from nnlab.nn.modules.linear import (
    Bilinear,
    Flatten,
    Identity,
    Linear,
    Unflatten,
)
from nnlab.nn.modules.loss import (
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
from nnlab.nn.modules.metric_loss import (
    NTXentLoss,
)
from nnlab.nn.modules.mlp import (
    MLP,
)
from nnlab.nn.modules.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
    LocalResponseNorm,
)
from nnlab.nn.modules.padding import (
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
from nnlab.nn.modules.perceptron import (
    Perceptron,
)
from nnlab.nn.modules.pooling import (
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
from nnlab.nn.modules.positional import (
    LearnedPositionalEncoding,
    SinusoidalPositionalEncoding,
    sinusoidal_table,
)
from nnlab.nn.modules.rnn import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    LSTMCell,
    RNNBase,
    RNNCell,
    RNNCellBase,
)
from nnlab.nn.modules.segmentation_loss import (
    DiceLoss,
)
from nnlab.nn.modules.sync_batchnorm import (
    SyncBatchNorm,
)
from nnlab.nn.modules.task_weighting import (
    UncertaintyWeighting,
)
from nnlab.nn.modules.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from nnlab.nn.modules.upsampling import (
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
)

__all__: list[str] = []
__all__ += activation.__all__
__all__ += attention.__all__
__all__ += container.__all__
__all__ += conv.__all__
__all__ += distillation.__all__
__all__ += dropout.__all__
__all__ += embedding.__all__
__all__ += focal_loss.__all__
__all__ += linear.__all__
__all__ += loss.__all__
__all__ += metric_loss.__all__
__all__ += mlp.__all__
__all__ += normalization.__all__
__all__ += padding.__all__
__all__ += perceptron.__all__
__all__ += pooling.__all__
__all__ += positional.__all__
__all__ += rnn.__all__
__all__ += segmentation_loss.__all__
__all__ += sync_batchnorm.__all__
__all__ += task_weighting.__all__
__all__ += transformer.__all__
__all__ += upsampling.__all__
# The table behind the sinusoidal encoding is a function, not a layer: it stays in its file.
__all__.remove("sinusoidal_table")
# The function forms of NT-Xent and distillation stay in their files
# (nnlab.nn.modules.metric_loss.nt_xent_loss, nnlab.nn.modules.distillation.distillation_loss).
__all__.remove("nt_xent_loss")
__all__.remove("distillation_loss")
