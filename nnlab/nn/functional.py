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
    pad,
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
