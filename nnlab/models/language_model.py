"""Character language models: predict the next character from the ones before it.

A language model assigns a probability to a text by the chain rule,
p(x₁ … x_L) = Πₜ p(xₜ | x<ₜ), and is trained to minimise the cross-entropy
-1/L Σₜ log p(xₜ | x<ₜ) (nats per character; divide by ln 2 for bits). A model that
ignores the context can do no better than the **unigram entropy** H = -Σ_c p(c) log p(c)
of the character frequencies (about 3 nats for English prose): a loss well below it means
the model uses the context.

Two models read the context differently:

- :class:`CharTransformerLM` (a decoder-only transformer, as GPT): token embedding plus
  position, then ``num_layers`` pre-norm self-attention blocks under a **causal mask** (the
  output at position t may attend to positions ≤ t only), so one forward pass trains all L
  next-character predictions at once without any of them seeing its answer.
- :class:`CharRNNLM` (Karpathy's char-rnn): an LSTM carries a state from character to
  character; causal by construction.

:meth:`generate` samples a continuation one character at a time from
softmax(logits / T): the **temperature** T sharpens (T < 1, more repetitive) or flattens
(T > 1, more diverse and more misspelt) the distribution, T = 0 is greedy decoding, and
``top_k`` keeps only the k most likely characters.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnlab import nn
from nnlab.autograd.grad_mode import no_grad
from nnlab.nn.module import Module
from nnlab.random import Generator, _rng
from nnlab.tensor import Tensor

__all__ = ["CharTransformerLM", "CharRNNLM", "sample_next", "unigram_entropy", "distinct_ngrams"]


def sample_next(
    logits: np.ndarray,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: Generator | None = None,
) -> np.ndarray:
    """One token per row of ``logits`` (N, V), drawn from softmax(logits / temperature)
    restricted to the ``top_k`` largest logits; ``temperature=0`` takes the argmax.

    Example:
        >>> sample_next(np.array([[0.0, 5.0, 1.0]]), temperature=0).tolist()
        [1]
        >>> sample_next(np.array([[0.0, 5.0, 1.0]]), top_k=1, generator=Generator(0)).tolist()
        [1]
    """
    if temperature < 0:
        raise ValueError(f"sample_next: temperature must be >= 0, got {temperature}")
    z = np.asarray(logits, dtype=np.float64)
    if temperature == 0:
        return z.argmax(axis=-1)
    z = z / temperature
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"sample_next: top_k must be >= 1, got {top_k}")
        kth = np.sort(z, axis=-1)[:, -min(top_k, z.shape[-1]), None]
        z = np.where(z < kth, -np.inf, z)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    cdf = np.cumsum(p, axis=-1)
    u = _rng(generator).random((len(z), 1)) * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(axis=-1), z.shape[-1] - 1)


def _prompt(prompt_ids: Any) -> tuple[np.ndarray, bool]:
    ids = np.asarray(prompt_ids.array if isinstance(prompt_ids, Tensor) else prompt_ids)
    if ids.ndim not in (1, 2) or ids.shape[-1] == 0 or ids.dtype.kind not in "iu":
        raise ValueError(
            f"generate: prompt_ids must be a non-empty (L,) or (N, L) array of integer ids, "
            f"got shape {ids.shape} and dtype {ids.dtype}"
        )
    return ids.reshape(-1, ids.shape[-1]).astype(np.int64), ids.ndim == 1


class CharTransformerLM(Module):
    """A decoder-only transformer language model over characters (GPT-style, pre-norm).

    logits = head(LN(Blocks(embed(x) + pos))), each block x + SA(LN(x)) then x + FF(LN(x))
    with causal self-attention; ``head`` shares the embedding matrix when ``tie_weights``
    (Press and Wolf 2017: the same vector represents a character as input and as output).

    Children (``state_dict`` prefixes): ``embedding``, ``positional``
    (:class:`~nnlab.nn.LearnedPositionalEncoding` or a parameter-free
    :class:`~nnlab.nn.SinusoidalPositionalEncoding`), ``transformer`` (a
    :class:`~nnlab.nn.TransformerEncoder` with a final layer norm) and ``head``.

    Token and position tables are initialised N(0, 0.02²) (as GPT-2), so that the
    positions do not drown the tokens and tied logits start small.

    Args:
        vocab_size: V, the number of characters.
        d_model: features per position (default: 128).
        nhead: attention heads, dividing ``d_model`` (default: 4).
        num_layers: transformer blocks (default: 2).
        dim_feedforward: hidden size of each feed-forward network (default: 4·d_model).
        max_len: the longest context (default: 256); :meth:`generate` keeps the last
            ``max_len`` characters.
        dropout: dropout in the blocks and after the positions (default: 0.1).
        positional: ``"learned"`` or ``"sinusoidal"`` (default: ``"learned"``).
        tie_weights: the head's weight is the embedding matrix (default: False).

    Shape:
        - Input: (N, L) int64 ids with L ≤ max_len.
        - Output: logits (N, L, V); position t depends on inputs 0..t only.

    Example:
        >>> import nnlab
        >>> lm = CharTransformerLM(10, d_model=16, nhead=2, num_layers=1, max_len=32)
        >>> lm(nnlab.tensor([[1, 2, 3, 4]])).shape
        nnlab.Size([1, 4, 10])
        >>> lm.eval().generate([1, 2], max_new_tokens=5, temperature=0).shape
        nnlab.Size([7])
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 128,
        nhead: int = 4,
        num_layers: int = 2,
        dim_feedforward: int | None = None,
        max_len: int = 256,
        dropout: float = 0.1,
        positional: str = "learned",
        tie_weights: bool = False,
    ) -> None:
        if positional not in ("learned", "sinusoidal"):
            raise ValueError(
                f"CharTransformerLM: positional must be 'learned' or 'sinusoidal', got "
                f"{positional!r}"
            )
        super().__init__()
        self.vocab_size, self.d_model, self.max_len = vocab_size, d_model, max_len
        self.tie_weights = tie_weights
        self.embedding = nn.Embedding(vocab_size, d_model)
        if positional == "learned":
            self.positional = nn.LearnedPositionalEncoding(max_len, d_model, dropout,
                                                           batch_first=True)  # fmt: skip
        else:
            self.positional = nn.SinusoidalPositionalEncoding(d_model, max_len, dropout,
                                                              batch_first=True)  # fmt: skip
        layer = nn.TransformerEncoderLayer(
            d_model, nhead, dim_feedforward or 4 * d_model, dropout, activation="relu",
            batch_first=True, norm_first=True,
        )  # fmt: skip
        self.transformer = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model))
        self.head = nn.Linear(d_model, vocab_size, bias=not tie_weights)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.embedding.weight, std=0.02)
        if isinstance(self.positional, nn.LearnedPositionalEncoding):
            nn.init.normal_(self.positional.embedding.weight, std=0.02)
        if self.tie_weights:
            self.head.weight = self.embedding.weight

    def forward(self, ids: Any) -> Tensor:
        ids = ids if isinstance(ids, Tensor) else Tensor(np.asarray(ids, dtype=np.int64))
        if ids.ndim != 2:
            raise self.shape_error("ids (N, L)", ids.shape)
        length = ids.shape[1]
        if length > self.max_len:
            raise self.shape_error(
                f"ids (N, L) with L <= max_len={self.max_len}", ids.shape,
                "cut the context to its last max_len tokens.",
            )  # fmt: skip
        x = self.positional(self.embedding(ids))
        mask = nn.Transformer.generate_square_subsequent_mask(length, dtype=x.dtype)
        return self.head(self.transformer(x, mask=mask, is_causal=True))

    def generate(
        self,
        prompt_ids: Any,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: Generator | None = None,
    ) -> Tensor:
        """Extend ``prompt_ids`` by ``max_new_tokens`` sampled characters (see
        :func:`sample_next`), re-reading the last ``max_len`` characters at each step.
        Call ``eval()`` first to turn dropout off.

        Args:
            prompt_ids: (L,) or (N, L) int ids to continue.
            max_new_tokens: how many characters to add.
            temperature: softmax temperature; 0 is greedy (default: 1.0).
            top_k: sample among the k most likely characters only (default: all).
            generator: the random source (default: the global generator).

        Returns:
            int64 ids, the prompt followed by the new characters: (L + max_new_tokens,) or
            (N, L + max_new_tokens).
        """
        ids, single = _prompt(prompt_ids)
        with no_grad():
            for _ in range(max_new_tokens):
                logits = self(Tensor(ids[:, -self.max_len :]))[:, -1].array
                nxt = sample_next(logits, temperature, top_k, generator)
                ids = np.concatenate([ids, nxt[:, None]], axis=1)
        return Tensor(ids[0] if single else ids)

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, max_len={self.max_len}" + (
            ", tie_weights=True" if self.tie_weights else ""
        )


