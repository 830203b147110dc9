"""``nnlab.nn.functional``: the stateless forms of activations and other ops, with
PyTorch's names and signatures (``import nnlab.nn.functional as F``)."""

from __future__ import annotations

from nnlab.ops import (
    dropout,
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    one_hot,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)  # fmt: skip

__all__ = [
    "dropout", "elu", "gelu", "leaky_relu", "linear", "log_softmax", "one_hot", "pad", "relu",
    "sigmoid", "silu", "softmax", "softplus", "tanh",
]  # fmt: skip

# Fused layers and losses (hand-written backward; composed twins beside them in nnlab.ops).
from nnlab.ops.linear import linear  # noqa: E402
from nnlab.ops.normalization import batch_norm, layer_norm  # noqa: E402

__all__ += ["batch_norm", "layer_norm"]

from nnlab.ops.cross_entropy import cross_entropy, nll_loss  # noqa: E402
from nnlab.ops.loss import (  # noqa: E402
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    smooth_l1_loss,
)
from nnlab.ops.margin_loss import (  # noqa: E402
    contrastive_loss,
    cosine_embedding_loss,
    hinge_embedding_loss,
    hinge_loss,
    margin_ranking_loss,
    multi_margin_loss,
    soft_margin_loss,
    triplet_margin_loss,
)

__all__ += [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "contrastive_loss",
    "cosine_embedding_loss", "cross_entropy", "hinge_embedding_loss", "hinge_loss", "huber_loss",
    "kl_div", "l1_loss", "margin_ranking_loss", "mse_loss", "multi_margin_loss", "nll_loss",
    "smooth_l1_loss", "soft_margin_loss", "triplet_margin_loss",
]  # fmt: skip

# Segmentation losses.
from nnlab.ops.segmentation_loss import dice_loss  # noqa: E402

__all__ += ["dice_loss"]

# The focal loss of dense detection (torchvision.ops.sigmoid_focal_loss).
from nnlab.ops.focal_loss import sigmoid_focal_loss  # noqa: E402

__all__ += ["sigmoid_focal_loss"]

# Convolution, and F.pad with every torch mode (constant goes to ops.shape.pad).
from nnlab.ops.conv import (  # noqa: E402
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
)
from nnlab.ops.padding import pad  # noqa: E402

__all__ += [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
]  # fmt: skip

# Pooling, upsampling, feature-map normalization and channel dropout.
from nnlab.ops.adaptive_pooling import (  # noqa: E402
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    global_avg_pool,
)
from nnlab.ops.dropout import dropout1d, dropout2d, dropout3d  # noqa: E402
from nnlab.ops.normalization import (  # noqa: E402
    group_norm,
    instance_norm,
    local_response_norm,
)
from nnlab.ops.pooling import (  # noqa: E402
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    max_pool1d,
    max_pool2d,
    max_pool3d,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
)
from nnlab.ops.upsampling import interpolate, upsample  # noqa: E402

__all__ += [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "adaptive_max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "dropout1d", "dropout2d", "dropout3d", "global_avg_pool", "group_norm", "instance_norm",
    "interpolate", "local_response_norm", "max_pool1d", "max_pool2d", "max_pool3d",
    "max_unpool1d", "max_unpool2d", "max_unpool3d", "upsample",
]  # fmt: skip

# Vector utilities.
from nnlab.ops._broadcast import broadcast_shapes as _broadcast_shapes  # noqa: E402
from nnlab.ops.elementwise import clamp as _clamp  # noqa: E402
from nnlab.ops.elementwise import floating as _floating  # noqa: E402
from nnlab.ops.reduction import vector_norm as _vector_norm  # noqa: E402
from nnlab.tensor import Tensor as _Tensor  # noqa: E402


def normalize(input: _Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> _Tensor:
    """x / max(‖x‖ₚ, eps) along ``dim``: each vector scaled to unit p-norm, zero vectors
    left at 0 (``F.normalize``). Composed of the norm, a clamp and a division.

    Example:
        >>> import nnlab
        >>> import nnlab.nn.functional as F
        >>> F.normalize(nnlab.tensor([[3.0, 4.0], [0.0, 0.0]]))
        tensor([[0.6, 0.8],
               [0. , 0. ]])
    """
    return input / _clamp(_vector_norm(input, p, dim, keepdim=True), min=eps)


def cosine_similarity(x1: _Tensor, x2: _Tensor, dim: int = 1, eps: float = 1e-8) -> _Tensor:
    """cos θ = Σ (x1 / max(‖x1‖, eps)) · (x2 / max(‖x2‖, eps)) along ``dim``, with x1 and
    x2 broadcast together first (``F.cosine_similarity``).

    As torch, the norms are clamped to ``eps`` outside autograd: the clamp changes the
    value but passes the norm's gradient through, even below ``eps``.

    Example:
        >>> import nnlab
        >>> import nnlab.nn.functional as F
        >>> F.cosine_similarity(nnlab.tensor([[1.0, 0.0]]), nnlab.tensor([[1.0, 1.0]]))
        tensor([0.7071])
    """
    x1, x2 = _floating(x1), _floating(x2)
    shape = _broadcast_shapes("cosine_similarity", x1.shape, x2.shape)
    x1, x2 = x1.expand(shape), x2.expand(shape)
    units = []
    for x in (x1, x2):
        n = _vector_norm(x, 2, dim, keepdim=True)
        # + (clamped - n) as a constant: the value max(n, eps), the gradient of n
        shift = _clamp(n.detach(), min=eps) - n.detach()
        units.append(x / (n + shift))
    return (units[0] * units[1]).sum(dim)


__all__ += ["cosine_similarity", "normalize"]

# Attention.
from nnlab.ops.attention import scaled_dot_product_attention  # noqa: E402
from nnlab.ops.multihead_attention import multi_head_attention_forward  # noqa: E402

__all__ += ["multi_head_attention_forward", "scaled_dot_product_attention"]

# Embeddings and recurrent steps.
from nnlab.ops.embedding import embedding  # noqa: E402
from nnlab.ops.recurrent_cells import gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell  # noqa: E402

__all__ += ["embedding", "gru_cell", "lstm_cell", "rnn_relu_cell", "rnn_tanh_cell"]
