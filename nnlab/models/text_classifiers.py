"""Sequence classifiers: one label for a whole sequence of tokens or of measurements.

Three ways to read a sentence, from the weakest to the strongest at word order:

- :class:`BagOfEmbeddings` averages the word vectors (fastText-style): fast and strong on
  topic, but blind to order, so "not good" and "good, not bad" look alike.
- :class:`RecurrentClassifier` reads the tokens one by one with an RNN/LSTM/GRU and
  classifies from its final hidden state, which can carry "a negation was just seen".
  It also reads continuous signals laid out as ``(N, C, L)`` like a ``Conv1d`` input
  (MNIST-1D: one channel, 40 steps).
- :class:`TransformerClassifier` lets every token attend to every other one
  (self-attention), adds positions, and pools the contextual vectors.

Token inputs are int64 ids ``(N, T)`` padded with ``pad_idx`` on the right: the models
find the real length of each row themselves, and padding never changes a prediction
(packed sequences for the RNNs, key padding masks for attention, masked means).
"""

from __future__ import annotations

import math

from nnlab.creation import arange
from nnlab.models.registry import register_model
from nnlab.nn.module import Module
from nnlab.nn.modules.dropout import Dropout
from nnlab.nn.modules.embedding import Embedding
from nnlab.nn.modules.linear import Linear
from nnlab.nn.modules.rnn import GRU, LSTM, RNN
from nnlab.nn.modules.transformer import TransformerEncoder, TransformerEncoderLayer
from nnlab.nn.utils.masking import masked_mean, token_ids
from nnlab.nn.utils.rnn import pack_padded_sequence
from nnlab.ops.shape import cat
from nnlab.tensor import Tensor

__all__ = ["BagOfEmbeddings", "RecurrentClassifier", "TransformerClassifier"]

_CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


