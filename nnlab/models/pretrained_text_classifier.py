"""Transfer learning for text: a pretrained sentence encoder with a new classification head.

The encoder (all-MiniLM-L6-v2, a 6-layer BERT trained on a billion sentence pairs) already
maps sentences with similar meanings to nearby vectors. A classifier for a new task then
needs only a small head on top of those vectors:

- **feature extraction** (``trainable_layers=0``): the encoder is frozen, only the head
  learns; few parameters, little data needed, and no gradient flows through the encoder;
- **fine-tuning** (``trainable_layers=k``): the top k encoder layers learn too, usually
  with a smaller learning rate (parameter groups), adapting the features to the task.

Inputs are the encoder's own token ids ``(N, T)``, ``[PAD]`` (id 0) on the right; the
mean over the real tokens is the sentence vector, as in sentence-transformers.
"""

from __future__ import annotations

from typing import Any

from nnlab.models.bert import load_minilm
from nnlab.models.registry import register_model
from nnlab.nn import functional as F
from nnlab.nn.module import Module
from nnlab.nn.modules.activation import ReLU
from nnlab.nn.modules.container import Sequential
from nnlab.nn.modules.dropout import Dropout
from nnlab.nn.modules.linear import Linear
from nnlab.nn.utils.masking import masked_mean, token_ids
from nnlab.nn.utils.transfer import freeze, unfreeze
from nnlab.tensor import Tensor

__all__ = ["SentenceClassifier"]


@register_model(
    "sentence_encoder",
    reads="tokens",
    pretrained="all-MiniLM-L6-v2",
    args=lambda d: {"num_classes": d.outputs},
)
class SentenceClassifier(Module):
    """Logits (N, classes) from a pretrained BERT encoder, mean pooling, L2 normalisation
    and a linear (or one-hidden-layer) head.

    Every encoder parameter is frozen except those of the top ``trainable_layers``
    layers; ``encoder`` defaults to all-MiniLM-L6-v2 (:func:`nnlab.models.load_minilm`).

    Args:
        num_classes: number of labels.
        hidden: width of a hidden ReLU layer in the head, 0 for a linear head (default: 0).
        trainable_layers: how many of the top encoder layers learn (default: 0: frozen).
        dropout: dropout on the sentence vector (default: 0.1).
        encoder: a :class:`~nnlab.models.BertModel` (default: all-MiniLM-L6-v2).
        pad_id: the padding token id (default: the encoder's ``pad_token_id``).

    Example:
        >>> import nnlab
        >>> from nnlab.models import BertConfig, BertModel
        >>> tiny = BertModel(BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=2,
        ...                             num_attention_heads=2, intermediate_size=16))
        >>> clf = SentenceClassifier(3, encoder=tiny, trainable_layers=1)
        >>> clf(nnlab.tensor([[5, 6, 7], [8, 9, 0]])).shape
        nnlab.Size([2, 3])
        >>> sum(p.requires_grad for p in tiny.encoder.layer[0].parameters())
        0
    """

    def __init__(
        self,
        num_classes: int,
        hidden: int = 0,
        trainable_layers: int = 0,
        dropout: float = 0.1,
        encoder: Any = None,
        pad_id: int | None = None,
    ) -> None:
        super().__init__()
        if encoder is None:
            encoder, _ = load_minilm()
        layers = encoder.encoder.layer
        if not 0 <= trainable_layers <= len(layers):
            raise ValueError(
                f"SentenceClassifier: trainable_layers must be in [0, {len(layers)}], got "
                f"{trainable_layers}"
            )
        self.encoder = encoder
        self.trainable_layers = trainable_layers
        self.pad_id = encoder.config.pad_token_id if pad_id is None else pad_id
        freeze(encoder)
        for layer in list(layers)[len(layers) - trainable_layers :]:
            unfreeze(layer)
        dim = encoder.config.hidden_size
        self.dropout = Dropout(dropout)
        if hidden:
            self.head: Module = Sequential(Linear(dim, hidden), ReLU(), Linear(hidden, num_classes))
        else:
            self.head = Linear(dim, num_classes)

    def forward(self, ids: Tensor) -> Tensor:
        ids = token_ids(self, ids, self.pad_id)  # checked, all-padding columns dropped
        real = ids.array != self.pad_id
        hidden = self.encoder(ids.array, real.astype(ids.dtype))
        pooled = F.normalize(masked_mean(hidden, real), p=2.0, dim=1)
        return self.head(self.dropout(pooled))

    def extra_repr(self) -> str:
        return f"trainable_layers={self.trainable_layers}"
