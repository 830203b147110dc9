"""Classifying texts with a pretrained sentence encoder: the pieces transfer learning uses.

all-MiniLM-L6-v2 was trained on about a billion sentence pairs to put texts of similar
meaning close together, so a small task can borrow that knowledge by **feature
extraction** (a head trained on the frozen encoder's embeddings) or by **fine-tuning** the
top k encoder layers at a learning rate much smaller than the head's. This module holds
what both need:

* :class:`TopLayersClassifier` — copies of the top k encoder layers, mean pooling and a
  linear head, trained on the states that enter layer L - k;
* :func:`layer_inputs` and :func:`run_layers` — those states, computed once with the
  frozen lower layers (no graph), so each training step runs only the top k layers;
* :func:`predict_labels` and :func:`sentiment_scores` — predictions and the scores of the
  sentiment task of :mod:`nnlab.data.datasets.sentiment` (all posts and negated ones).

The experiments that compare the two ways are in the repository's ``experiments/``
folder (``text_transfer.py``); :class:`~nnlab.models.SentenceClassifier` is the same idea
as one model that a run config can train. Zero-shot, few-shot and search, which train
nothing, are in :mod:`nnlab.text.similarity`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from nnlab.autograd.grad_mode import no_grad
from nnlab.data.datasets.sentiment import SentimentSplit
from nnlab.metrics import accuracy, f1_score
from nnlab.nn import functional as F
from nnlab.nn.module import Module
from nnlab.nn.modules.container import ModuleList
from nnlab.nn.modules.linear import Linear
from nnlab.nn.utils.masking import masked_mean
from nnlab.ops.attention import attention_bias
from nnlab.tensor import Tensor

__all__ = [
    "sentiment_scores",
    "predict_labels",
    "TopLayersClassifier",
    "layer_inputs",
    "run_layers",
]


def sentiment_scores(split: SentimentSplit, predicted: Any) -> dict[str, float]:
    """Accuracy and F1 (positive class) on ``split`` and on its negated posts.

    Example:
        >>> split = SentimentSplit(["a", "b", "c", "d"], np.array([1, 0, 1, 0]),
        ...                        np.array([True, True, False, False]))
        >>> sentiment_scores(split, [1, 1, 1, 0])
        {'accuracy': 0.75, 'f1': 0.8, 'negation_accuracy': 0.5, 'negation_f1': 0.6666666666666666}
    """
    pred = np.asarray(predicted, dtype=np.int64)
    neg = split.negation
    return {
        "accuracy": accuracy(split.labels, pred),
        "f1": float(f1_score(split.labels, pred, zero_division=0)),
        "negation_accuracy": accuracy(split.labels[neg], pred[neg]),
        "negation_f1": float(f1_score(split.labels[neg], pred[neg], zero_division=0)),
    }


def predict_labels(model: Module, *inputs: Any, batch_size: int = 256) -> np.ndarray:
    """argmax of ``model(*inputs)`` in eval mode, batched, without a graph."""
    model.eval()
    n = len(inputs[0])
    out = []
    with no_grad():
        for s in range(0, n, batch_size):
            batch = [Tensor(np.asarray(a[s : s + batch_size])) for a in inputs]
            out.append(model(*batch).array.argmax(axis=1))
    return np.concatenate(out).astype(np.int64)


# -- fine-tuning the top layers -------------------------------------------------------------


class TopLayersClassifier(Module):
    """The top ``k`` layers of a BERT encoder, mean pooling, L2 normalisation and a linear
    head: the part of a sentence classifier that fine-tuning trains.

    It reads the hidden states that enter encoder layer ``L - k`` (computed once by
    :func:`layer_inputs` with the frozen lower layers) and the attention mask. The layers
    are *copies*, so fine-tuning leaves the encoder it came from unchanged. ``k = 0`` is
    feature extraction: mean pooling of the final states and the head, nothing else.

    Args:
        model: the :class:`~nnlab.models.BertModel` to take the layers from.
        k: how many top layers to fine-tune (0..L).
        num_classes: outputs of the head (default: 2).

    Shape:
        - hidden: (N, T, H) states entering layer L - k; mask: (N, T), 1 = real token.
        - Output: (N, num_classes) logits.

    Example:
        >>> import nnlab
        >>> from nnlab.models import BertConfig, BertModel
        >>> cfg = BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=3,
        ...                  num_attention_heads=2, intermediate_size=16)
        >>> clf = TopLayersClassifier(BertModel(cfg), k=1)
        >>> h = nnlab.randn(2, 5, 8)
        >>> clf(h, np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])).shape
        nnlab.Size([2, 2])
    """

    def __init__(self, model: Any, k: int, num_classes: int = 2) -> None:
        super().__init__()
        total = len(model.encoder.layer)
        if not 0 <= k <= total:
            raise ValueError(f"TopLayersClassifier: k must be in [0, {total}], got {k}")
        self.k = k
        self.start = total - k
        self.layers = ModuleList(
            [copy.deepcopy(model.encoder.layer[i]) for i in range(self.start, total)]
        )
        self.head = Linear(model.config.hidden_size, num_classes)

    def features(self, hidden: Any, mask: Any) -> Tensor:
        """The L2-normalised mean of the top layers' output over the real tokens."""
        m = np.asarray(mask.array if isinstance(mask, Tensor) else mask).astype(np.int64)
        width = max(int(m.sum(1).max()), 1)  # trim the padding columns of this batch
        m = m[:, :width]
        h = hidden if isinstance(hidden, Tensor) else Tensor(np.asarray(hidden))
        h = h[:, :width]
        bias = _key_bias(m)
        for layer in self.layers:
            h = layer(h, bias)
        return F.normalize(masked_mean(h, m), p=2.0, dim=1)

    def forward(self, hidden: Any, mask: Any) -> Tensor:
        return self.head(self.features(hidden, mask))

    def extra_repr(self) -> str:
        return f"k={self.k}, first_layer={self.start}"


