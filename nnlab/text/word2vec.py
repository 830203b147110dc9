"""word2vec: word vectors learned by predicting a word's neighbours (Mikolov et al., 2013).

Words that occur in similar contexts get similar vectors. Each word w has two vectors, an
*input* vector ``v_w`` (the embedding kept at the end) and an *output* vector ``u_w``:

* **skip-gram** predicts each context word ``o`` of a centre word ``c`` from ``v_c``;
* **CBOW** (continuous bag of words) predicts ``c`` from the mean ``h`` of its context
  words' input vectors.

A softmax over the whole vocabulary would cost O(V) per pair, so both use **negative
sampling**: score the true (input, output) pair high and K random "noise" words low,

``loss = -log σ(u_o · h) - Σ_k log σ(-u_{n_k} · h)``,  ``n_k ~ P_n(w) ∝ count(w)^0.75``

(``h = v_c`` for skip-gram; ``-log σ(x) = softplus(-x)``). The 3/4 power flattens the
unigram distribution so that rare words are drawn as noise more often than their share.

**Subsampling** throws away occurrences of very frequent words ("the", "a") before making
pairs: they carry little information and dominate the pairs. We use the variant of the
original word2vec C code (also gensim's), keeping an occurrence of word w with probability

``keep(w) = min(1, (sqrt(f(w)/t) + 1) · t / f(w))``,  ``f(w) = count(w) / total``

(the paper writes ``1 - sqrt(t/f)`` as the *discard* probability; the code's formula is
gentler on mid-frequency words and keeps every word with ``f(w) <= t`` always), with
``t = 1e-3``. Windows are "dynamic" as in the C code: each centre word draws its window
radius uniformly in ``[1, window]``, so near neighbours count more.

The model is plain nnlab: two :class:`~nnlab.nn.Parameter` matrices read by integer
indexing (whose backward adds the gradients into the rows used), softplus and a sum; any
optimizer from :mod:`nnlab.optim` trains it. The training loop, on the standard-library
docstrings, is the repository's ``experiments/word2vec.py``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

import nnlab
from nnlab import nn
from nnlab.random import Generator
from nnlab.text.tokenize import pre_tokenize, word_tokenizer

__all__ = ["Word2VecCorpus", "Word2Vec", "WordVectors", "sample_noise"]

_WORD = re.compile(r"[^\W\d]")  # a token with a letter in it is a word; punctuation is not


class Word2VecCorpus:
    """Tokenised sentences as id arrays, with the counts word2vec samples from.

    Tokens are the word-level tokens of :func:`nnlab.text.word_tokenizer` (lowercased)
    that contain a letter; words seen fewer than ``min_count`` times are dropped. Ids go
    by decreasing count (ties alphabetical).

    Args:
        texts: the sentences (here: one docstring each).
        min_count: the fewest occurrences a word needs to be kept (default: 5).

    Example:
        >>> corpus = Word2VecCorpus(["the cat sat", "the dog sat", "a cat"], min_count=2)
        >>> corpus.itos, corpus.counts.tolist()
        (['cat', 'sat', 'the'], [2, 2, 2])
        >>> [s.tolist() for s in corpus.sentences]
        [[2, 0, 1], [2, 1], [0]]
    """

    def __init__(self, texts: Iterable[str], min_count: int = 5) -> None:
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"Word2VecCorpus: min_count must be an int >= 1, got {min_count!r}")
        if isinstance(texts, str):
            raise TypeError("Word2VecCorpus: texts must be a list of strings, got one str")
        tokenized = [
            [t for t in tokens if _WORD.search(t)]
            for tokens in pre_tokenize(word_tokenizer(), list(texts))
        ]
        counts = Counter(t for tokens in tokenized for t in tokens)
        self.itos = sorted(
            (w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w)
        )
        if not self.itos:
            raise ValueError(f"Word2VecCorpus: no word occurs min_count={min_count} times")
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.counts = np.array([counts[w] for w in self.itos], dtype=np.int64)
        self.sentences = [
            np.array([self.stoi[t] for t in tokens if t in self.stoi], dtype=np.int64)
            for tokens in tokenized
        ]
        self.sentences = [s for s in self.sentences if len(s)]

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def n_tokens(self) -> int:
        return int(self.counts.sum())

    def noise_distribution(self, power: float = 0.75) -> np.ndarray:
        """``P_n(w) = count(w)^power / Σ_v count(v)^power`` (float64, sums to 1)."""
        weights = self.counts.astype(np.float64) ** power
        return weights / weights.sum()

    def keep_probabilities(self, sample: float = 1e-3) -> np.ndarray:
        """The chance of keeping each occurrence of each word when subsampling (the C code's
        formula, see the module docstring); ``sample=0`` keeps everything."""
        if sample <= 0:
            return np.ones(len(self))
        f = self.counts / self.counts.sum()
        return np.minimum(1.0, (np.sqrt(f / sample) + 1.0) * sample / f)

    def _stream(self, rng: np.random.Generator, sample: float) -> tuple[np.ndarray, np.ndarray]:
        """All sentences subsampled and concatenated: (ids, sentence number of each)."""
        ids = np.concatenate(self.sentences)
        sent = np.repeat(np.arange(len(self.sentences)), [len(s) for s in self.sentences])
        keep = rng.random(len(ids)) < self.keep_probabilities(sample)[ids]
        return ids[keep], sent[keep]

    def skipgram_pairs(
        self, rng: np.random.Generator, window: int = 5, sample: float = 1e-3
    ) -> tuple[np.ndarray, np.ndarray]:
        """One epoch of (centre, context) id pairs, shuffled: subsample, draw each centre's
        radius in [1, window], pair it with every kept word that close in its sentence."""
        ids, sent = self._stream(rng, sample)
        radius = rng.integers(1, window + 1, size=len(ids))
        centres, contexts = [], []
        for offset in range(1, window + 1):
            for a, b in (
                (slice(offset, None), slice(None, -offset)),
                (slice(None, -offset), slice(offset, None)),
            ):
                ok = (sent[a] == sent[b]) & (radius[a] >= offset)
                centres.append(ids[a][ok])
                contexts.append(ids[b][ok])
        centre, context = np.concatenate(centres), np.concatenate(contexts)
        perm = rng.permutation(len(centre))
        return centre[perm], context[perm]

    def cbow_examples(
        self, rng: np.random.Generator, window: int = 5, sample: float = 1e-3
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One epoch of CBOW examples, shuffled: ``(context (N, 2·window) padded with -1,
        centre (N,))`` plus the number of real context words per row; rows with no context
        are dropped."""
        ids, sent = self._stream(rng, sample)
        n = len(ids)
        radius = rng.integers(1, window + 1, size=n)
        context = np.full((n, 2 * window), -1, dtype=np.int64)
        pos = np.arange(n)
        for k, offset in enumerate([*range(-window, 0), *range(1, window + 1)]):
            j = pos + offset
            inside = (j >= 0) & (j < n)
            jj = np.clip(j, 0, n - 1)
            ok = inside & (sent[jj] == sent) & (radius >= abs(offset))
            context[ok, k] = ids[jj[ok]]
        n_ctx = (context >= 0).sum(axis=1)
        keep = n_ctx > 0
        perm = rng.permutation(int(keep.sum()))
        return context[keep][perm], ids[keep][perm], n_ctx[keep][perm]


