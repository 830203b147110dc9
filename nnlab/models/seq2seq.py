"""An encoder-decoder with attention for character sequences (Luong et al. 2015).

Sequence-to-sequence models map one sequence to another of a different length: a date
written ``"the 3rd of March 2021"`` to ``"2021-03-03"``, a sentence to its translation.
The **encoder**, a bidirectional GRU or LSTM, reads the source and leaves one vector per
source position, h̄ₛ (the memory). The **decoder**, a second GRU or LSTM started from the
encoder's final state, writes the target one token at a time; at each step t its state hₜ
*attends* to the memory::

    scores  eₜₛ = score(hₜ, h̄ₛ)       for every source position s (padding masked out)
    weights αₜₛ = softmax_s(eₜₛ)       where in the source to look
    context cₜ  = Σₛ αₜₛ h̄ₛ
    output  h̃ₜ  = tanh(W_c [cₜ; hₜ]),   p(yₜ | y<ₜ, x) = softmax(W_o h̃ₜ)

with three scores: ``"dot"`` hₜ·h̄ₛ/√H (scaled as in Vaswani et al. 2017, so the softmax
does not saturate), ``"general"`` hₜ·(W_a h̄ₛ)/√H, and ``"additive"`` wᵀ tanh(W_q hₜ + W_k h̄ₛ)
(Bahdanau's score, a small network).

**Why the attention comes after the RNN.** Bahdanau et al. (2015) attend with the
*previous* state hₜ₋₁ and feed the context into the RNN, and Luong's "input feeding" feeds
h̃ₜ₋₁ back in: both make step t wait for the attention of step t-1. Here, as in Luong's
plain model, the attention reads the RNN's output and nothing flows back into the RNN,
so under teacher forcing (the decoder reads the true previous tokens ``tgt_in``) the
decoder RNN runs **fused over all steps at once**, and the attention of all T steps is
one batched op. Decoding without the true tokens (scheduled sampling, greedy, beam search)
runs the same layers one step at a time and gives the same numbers.

**Padding never changes a result**: the encoder packs the source
(:func:`nnlab.nn.utils.rnn.pack_padded_sequence`), so each sequence's recurrence stops at
its own last token (the backward direction starts there), and the attention masks the
padded positions (weight exactly 0). Sources are right-padded with ``pad_idx``.

Decoding: :meth:`Seq2Seq.greedy_decode` takes the most likely token at each step;
:meth:`Seq2Seq.beam_search` keeps the ``beam_width`` best partial sequences, ranking the
finished ones by log p(y | x) / lp(|y|), GNMT's length penalty lp(n) = ((5 + n) / 6)^α
(Wu et al. 2016; α = 0 is the plain log-likelihood, larger α favours longer outputs).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnlab import nn
from nnlab.autograd.grad_mode import no_grad
from nnlab.models.registry import register_model
from nnlab.nn import functional as F
from nnlab.nn.module import Module
from nnlab.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from nnlab.ops.shape import cat, stack
from nnlab.random import Generator, _rng
from nnlab.tensor import Tensor

__all__ = ["Seq2Seq", "sequence_cross_entropy", "exact_match", "strip_sequence"]

_CELLS = ("gru", "lstm")
_ATTENTIONS = ("additive", "dot", "general")


def _ids(x: Any) -> np.ndarray:
    return np.asarray(x.array if isinstance(x, Tensor) else x)


def _as_ids(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.int64))


@register_model(
    "seq2seq",
    reads="token_pairs",
    tasks="seq2seq",
    args=lambda d: {"src_vocab_size": d.vocab_size, "tgt_vocab_size": d.outputs},
)
class Seq2Seq(Module):
    """Bidirectional GRU/LSTM encoder, GRU/LSTM decoder, Luong attention over the source.

    Children (``state_dict`` prefixes): ``src_embedding``, ``encoder`` (bidirectional,
    ``hidden_size // 2`` per direction, so its outputs and its concatenated final state
    have ``hidden_size`` features), ``tgt_embedding``, ``decoder``, ``attention``,
    ``key_proj`` (W_a, only for ``"general"``), ``combine`` (W_c), ``dropout``, ``out`` (W_o).

    Args:
        src_vocab_size: source token ids are in [0, src_vocab_size).
        tgt_vocab_size: V, the target vocabulary (the logits' last dim).
        embed_dim: size of the token embeddings (default: 32).
        hidden_size: H, the decoder's state size; even (default: 128).
        cell: ``"gru"`` or ``"lstm"`` (default: ``"gru"``).
        attention: ``"additive"``, ``"dot"`` or ``"general"`` (default: ``"additive"``).
        pad_idx: the padding id of both vocabularies (default: 0).
        sos_idx: the start token the decoder reads first (default: 2).
        eos_idx: the end token that stops decoding (default: 3).
        dropout: dropout on the embeddings and on h̃ₜ while training (default: 0.0).

    Shape:
        - src: (N, S) int64, right-padded with ``pad_idx``; tgt_in: (N, T) int64, starting
          with ``sos_idx`` (the target shifted right).
        - Output: logits (N, T, V).

    Example:
        >>> import nnlab
        >>> model = Seq2Seq(20, 8, embed_dim=8, hidden_size=16)
        >>> src = nnlab.tensor([[5, 6, 7, 0], [9, 4, 0, 0]])
        >>> tgt_in = nnlab.tensor([[2, 4, 5], [2, 6, 6]])
        >>> model(src, tgt_in).shape
        nnlab.Size([2, 3, 8])
        >>> ids, weights = model.greedy_decode(src, max_len=5)
        >>> ids.shape[0], weights.shape[0], weights.shape[2]
        (2, 2, 4)
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        embed_dim: int = 32,
        hidden_size: int = 128,
        cell: str = "gru",
        attention: str = "additive",
        pad_idx: int = 0,
        sos_idx: int = 2,
        eos_idx: int = 3,
        dropout: float = 0.0,
    ) -> None:
        if cell not in _CELLS:
            raise ValueError(f"Seq2Seq: cell must be 'gru' or 'lstm', got {cell!r}")
        if attention not in _ATTENTIONS:
            raise ValueError(
                f"Seq2Seq: attention must be 'additive', 'dot' or 'general', got {attention!r}"
            )
        if hidden_size < 2 or hidden_size % 2:
            raise ValueError(
                f"Seq2Seq: hidden_size must be even (the bidirectional encoder gives each "
                f"direction hidden_size // 2 features), got {hidden_size}"
            )
        for name, idx in (("pad_idx", pad_idx), ("sos_idx", sos_idx), ("eos_idx", eos_idx)):
            if not 0 <= idx < tgt_vocab_size:
                raise ValueError(
                    f"Seq2Seq: {name}={idx} is not a target id in [0, {tgt_vocab_size})"
                )
        super().__init__()
        self.src_vocab_size, self.tgt_vocab_size = src_vocab_size, tgt_vocab_size
        self.embed_dim, self.hidden_size = embed_dim, hidden_size
        self.cell, self.attention_type = cell, attention
        self.pad_idx, self.sos_idx, self.eos_idx = pad_idx, sos_idx, eos_idx
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        self.src_embedding = nn.Embedding(src_vocab_size, embed_dim, padding_idx=pad_idx)
        self.encoder = rnn(embed_dim, hidden_size // 2, batch_first=True, bidirectional=True)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, embed_dim, padding_idx=pad_idx)
        self.decoder = rnn(embed_dim, hidden_size, batch_first=True)
        if attention == "additive":
            self.attention = nn.AdditiveAttention(hidden_size, hidden_size, hidden_size)
        else:
            self.attention = nn.DotProductAttention(scaled=True)
        if attention == "general":
            self.key_proj = nn.Linear(hidden_size, hidden_size, bias=False)
        self.combine = nn.Linear(2 * hidden_size, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, tgt_vocab_size)

    # -- the encoder ----------------------------------------------------------------------

    def encode(self, src: Any) -> tuple[Tensor, Tensor, np.ndarray, Any]:
        """Run the encoder over a right-padded source.

        Returns:
            ``(memory, keys, padding_mask, state)``: memory (N, S, H), the encoder outputs
            (zero at padding); keys, what the attention scores against (W_a·memory for
            ``"general"``, else memory); padding_mask (N, S) bool, True at padding; the
            decoder's initial state, the final forward and backward states concatenated,
            (1, N, H) (a pair (h, c) for an LSTM).
        """
        src = _as_ids(src)
        ids = _ids(src)
        if ids.ndim != 2:
            raise self.shape_error("src (N, S) of token ids", src.shape)
        mask = ids == self.pad_idx
        lengths = (~mask).sum(axis=1)
        if (lengths == 0).any():
            raise ValueError(
                f"{self.path()} (Seq2Seq): source row {int(np.argmin(lengths))} is all padding; "
                "every source needs at least one token"
            )
        if (mask != (np.arange(ids.shape[1]) >= lengths[:, None])).any():
            raise ValueError(
                f"{self.path()} (Seq2Seq): sources must be right-padded: pad_idx={self.pad_idx} "
                "may only appear after a row's last token"
            )
        emb = self.dropout(self.src_embedding(src))
        packed = pack_padded_sequence(emb, lengths, batch_first=True, enforce_sorted=False)
        out, state = self.encoder(packed)
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
        if self.cell == "lstm":
            state = tuple(_join_directions(s) for s in state)
        else:
            state = _join_directions(state)
        keys = self.key_proj(memory) if self.attention_type == "general" else memory
        return memory, keys, mask, state

    # -- the decoder ----------------------------------------------------------------------

    def _attend(
        self, h: Tensor, memory: Tensor, keys: Tensor, mask: np.ndarray
    ) -> tuple[Tensor, Tensor]:
        """Logits (N, T, V) and attention weights (N, T, S) for decoder outputs h (N, T, H)."""
        context, weights = self.attention(h, keys, memory, key_padding_mask=mask)
        h_tilde = self.combine(cat([context, h], dim=-1)).tanh()
        return self.out(self.dropout(h_tilde)), weights

    def _step(
        self, y_prev: np.ndarray, state: Any, memory: Tensor, keys: Tensor, mask: np.ndarray
    ) -> tuple[Tensor, Any, Tensor]:
        """One decoder step from the previous tokens (N,): (logits (N, V), state, weights
        (N, S))."""
        emb = self.dropout(self.tgt_embedding(Tensor(y_prev.reshape(-1, 1).astype(np.int64))))
        h, state = self.decoder(emb, state)
        logits, weights = self._attend(h, memory, keys, mask)
        return logits[:, 0], state, weights[:, 0]

    def forward(
        self,
        src: Any,
        tgt_in: Any,
        teacher_forcing: float = 1.0,
        generator: Generator | None = None,
    ) -> Tensor:
        """Logits (N, T, V) for every step of ``tgt_in``.

        With ``teacher_forcing`` 1.0 (the default) the decoder reads the true previous
        tokens ``tgt_in`` and runs fused over all steps. Below 1.0 it runs step by step
        (:meth:`decode_steps`): after the first step each sample reads the true token with
        probability ``teacher_forcing`` and otherwise its own previous prediction
        ("scheduled sampling", Bengio et al. 2015), drawn from ``generator`` (default: the
        global generator, seeded by ``nnlab.manual_seed``).
        """
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(
                f"{self.path()} (Seq2Seq): teacher_forcing must be in [0, 1], got {teacher_forcing}"
            )
        if teacher_forcing < 1.0:
            return self.decode_steps(src, tgt_in, teacher_forcing, generator)
        tgt_in = _as_ids(tgt_in)
        if tgt_in.ndim != 2:
            raise self.shape_error("tgt_in (N, T) of token ids", tgt_in.shape)
        memory, keys, mask, state = self.encode(src)
        h, _ = self.decoder(self.dropout(self.tgt_embedding(tgt_in)), state)
        return self._attend(h, memory, keys, mask)[0]

    def decode_steps(
        self,
        src: Any,
        tgt_in: Any,
        teacher_forcing: float = 1.0,
        generator: Generator | None = None,
    ) -> Tensor:
        """The step-by-step twin of :meth:`forward`: logits (N, T, V), one decoder step at
        a time, each sample reading the true token ``tgt_in[:, t]`` with probability
        ``teacher_forcing`` and its own previous argmax otherwise (step 0 always reads
        ``tgt_in[:, 0]``). With 1.0 it computes what the fused :meth:`forward` does."""
        tgt = _ids(tgt_in)
        if tgt.ndim != 2:
            raise self.shape_error("tgt_in (N, T) of token ids", tgt.shape)
        memory, keys, mask, state = self.encode(src)
        rng = _rng(generator)
        y, steps = tgt[:, 0], []
        for t in range(tgt.shape[1]):
            logits, state, _ = self._step(y, state, memory, keys, mask)
            steps.append(logits)
            if t + 1 < tgt.shape[1]:
                own = logits.array.argmax(axis=-1)
                y = np.where(rng.random(len(tgt)) < teacher_forcing, tgt[:, t + 1], own)
        return stack(steps, dim=1)

    # -- decoding -------------------------------------------------------------------------

    def greedy_decode(self, src: Any, max_len: int = 20) -> tuple[Tensor, Tensor]:
        """The most likely token at each step, fed back as the next input, until every
        row has produced ``eos_idx`` or ``max_len`` tokens. Call ``model.eval()`` first
        when the model has dropout.

        Returns:
            ``(ids, weights)``: ids (N, T) int64 with T ≤ max_len, each row's ``eos_idx``
            included and ``pad_idx`` after it; weights (N, T, S), the attention of each
            output step over the source (zero after the row's end).
        """
        with no_grad():
            memory, keys, mask, state = self.encode(src)
            n = memory.shape[0]
            y = np.full(n, self.sos_idx, dtype=np.int64)
            done = np.zeros(n, dtype=bool)
            ids, weights = [], []
            for _ in range(max_len):
                logits, state, w = self._step(y, state, memory, keys, mask)
                y = logits.array.argmax(axis=-1).astype(np.int64)
                y[done] = self.pad_idx
                w = w.array.copy()
                w[done] = 0.0
                ids.append(y)
                weights.append(w)
                done |= y == self.eos_idx
                if done.all():
                    break
        return Tensor(np.stack(ids, axis=1)), Tensor(np.stack(weights, axis=1))

    def beam_search(
        self,
        src: Any,
        beam_width: int = 4,
        max_len: int = 20,
        length_penalty: float = 0.0,
    ) -> tuple[Tensor, Tensor]:
        """Keep the ``beam_width`` most likely partial outputs per source; return the best.

        At each step every kept hypothesis is extended by every token, and the
        ``beam_width`` extensions with the highest log p(y₁..yₜ | x) survive. A hypothesis
        that produced ``eos_idx`` is finished: it stays in the beam, extended only by
        ``pad_idx`` at no cost. At the end the hypotheses are ranked by
        log p(y | x) / lp(|y|) with lp(n) = ((5 + n) / 6)^α, α = ``length_penalty``
        (|y| counts the tokens up to and including ``eos_idx``). ``beam_width=1`` is
        greedy decoding.

        Returns:
            ``(ids, scores)``: ids (N, T) int64 laid out as :meth:`greedy_decode`'s;
            scores (N,), the ranking score of each returned sequence (with α = 0, its
            log-probability, :meth:`sequence_log_prob`).
        """
        if beam_width < 1:
            raise ValueError(f"{self.path()} (Seq2Seq): beam_width must be >= 1, got {beam_width}")
        k, v = beam_width, self.tgt_vocab_size
        with no_grad():
            memory, keys, mask, state = self.encode(src)
            n = memory.shape[0]
            rows = np.repeat(np.arange(n), k)  # hypothesis j of source i is row i·k + j
            memory, keys, mask = memory[rows], keys[rows], mask[rows]
            state = _select(state, rows)
            scores = np.full((n, k), -np.inf)
            scores[:, 0] = 0.0  # one live hypothesis to start with
            history = np.zeros((n, k, 0), dtype=np.int64)
            finished = np.zeros((n, k), dtype=bool)
            lengths = np.zeros((n, k), dtype=np.int64)
            y = np.full(n * k, self.sos_idx, dtype=np.int64)
            for _ in range(max_len):
                logits, state, _ = self._step(y, state, memory, keys, mask)
                logp = F.log_softmax(logits, dim=-1).array.astype(np.float64).reshape(n, k, v)
                logp[finished] = -np.inf
                logp[finished, self.pad_idx] = 0.0
                candidates = (scores[:, :, None] + logp).reshape(n, k * v)
                top = np.argsort(-candidates, axis=1, kind="stable")[:, :k]
                beam, token = top // v, top % v
                batch = np.arange(n)[:, None]
                scores = np.take_along_axis(candidates, top, axis=1)
                was_finished = finished[batch, beam]
                history = np.concatenate([history[batch, beam], token[:, :, None]], axis=2)
                lengths = lengths[batch, beam] + ~was_finished
                finished = was_finished | (token == self.eos_idx)
                state = _select(state, (batch * k + beam).reshape(-1))
                y = token.reshape(-1)
                if finished.all():
                    break
            ranked = scores / ((5.0 + lengths) / 6.0) ** length_penalty
            best = np.argmax(ranked, axis=1)
            ids = history[np.arange(n), best]
            return Tensor(ids), Tensor(ranked[np.arange(n), best])

    def sequence_log_prob(self, src: Any, ids: Any) -> Tensor:
        """log p(y | x) = Σₜ log p(yₜ | y<ₜ, x) of output sequences ``ids`` (N, T) as the
        decoders return them, summed up to and including each row's first ``eos_idx``
        (the whole row if it has none). Shape (N,)."""
        y = _ids(ids).astype(np.int64)
        n = y.shape[0]
        tgt_in = np.concatenate([np.full((n, 1), self.sos_idx), y[:, :-1]], axis=1)
        with no_grad():
            logp = F.log_softmax(self(src, tgt_in), dim=-1).array.astype(np.float64)
        picked = np.take_along_axis(logp, y[:, :, None], axis=2)[:, :, 0]
        keep = _before_first(y == self.eos_idx, inclusive=True)
        return Tensor((picked * keep).sum(axis=1))

    def extra_repr(self) -> str:
        return (
            f"cell={self.cell!r}, attention={self.attention_type!r}, "
            f"hidden_size={self.hidden_size}, pad_idx={self.pad_idx}, sos_idx={self.sos_idx}, "
            f"eos_idx={self.eos_idx}"
        )


def _join_directions(h: Tensor) -> Tensor:
    """(2, N, H/2) final states of the two directions -> (1, N, H)."""
    return cat([h[0], h[1]], dim=-1).unsqueeze(0)


def _select(state: Any, rows: np.ndarray) -> Any:
    """The decoder state (1, N, H) (or an LSTM pair) restricted to ``rows`` of the batch."""
    if isinstance(state, tuple):
        return tuple(s[:, rows] for s in state)
    return state[:, rows]


def _before_first(hits: np.ndarray, inclusive: bool) -> np.ndarray:
    """(N, T) bool: positions before each row's first hit (and the hit, if inclusive)."""
    seen = np.cumsum(hits, axis=1)
    return (seen == 0) | (inclusive & hits & (seen == 1))


def sequence_cross_entropy(logits: Tensor, targets: Any, pad_idx: int = 0) -> Tensor:
    """Mean cross-entropy over the non-padding tokens of a batch of sequences:
    L = -1/|M| Σ_(n,t)∈M log softmax(logitsₙₜ)[yₙₜ], M the positions where yₙₜ ≠ pad_idx.

    Args:
        logits: (N, T, V) scores.
        targets: (N, T) int64 target ids, ``pad_idx`` where nothing is to be predicted.
        pad_idx: the ignored id (default: 0).

    Example:
        >>> import nnlab
        >>> logits = nnlab.zeros(1, 2, 4)
        >>> round(float(sequence_cross_entropy(logits, nnlab.tensor([[3, 0]]))), 4)  # ln 4
        1.3863
    """
    v = logits.shape[-1]
    y = _as_ids(targets)
    return F.cross_entropy(logits.reshape(-1, v), y.reshape(-1), ignore_index=pad_idx)


def strip_sequence(ids: Any, eos_idx: int, pad_idx: int) -> list[int]:
    """The tokens of one output row before its first ``eos_idx``, trailing padding removed.

    Example:
        >>> strip_sequence([5, 6, 3, 7, 0], eos_idx=3, pad_idx=0)
        [5, 6]
        >>> strip_sequence([5, 0, 6, 0, 0], eos_idx=3, pad_idx=0)
        [5, 0, 6]
    """
    row = [int(i) for i in np.asarray(ids).reshape(-1)]
    if eos_idx in row:
        row = row[: row.index(eos_idx)]
    while row and row[-1] == pad_idx:
        row.pop()
    return row


def exact_match(pred_ids: Any, target_ids: Any, eos_idx: int, pad_idx: int) -> float:
    """The fraction of rows whose predicted sequence equals the target exactly.

    Each row is compared up to its first ``eos_idx`` (what follows is ignored) with
    trailing padding removed (:func:`strip_sequence`), so predictions and targets may have
    different widths, and a prediction that never ends must still match token for token.

    Args:
        pred_ids: (N, T₁) predicted ids (e.g. from :meth:`Seq2Seq.greedy_decode`).
        target_ids: (N, T₂) target ids.
        eos_idx, pad_idx: the end and padding ids.

    Returns:
        A float in [0, 1]; NaN for zero rows.

    Example:
        >>> exact_match([[5, 6, 3, 0], [5, 5, 3, 0]], [[5, 6, 3], [5, 6, 3]], eos_idx=3, pad_idx=0)
        0.5
    """
    pred, target = _ids(pred_ids), _ids(target_ids)
    if pred.ndim != 2 or target.ndim != 2 or len(pred) != len(target):
        raise ValueError(
            f"exact_match: expected pred_ids (N, T1) and target_ids (N, T2) with the same N, "
            f"got shapes {pred.shape} and {target.shape}"
        )
    if len(pred) == 0:
        return math.nan
    hits = [
        strip_sequence(p, eos_idx, pad_idx) == strip_sequence(t, eos_idx, pad_idx)
        for p, t in zip(pred, target)
    ]
    return float(np.mean(hits))
