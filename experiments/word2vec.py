"""word2vec on the standard library's docstrings: train skip-gram or CBOW with negative
sampling and look at the neighbours it finds.

The model, the corpus (subsampling, dynamic windows, the noise distribution) and the
queries on the result are library code (:mod:`nnlab.text.word2vec`); this is the training
loop that runs them: each epoch subsamples the corpus afresh, makes shuffled (input,
target) examples, draws the negatives of every batch and takes one Adam step per batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from nnlab import Generator, optim
from nnlab.text import Word2Vec, Word2VecCorpus, WordVectors, stdlib_documents
from nnlab.text.word2vec import sample_noise

__all__ = ["train_word2vec"]


def train_word2vec(
    texts: Sequence[str] | None = None,
    *,
    mode: str = "skipgram",
    embedding_dim: int = 64,
    window: int = 5,
    negatives: int = 5,
    min_count: int = 5,
    sample: float = 1e-3,
    epochs: int = 8,
    batch_size: int = 1024,
    lr: float = 0.01,
    max_seconds: float | None = None,
    seed: int = 0,
) -> WordVectors:
    """Train word2vec with negative sampling and Adam; by default on the standard-library
    docstrings (:func:`nnlab.text.load_stdlib_docstrings`, one sentence per docstring).

    Each epoch subsamples the corpus afresh, makes shuffled (input, target) examples, and
    for every batch draws ``negatives`` noise words per example from ``P_n ∝ count^0.75``.

    Args:
        texts: the sentences (default: the stdlib docstrings, about 160k words).
        mode: ``"skipgram"`` (default) or ``"cbow"``.
        embedding_dim: D (default: 64).
        window: the largest context radius (default: 5).
        negatives: noise words per example K (default: 5).
        min_count: drop rarer words (default: 5).
        sample: the subsampling threshold t; 0 disables it (default: 1e-3).
        epochs: passes over the corpus (default: 8; about 4 s each on a free CPU core).
        batch_size: examples per step (default: 1024).
        lr: Adam's learning rate (default: 0.01).
        max_seconds: stop after this much training time (default: no limit).
        seed: seeds the initialisation, subsampling, shuffling and noise (default: 0).

    Returns:
        :class:`WordVectors` of the input vectors, with ``.losses`` (mean loss per epoch),
        ``.model`` and ``.corpus`` attached.

    Example:
        >>> texts = ["red green blue red green blue"] * 30 + ["one two three one two"] * 30
        >>> wv = train_word2vec(
        ...     texts, embedding_dim=8, min_count=1, sample=0, epochs=5, batch_size=64
        ... )
        >>> wv.losses[-1] < wv.losses[0]
        True
        >>> sorted(w for w, _ in wv.most_similar("red", k=2))
        ['blue', 'green']
    """
    if texts is None:
        texts = stdlib_documents()
    corpus = Word2VecCorpus(texts, min_count=min_count)
    gen = Generator(seed)
    rng = gen.numpy
    model = Word2Vec(len(corpus), embedding_dim, mode)
    model.reset_parameters(gen)
    opt = optim.Adam(model.parameters(), lr=lr)
    cdf = np.cumsum(corpus.noise_distribution())
    losses: list[float] = []
    start = time.perf_counter()
    for _ in range(epochs):
        if mode == "skipgram":
            inputs, targets = corpus.skipgram_pairs(rng, window, sample)
        else:
            inputs, targets, _ = corpus.cbow_examples(rng, window, sample)
        total, seen = 0.0, 0
        for lo in range(0, len(targets), batch_size):
            x, y = inputs[lo : lo + batch_size], targets[lo : lo + batch_size]
            loss = model(x, y, sample_noise(rng, cdf, (len(y), negatives)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
            seen += len(y)
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                break
        losses.append(total / max(seen, 1))
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            break
    wv = WordVectors(corpus.itos, model.in_embed.array.copy())
    wv.losses, wv.seconds = losses, time.perf_counter() - start
    wv.model, wv.corpus = model, corpus
    return wv