def _key_bias(mask: np.ndarray) -> np.ndarray | None:
    """BERT's additive key mask (N, 1, 1, T): 0 for real tokens, -inf for padding."""
    if mask.all():
        return None
    return attention_bias(mask != 0, np.float32)[:, None, None, :]


def layer_inputs(
    encoder: Any, texts: Sequence[str], start: int, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """The hidden states entering encoder layer ``start`` (0 = the embeddings' output,
    L = the final states), computed once in eval mode without a graph.

    Returns:
        ``(hidden, mask)``: float32 (N, T, H) and int64 (N, T), padded to the longest text.
    """
    model = encoder.model
    ids, mask = encoder.tokenize(list(texts))
    out = np.zeros((*ids.shape, model.config.hidden_size), dtype=np.float32)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            for s in range(0, len(ids), batch_size):
                i, m = ids[s : s + batch_size], mask[s : s + batch_size]
                width = max(int(m.sum(1).max()), 1)
                i, m = i[:, :width], m[:, :width]
                bias = _key_bias(m)
                h = model.embeddings(i, np.zeros_like(i))
                for layer in model.encoder.layer[:start]:
                    h = layer(h, bias)
                out[s : s + batch_size, :width] = h.array
    finally:
        model.train(was_training)
    return out, mask


def run_layers(
    layers: Sequence[Module], hidden: np.ndarray, mask: np.ndarray, batch_size: int = 64
) -> np.ndarray:
    """``hidden`` (N, T, H) through ``layers`` in turn without a graph, batch by batch:
    the states entering the layer after the last of ``layers``.

    With :func:`layer_inputs`, this computes the states entering each of the top layers
    once, e.g. ``run_layers([model.encoder.layer[j]], hidden_j, mask)`` for layer j + 1.

    Args:
        layers: encoder layers (``BertLayer``), called as ``layer(h, bias)``.
        hidden: float32 (N, T, H) states entering ``layers[0]``.
        mask: int (N, T), 1 = real token (as :func:`layer_inputs` returns it).
        batch_size: texts per forward pass (default: 64).

    Returns:
        A new float32 (N, T, H) array; padding columns beyond each batch's longest text
        keep the values of ``hidden``.
    """
    out = hidden.copy()
    with no_grad():
        for s in range(0, len(hidden), batch_size):
            m = mask[s : s + batch_size]
            width = max(int(m.sum(1).max()), 1)
            m = m[:, :width]
            h = Tensor(hidden[s : s + batch_size, :width])
            bias = _key_bias(m)
            for layer in layers:
                h = layer(h, bias)
            out[s : s + batch_size, :width] = h.array
    return out