class CharRNNLM(Module):
    """An LSTM language model over characters: logits = head(LSTM(embed(x))).

    Children: ``embedding``, ``rnn`` (:class:`~nnlab.nn.LSTM`, batch first), ``dropout``,
    ``head``.

    Args:
        vocab_size: V, the number of characters.
        embed_dim: embedding size (default: 64).
        hidden_size: LSTM state size (default: 256).
        num_layers: stacked LSTM layers (default: 1).
        dropout: dropout before the head (and between LSTM layers) (default: 0.0).

    Shape:
        - Input: (N, L) int64 ids; optional state (h, c), each (num_layers, N, hidden_size).
        - Output: logits (N, L, V) (and the final state with ``return_state=True``).

    Example:
        >>> import nnlab
        >>> lm = CharRNNLM(10, embed_dim=8, hidden_size=16)
        >>> lm(nnlab.tensor([[1, 2, 3]])).shape
        nnlab.Size([1, 3, 10])
        >>> lm.generate([[1, 2], [3, 4]], max_new_tokens=4, temperature=0).shape
        nnlab.Size([2, 6])
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 64,
        hidden_size: int = 256,
        num_layers: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.rnn = nn.LSTM(embed_dim, hidden_size, num_layers, batch_first=True,
                           dropout=dropout if num_layers > 1 else 0.0)  # fmt: skip
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids: Any, state: Any = None, return_state: bool = False) -> Any:
        ids = ids if isinstance(ids, Tensor) else Tensor(np.asarray(ids, dtype=np.int64))
        if ids.ndim != 2:
            raise self.shape_error("ids (N, L)", ids.shape)
        out, state = self.rnn(self.embedding(ids), state)
        logits = self.head(self.dropout(out))
        return (logits, state) if return_state else logits

    def generate(
        self,
        prompt_ids: Any,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: Generator | None = None,
    ) -> Tensor:
        """As :meth:`CharTransformerLM.generate`, carrying the LSTM state from step to step
        (each new character costs one step, whatever the length of the context)."""
        ids, single = _prompt(prompt_ids)
        with no_grad():
            logits, state = self(Tensor(ids), return_state=True)
            last = logits[:, -1].array
            for _ in range(max_new_tokens):
                nxt = sample_next(last, temperature, top_k, generator)
                ids = np.concatenate([ids, nxt[:, None]], axis=1)
                logits, state = self(Tensor(nxt[:, None]), state, return_state=True)
                last = logits[:, -1].array
        return Tensor(ids[0] if single else ids)


def unigram_entropy(ids: np.ndarray, vocab_size: int) -> float:
    """H = -Σ_c p(c) ln p(c) in nats of the token frequencies of ``ids``: the loss of the
    best model that ignores the context.

    Example:
        >>> round(unigram_entropy(np.array([0, 1, 0, 1]), 2), 4)  # ln 2
        0.6931
    """
    counts = np.bincount(np.asarray(ids).reshape(-1), minlength=vocab_size)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def distinct_ngrams(text: str, n: int = 3) -> float:
    """distinct-n (Li et al. 2016): distinct n-grams / all n-grams of ``text``; low values
    mean repetition (low-temperature samples loop).

    Example:
        >>> distinct_ngrams("abababab", 2), distinct_ngrams("abcdefgh", 2)
        (0.2857142857142857, 1.0)
    """
    grams = [text[i : i + n] for i in range(len(text) - n + 1)]
    return len(set(grams)) / len(grams) if grams else math.nan