@register_model(
    "bag_of_embeddings",
    reads="tokens",
    args=lambda d: {"vocab_size": d.vocab_size, "num_classes": d.outputs},
)
class BagOfEmbeddings(Module):
    """Average the embeddings of a text's tokens, then a linear layer: logits (N, classes).

    ``h = (1/n) Σ_{t < n} E[ids_t]``, ``logits = W h + b``, with n the number of real
    (non-padding) tokens. Word order is lost, which is the point of this baseline.

    Args:
        vocab_size: number of token ids.
        num_classes: number of labels.
        embed_dim: size of a token vector (default: 64).
        pad_idx: the padding id (default: 0); its embedding stays zero.
        dropout: dropout on the averaged vector (default: 0).

    Example:
        >>> import nnlab
        >>> BagOfEmbeddings(50, 2, embed_dim=8)(nnlab.tensor([[4, 7, 0], [3, 0, 0]])).shape
        nnlab.Size([2, 2])
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        embed_dim: int = 64,
        pad_idx: int = 0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.pad_idx = pad_idx
        self.embedding = Embedding(vocab_size, embed_dim, padding_idx=pad_idx)
        self.dropout = Dropout(dropout)
        self.fc = Linear(embed_dim, num_classes)

    def forward(self, ids: Tensor) -> Tensor:
        ids = token_ids(self, ids, self.pad_idx)
        pooled = masked_mean(self.embedding(ids), ids != self.pad_idx)
        return self.fc(self.dropout(pooled))


@register_model(
    "rnn", "lstm", "gru", reads=("tokens", "signal"),
    args=lambda d: {
        "num_classes": d.outputs, "cell": d.name,
        **({"vocab_size": d.vocab_size} if d.vocab_size else {"input_size": d.input_shape[0]}),
    },
)  # fmt: skip
class RecurrentClassifier(Module):
    """An RNN, LSTM or GRU reads the sequence; a linear layer classifies its final hidden
    state (both directions' when bidirectional): logits (N, classes).

    Give ``vocab_size`` for token ids (N, T), embedded first and packed by their real
    lengths, or ``input_size`` for continuous signals (N, C, L), read as L steps of C
    features (the layout of a ``Conv1d`` input).

    Args:
        num_classes: number of labels.
        cell: ``"lstm"``, ``"gru"`` or ``"rnn"`` (tanh) (default: "lstm").
        hidden_size: the recurrent state's size (default: 64).
        num_layers: stacked recurrent layers (default: 1).
        bidirectional: also read the sequence backwards (default: False).
        dropout: between stacked layers and before the classifier (default: 0).
        vocab_size: number of token ids (token input) (default: None).
        embed_dim: token vector size with ``vocab_size`` (default: 64).
        input_size: features per step C (continuous input) (default: None).
        pad_idx: the padding id of token input (default: 0).

    Example:
        >>> import nnlab
        >>> RecurrentClassifier(10, cell="gru", hidden_size=8, input_size=1)(
        ...     nnlab.randn(4, 1, 40)).shape
        nnlab.Size([4, 10])
        >>> RecurrentClassifier(2, hidden_size=8, vocab_size=30, embed_dim=6)(
        ...     nnlab.tensor([[5, 6, 7], [8, 0, 0]])).shape
        nnlab.Size([2, 2])
    """

    def __init__(
        self,
        num_classes: int,
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        vocab_size: int | None = None,
        embed_dim: int = 64,
        input_size: int | None = None,
        pad_idx: int = 0,
    ) -> None:
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(
                f"RecurrentClassifier: cell must be one of {', '.join(_CELLS)}, got {cell!r}"
            )
        if (vocab_size is None) == (input_size is None):
            raise ValueError(
                "RecurrentClassifier: give vocab_size (token ids) or input_size (continuous "
                "signals), exactly one of them"
            )
        self.cell, self.pad_idx = cell, pad_idx
        self.tokens = vocab_size is not None
        if self.tokens:
            self.embedding = Embedding(vocab_size, embed_dim, padding_idx=pad_idx)
            features = embed_dim
        else:
            features = input_size
        self.rnn = _CELLS[cell](
            features, hidden_size, num_layers=num_layers, batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0, bidirectional=bidirectional,
        )  # fmt: skip
        self.dropout = Dropout(dropout)
        self.fc = Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, x: Tensor) -> Tensor:
        if self.tokens:
            x = token_ids(self, x, self.pad_idx)
            lengths = (x != self.pad_idx).sum(1).array.clip(1, None)
            steps = pack_padded_sequence(
                self.embedding(x), lengths, batch_first=True, enforce_sorted=False
            )
        else:
            if x.ndim != 3 or x.shape[1] != self.rnn.input_size:
                raise ValueError(
                    f"{self.path()}: expected input (N, {self.rnn.input_size}, L), got "
                    f"{tuple(x.shape)}"
                )
            steps = x.transpose(1, 2)
        _, state = self.rnn(steps)
        h_n = state[0] if self.cell == "lstm" else state  # (layers·directions, N, H)
        if self.rnn.bidirectional:
            last = cat([h_n[-2], h_n[-1]], dim=1)
        else:
            last = h_n[-1]
        return self.fc(self.dropout(last))

    def extra_repr(self) -> str:
        return "tokens" if self.tokens else "continuous input"


@register_model(
    "transformer",
    reads="tokens",
    args=lambda d: {"vocab_size": d.vocab_size, "num_classes": d.outputs, "max_len": d.max_len},
)
class TransformerClassifier(Module):
    """A transformer encoder over token embeddings plus positions; the mean of the real
    tokens' contextual vectors goes to a linear layer: logits (N, classes).

    ``h_0 = √d · E[ids] + P``, P learned position vectors; ``h = Encoder(h_0)`` with a
    key padding mask so no token attends to padding; ``logits = W · mean_t h_t``.

    Args:
        vocab_size: number of token ids.
        num_classes: number of labels.
        d_model: token vector size (default: 64).
        nhead: attention heads (default: 4).
        num_layers: encoder layers (default: 2).
        dim_feedforward: hidden size of each feed-forward block (default: 128).
        dropout: dropout in the encoder and before the classifier (default: 0.1).
        max_len: longest sequence the position table covers (default: 128).
        pad_idx: the padding id (default: 0).
        norm_first: pre-norm encoder layers (default: True: trains more easily when small).

    Example:
        >>> import nnlab
        >>> net = TransformerClassifier(30, 2, d_model=16, nhead=2, num_layers=1)
        >>> net(nnlab.tensor([[5, 6, 7], [8, 0, 0]])).shape
        nnlab.Size([2, 2])
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        d_model: int = 64,
        nhead: int = 4,
        num_layers: int = 2,
        dim_feedforward: int = 128,
        dropout: float = 0.1,
        max_len: int = 128,
        pad_idx: int = 0,
        norm_first: bool = True,
    ) -> None:
        super().__init__()
        self.pad_idx, self.max_len, self.d_model = pad_idx, max_len, d_model
        self.embedding = Embedding(vocab_size, d_model, padding_idx=pad_idx)
        self.position = Embedding(max_len, d_model)
        layer = TransformerEncoderLayer(
            d_model, nhead, dim_feedforward, dropout, batch_first=True, norm_first=norm_first
        )
        self.encoder = TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.dropout = Dropout(dropout)
        self.fc = Linear(d_model, num_classes)

    def forward(self, ids: Tensor) -> Tensor:
        ids = token_ids(self, ids, self.pad_idx)
        n, t = ids.shape
        if t > self.max_len:
            raise ValueError(
                f"{self.path()}: sequences of {t} tokens exceed max_len={self.max_len}"
            )
        positions = arange(t).unsqueeze(0)
        h = self.embedding(ids) * math.sqrt(self.d_model) + self.position(positions)
        real = ids != self.pad_idx
        h = self.encoder(self.dropout(h), src_key_padding_mask=~real)
        return self.fc(self.dropout(masked_mean(h, real)))