class Word2Vec(nn.Module):
    """Skip-gram or CBOW with negative sampling.

    ``in_embed`` (the word vectors) starts uniform in ``[-0.5/D, 0.5/D]`` and
    ``out_embed`` at zero, as in the C code.

    Args:
        vocab_size: V.
        embedding_dim: D (default: 100).
        mode: ``"skipgram"`` (default) or ``"cbow"``.

    Shape:
        inputs: (B,) centre ids (skip-gram) or (B, C) context ids padded with -1 (CBOW);
        targets: (B,) the true output ids; negatives: (B, K) noise ids. Returns the mean
        loss over the batch (a 0-d tensor).

    Example:
        >>> model = Word2Vec(10, 4)
        >>> loss = model(np.array([1, 2]), np.array([3, 4]), np.array([[5, 6], [7, 8]]))
        >>> round(loss.item(), 4)  # zero output vectors: every score 0, loss 3·log 2
        2.0794
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 100, mode: str = "skipgram") -> None:
        super().__init__()
        if mode not in ("skipgram", "cbow"):
            raise ValueError(f"Word2Vec: mode must be 'skipgram' or 'cbow', got {mode!r}")
        self.vocab_size, self.embedding_dim, self.mode = vocab_size, embedding_dim, mode
        self.in_embed = nn.Parameter(nnlab.zeros(vocab_size, embedding_dim))
        self.out_embed = nn.Parameter(nnlab.zeros(vocab_size, embedding_dim))
        self.reset_parameters()

    def reset_parameters(self, generator: Generator | None = None) -> None:
        """Re-draw ``in_embed`` (from ``generator``, default the global one) and zero
        ``out_embed``."""
        bound = 0.5 / self.embedding_dim
        u = nnlab.rand(self.vocab_size, self.embedding_dim, generator=generator).array
        with nnlab.no_grad():
            self.in_embed.array[...] = (2 * u - 1) * bound
            self.out_embed.array[...] = 0.0

    def extra_repr(self) -> str:
        return f"{self.vocab_size}, {self.embedding_dim}, mode={self.mode!r}"

    def hidden(self, inputs: np.ndarray) -> nnlab.Tensor:
        """``h``: the centre's input vector (skip-gram) or the mean of the context words'
        input vectors (CBOW, ignoring the -1 padding)."""
        inputs = np.asarray(inputs, dtype=np.int64)
        if self.mode == "skipgram":
            return self.in_embed[inputs]
        mask = (inputs >= 0).astype(np.float32)
        rows = self.in_embed[np.maximum(inputs, 0)]  # (B, C, D)
        weights = nnlab.tensor(mask / np.maximum(mask.sum(axis=1, keepdims=True), 1.0))
        return (rows * weights.unsqueeze(-1)).sum(dim=1)

    def forward(
        self, inputs: np.ndarray, targets: np.ndarray, negatives: np.ndarray
    ) -> nnlab.Tensor:
        h = self.hidden(inputs)  # (B, D)
        outputs = np.concatenate([np.asarray(targets)[:, None], np.asarray(negatives)], axis=1)
        scores = (self.out_embed[outputs] * h.unsqueeze(1)).sum(dim=-1)  # (B, 1 + K)
        sign = np.full(outputs.shape, 1.0, dtype=np.float32)
        sign[:, 0] = -1.0  # -log σ(s) = softplus(-s) for the true word, softplus(s) for noise
        return nnlab.softplus(scores * nnlab.tensor(sign)).sum(dim=1).mean()


class WordVectors:
    """Trained word vectors with the usual queries (cosine similarity on unit vectors).

    Args:
        itos: the words, by id.
        vectors: (V, D) array, row i the vector of ``itos[i]``.

    Example:
        >>> wv = WordVectors(["a", "b", "c"], np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]))
        >>> wv.most_similar("a", k=1)
        [('b', 0.9939)]
    """

    def __init__(self, itos: Sequence[str], vectors: np.ndarray) -> None:
        self.itos = list(itos)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self.unit = self.vectors / np.maximum(norms, 1e-12)
        self.losses: list[float] = []
        self.seconds = 0.0

    def __contains__(self, word: str) -> bool:
        return word in self.stoi

    def _id(self, word: str) -> int:
        if word not in self.stoi:
            raise KeyError(
                f"WordVectors: {word!r} is not in the vocabulary ({len(self.itos)} words)"
            )
        return self.stoi[word]

    def _nearest(self, query: np.ndarray, k: int, exclude: set[int]) -> list[tuple[str, float]]:
        sims = self.unit @ (query / max(np.linalg.norm(query), 1e-12))
        order = np.argsort(-sims, kind="stable")
        out = [(self.itos[i], round(float(sims[i]), 4)) for i in order if i not in exclude]
        return out[:k]

    def most_similar(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` words with the highest cosine similarity to ``word`` (itself excluded)."""
        i = self._id(word)
        return self._nearest(self.unit[i], k, {i})

    def analogy(self, a: str, b: str, c: str, k: int = 1) -> list[tuple[str, float]]:
        """``a`` is to ``b`` as ``c`` is to ?: the words nearest ``b - a + c`` (3CosAdd on
        unit vectors), excluding the three query words."""
        ia, ib, ic = self._id(a), self._id(b), self._id(c)
        return self._nearest(self.unit[ib] - self.unit[ia] + self.unit[ic], k, {ia, ib, ic})

    def project_2d(self, words: Sequence[str]) -> np.ndarray:
        """PCA to 2-D of the given words' unit vectors: centre them, take the SVD
        ``X = U S Vᵀ``, return ``X V[:, :2]`` (the coordinates along the two directions of
        largest variance). Shape (len(words), 2)."""
        x = self.unit[[self._id(w) for w in words]]
        x = x - x.mean(axis=0)
        _, _, vt = np.linalg.svd(x, full_matrices=False)
        return x @ vt[:2].T

    def plot(self, words: Sequence[str], path: str | Path, title: str = "") -> Path:
        """Scatter the 2-D PCA projection of ``words``, labelled, to a PNG file."""
        import matplotlib.pyplot as plt  # lazy: matplotlib only when plotting

        from nnlab.analysis.plots import save_figure  # lazy: imports matplotlib (Agg backend)

        xy = self.project_2d(words)
        fig, ax = plt.subplots(figsize=(7, 6))
        ax.scatter(xy[:, 0], xy[:, 1], s=12, alpha=0.6)
        for (x, y), w in zip(xy, words):
            ax.annotate(w, (x, y), fontsize=8, xytext=(2, 2), textcoords="offset points")
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
        ax.set_title(title or "word vectors, PCA to 2-D")
        ax.grid(alpha=0.3)
        return save_figure(fig, path)


def sample_noise(rng: np.random.Generator, cdf: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Draw ids from the distribution with cumulative sums ``cdf`` (inverse-CDF sampling):
    the negatives of negative sampling, with ``cdf = cumsum(corpus.noise_distribution())``.

    Example:
        >>> cdf = np.cumsum([0.5, 0.25, 0.25])
        >>> sample_noise(np.random.default_rng(0), cdf, (2, 3)).shape
        (2, 3)
    """
    return np.minimum(np.searchsorted(cdf, rng.random(shape), side="right"), len(cdf) - 1)
