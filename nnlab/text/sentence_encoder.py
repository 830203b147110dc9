"""Sentence embeddings from a pretrained BERT: one vector per text, for search, clustering
and as features for small classifiers (transfer learning).

A :class:`SentenceEncoder` runs the recipe of sentence-transformers' all-MiniLM-L6-v2:

1. tokenize (WordPiece, ``[CLS] … [SEP]``, truncated at ``max_length`` tokens) and pad
   each batch to its longest text, with an attention mask m (1 = real token);
2. h = BERT(ids, m): contextual vectors (N, T, H);
3. mean-pool over the real tokens, e = Σ_t m_t h_t / Σ_t m_t, so padding never counts;
4. L2-normalise, ê = e / ‖e‖, so the dot product of two embeddings is their cosine.

:meth:`SentenceEncoder.embed` is steps 2–4 as a differentiable Tensor (to fine-tune);
:meth:`SentenceEncoder.encode` is the fast inference path: no graph, batches of similar
length (sorted by token count, so little padding), a NumPy array in the input order.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from tokenizers import Tokenizer

from nnlab.autograd.grad_mode import no_grad
from nnlab.models.bert import load_minilm
from nnlab.nn import functional as F
from nnlab.nn.utils.masking import masked_mean
from nnlab.tensor import Tensor

__all__ = ["SentenceEncoder"]

#: With ``show_progress_bar=None`` a bar appears (on a terminal) from this many batches.
_BAR_FROM_BATCHES = 8


def _check_texts(texts: Any) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("SentenceEncoder: texts must be a list of strings, got one str; wrap it")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"SentenceEncoder: texts[{i}] is a {type(t).__name__}, not a str")
    return texts


def _progress() -> Any:
    """A rich progress bar on stderr, drawn like the training ProgressBar's (live on a
    terminal only)."""
    return Progress(
        TextColumn("[bold]encoding"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("sentences"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    )


class SentenceEncoder:
    """Texts -> unit-length sentence vectors with a pretrained BERT and mean pooling.

    Args:
        model: an nnlab :class:`~nnlab.models.BertModel` (default: all-MiniLM-L6-v2 from
            :func:`~nnlab.models.load_minilm`; then ``tokenizer`` must be None too).
        tokenizer: its ``tokenizers.Tokenizer``. The encoder keeps its own copy, with
            padding off and truncation at ``max_length``; the one given is not changed.
        max_length: longest input in tokens, ``[CLS]`` and ``[SEP]`` included (default:
            256, the length all-MiniLM-L6-v2 was trained with).

    Attributes:
        model, tokenizer, max_length, dim (the embedding size H).

    Shape:
        - tokenize: texts (N,) -> ids (N, T) and attention_mask (N, T), int64 NumPy arrays.
        - embed: ids, mask (N, T) -> Tensor (N, H).
        - encode: texts (N,) -> float32 array (N, H).

    Example:
        >>> enc = SentenceEncoder()  # doctest: +SKIP
        >>> texts = ["A cat sits on the mat.", "A kitten rests on a rug.", "Stocks fell."]
        >>> e = enc.encode(texts)  # doctest: +SKIP
        >>> e.shape, (e @ e.T)[0].round(2)  # doctest: +SKIP
        ((3, 384), array([1.  , 0.67, 0.07], dtype=float32))
    """

    def __init__(self, model: Any = None, tokenizer: Any = None, max_length: int = 256) -> None:
        if (model is None) != (tokenizer is None):
            raise ValueError(
                "SentenceEncoder: pass both model and tokenizer, or neither (then "
                "all-MiniLM-L6-v2 is loaded with nnlab.models.load_minilm())"
            )
        if model is None:
            model, tokenizer = load_minilm()
        limit = model.config.max_position_embeddings
        if not 2 <= max_length <= limit:
            raise ValueError(
                f"SentenceEncoder: max_length must be in [2, {limit}] (the model's "
                f"max_position_embeddings), got {max_length}"
            )
        self.model = model
        self.tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)
        self.max_length = max_length
        self.pad_id = model.config.pad_token_id
        self.dim = model.config.hidden_size

    def _pad(self, encodings: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        width = max((len(e.ids) for e in encodings), default=0)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        return ids, mask

    def tokenize(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and attention mask (1 = real token), padded to the longest text.

        Example:
            >>> ids, mask = SentenceEncoder().tokenize(["hi", "hello there"])  # doctest: +SKIP
            >>> ids.tolist(), mask.tolist()  # doctest: +SKIP
            ([[101, 7632, 102, 0], [101, 7592, 2045, 102]], [[1, 1, 1, 0], [1, 1, 1, 1]])
        """
        return self._pad(self.tokenizer.encode_batch(_check_texts(texts)))

    def embed(self, ids: Any, mask: Any, normalize: bool = True) -> Tensor:
        """Mean-pooled (and, by default, L2-normalised) sentence vectors, differentiable.

        e = Σ_t m_t h_t / max(Σ_t m_t, 1),  ê = e / max(‖e‖₂, 1e-12), h = model(ids, m)
        (:func:`~nnlab.nn.utils.masking.masked_mean`). Runs in the model's current mode
        (``model.train()`` applies dropout) and records the graph when gradients are
        enabled, so a loss on it fine-tunes the model.
        """
        m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
        pooled = masked_mean(self.model(ids, m), m)
        return F.normalize(pooled, p=2.0, dim=1) if normalize else pooled

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        normalize: bool = True,
    ) -> np.ndarray:
        """Embed ``texts`` for inference: a float32 array (N, H), rows in the input order.

        Runs in eval mode without recording a graph (the model's mode is restored after).
        Texts are sorted by token count so that each batch pads little, and the rows are
        put back in order at the end.

        Args:
            texts: a list of strings.
            batch_size: texts per forward pass (default: 32).
            show_progress_bar: draw a rich bar on stderr (on a terminal; elsewhere print
                one summary line at the end); None (default): a bar when stderr is a
                terminal and there are at least 8 batches.
            normalize: L2-normalise the vectors (default: True).
        """
        texts = _check_texts(texts)
        if batch_size < 1:
            raise ValueError(f"SentenceEncoder.encode: batch_size must be ≥ 1, got {batch_size}")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(texts)
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        starts = range(0, len(texts), batch_size)
        if show_progress_bar is None:
            show_progress_bar = len(starts) >= _BAR_FROM_BATCHES and sys.stderr.isatty()
        bar = _progress() if show_progress_bar else None
        live = bar is not None and bar.console.is_terminal
        task = bar.add_task("encode", total=len(texts)) if live else None
        was_training = self.model.training
        self.model.eval()
        begin = time.perf_counter()
        try:
            if live:
                bar.start()
            with no_grad():
                for start in starts:
                    rows = order[start : start + batch_size]
                    ids, mask = self._pad([encodings[i] for i in rows])
                    out[rows] = self.embed(ids, mask, normalize=normalize).numpy()
                    if live:
                        bar.update(task, advance=len(rows))
        finally:
            self.model.train(was_training)
            if live:
                bar.stop()
        if bar is not None and not live:  # a file or a pipe: one summary line, as in training
            seconds = time.perf_counter() - begin
            print(f"encoded {len(texts)} sentences in {seconds:.2f}s", file=sys.stderr)
        return out

    def __repr__(self) -> str:
        return (
            f"SentenceEncoder({type(self.model).__name__}, dim={self.dim}, "
            f"max_length={self.max_length})"
        )
