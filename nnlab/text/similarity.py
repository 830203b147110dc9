"""Uses of sentence embeddings that train nothing: zero-shot and few-shot classification,
and semantic search.

A pretrained sentence encoder maps texts that mean similar things to nearby unit vectors,
so the cosine similarity ``cos(a, b) = a·b / (‖a‖ ‖b‖)`` is a ready-made measure of
meaning. Three tasks follow with no gradient step at all:

* **zero-shot classification** — describe each class in words ("an angry, negative
  post") and give each text the class whose description is nearest;
* **few-shot classification with prototypes** (Snell et al., 2017) — average the
  embeddings of the k labelled examples of each class into a *prototype* and give each
  text the nearest prototype. More examples give a less noisy mean;
* **semantic search** — rank a collection by cosine similarity to a query: it finds
  "my laptop battery dies quickly" for "phone won't hold a charge" with no word shared.

Every function takes an ``encoder``: any object whose ``encode(texts)`` returns an
(N, D) array (a :class:`~nnlab.text.SentenceEncoder`, or a stand-in in tests).
:class:`EmbeddingCache` wraps one to encode each distinct text once.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np

__all__ = [
    "EmbeddingCache",
    "cosine_similarity",
    "zero_shot_classify",
    "class_prototypes",
    "few_shot_prototypes",
    "semantic_search",
    "nearest_neighbours",
    "load_search_corpus",
    "SENTIMENT_DESCRIPTIONS",
]

#: Label descriptions for the sentiment task, index = label (0 negative, 1 positive).
#: Several phrasings per class are averaged (a "prompt ensemble").
SENTIMENT_DESCRIPTIONS: tuple[tuple[str, ...], ...] = (
    ("an angry, negative post", "a disappointed complaint", "this is bad, I did not like it"),
    ("a happy, positive post", "an enthusiastic recommendation", "this is good, I liked it"),
)


def _normalize_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-d array of embeddings (N, D), got shape {x.shape}")
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def cosine_similarity(a: Any, b: Any) -> np.ndarray:
    """Cosine similarities of every row of ``a`` (N, D) with every row of ``b`` (M, D).

    Example:
        >>> cosine_similarity([[1.0, 0.0], [1.0, 1.0]], [[2.0, 0.0]]).round(3).ravel()
        array([1.   , 0.707], dtype=float32)
    """
    a, b = _normalize_rows(np.asarray(a)), _normalize_rows(np.asarray(b))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"cosine_similarity: dims differ, {a.shape[1]} vs {b.shape[1]}")
    return a @ b.T


class EmbeddingCache:
    """An encoder that remembers: each distinct text is encoded once, then looked up.

    Experiments embed the same sentiment test split for zero-shot, few-shot and the
    feature-extraction head; with the cache it costs one pass.

    Args:
        encoder: an object with ``encode(texts) -> (N, D) array``.
        batch_size: passed to ``encoder.encode`` (default: 32).

    Example:
        >>> class Lengths:
        ...     calls = 0
        ...     def encode(self, texts, batch_size=32):
        ...         self.calls += len(texts)
        ...         return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)
        >>> cache = EmbeddingCache(Lengths())
        >>> cache.encode(["ab", "abc"]).shape, cache.encode(["abc", "ab", "a"])[:, 0].tolist()
        ((2, 2), [3.0, 2.0, 1.0])
        >>> cache.encoder.calls, len(cache)
        (3, 3)
    """

    def __init__(self, encoder: Any, batch_size: int = 32) -> None:
        self.encoder = encoder
        self.batch_size = batch_size
        self._vectors: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str], **_: Any) -> np.ndarray:
        """Embeddings of ``texts`` (N, D), encoding only those not seen before."""
        texts = list(texts)
        new = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if new:
            vectors = np.asarray(self.encoder.encode(new, batch_size=self.batch_size))
            self._vectors.update(zip(new, vectors))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts])

    @property
    def dim(self) -> int:
        if self._vectors:
            return int(next(iter(self._vectors.values())).shape[0])
        return int(getattr(self.encoder, "dim", 0))

    def __len__(self) -> int:
        return len(self._vectors)


def _description_vectors(encoder: Any, descriptions: Sequence[Any]) -> np.ndarray:
    """One unit vector per class: the mean of the embeddings of its descriptions."""
    if len(descriptions) < 2:
        raise ValueError(f"need descriptions for at least 2 classes, got {len(descriptions)}")
    groups = [[d] if isinstance(d, str) else list(d) for d in descriptions]
    for i, group in enumerate(groups):
        if not group or not all(isinstance(d, str) for d in group):
            raise TypeError(f"label_descriptions[{i}] must be a str or a non-empty list of str")
    flat = [d for group in groups for d in group]
    vectors = _normalize_rows(encoder.encode(flat))
    bounds = np.cumsum([0] + [len(g) for g in groups])
    means = [vectors[bounds[i] : bounds[i + 1]].mean(axis=0) for i in range(len(groups))]
    return _normalize_rows(np.stack(means))


def zero_shot_classify(
    encoder: Any, texts: Sequence[str], label_descriptions: Sequence[Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Classify ``texts`` with no labelled example: each gets the class whose description
    is most similar in meaning.

    ``label_descriptions[c]`` describes class c: one sentence, or several (their unit
    embeddings are averaged into one class vector, which smooths out the quirks of any one
    phrasing). The score of text i for class c is cos(embed(text_i), class_c).

    Args:
        encoder: an object with ``encode(texts) -> (N, D) array``.
        texts: the texts to classify.
        label_descriptions: per class, a str or a list of str; index = label.

    Returns:
        ``(labels, scores)``: int64 (N,) predicted class indices and float32 (N, C)
        cosine similarities.

    Example:
        >>> from nnlab.text import SentenceEncoder
        >>> enc = SentenceEncoder()  # doctest: +SKIP
        >>> labels, _ = zero_shot_classify(enc, ["what a wonderful day", "this is awful"],
        ...     ["an angry, negative post", "a happy, positive post"])  # doctest: +SKIP
        >>> labels.tolist()  # doctest: +SKIP
        [1, 0]
    """
    classes = _description_vectors(encoder, label_descriptions)
    scores = _normalize_rows(encoder.encode(list(texts))) @ classes.T
    return scores.argmax(axis=1).astype(np.int64), scores.astype(np.float32)


def class_prototypes(embeddings: Any, labels: Any, num_classes: int | None = None) -> np.ndarray:
    """The prototype of each class: the normalised mean of its (normalised) embeddings.

    Example:
        >>> class_prototypes([[1.0, 0.0], [0.0, 1.0], [0.0, 3.0]], [0, 0, 1]).round(3)
        array([[0.707, 0.707],
               [0.   , 1.   ]], dtype=float32)
    """
    x = _normalize_rows(np.asarray(embeddings))
    y = np.asarray(labels, dtype=np.int64)
    if y.shape != (len(x),):
        raise ValueError(f"labels must have shape ({len(x)},), got {y.shape}")
    num_classes = int(y.max()) + 1 if num_classes is None else num_classes
    missing = [c for c in range(num_classes) if not np.any(y == c)]
    if missing:
        raise ValueError(f"class_prototypes: no example for classes {missing}")
    return _normalize_rows(np.stack([x[y == c].mean(axis=0) for c in range(num_classes)]))


def few_shot_prototypes(
    support_embeddings: Any,
    support_labels: Any,
    query_embeddings: Any,
    num_classes: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Prototype classification: each query gets the class whose mean support embedding
    (prototype) is the most cosine-similar.

    With k examples per class the prototype averages out what is particular to each
    example (its topic, its wording) and keeps what they share (the class), so accuracy
    rises with k; nothing is trained, so even k = 1 works.

    Args:
        support_embeddings: (S, D) embeddings of the labelled examples.
        support_labels: (S,) their classes 0..C-1, every class present.
        query_embeddings: (N, D) embeddings to classify.
        num_classes: C (default: max label + 1).

    Returns:
        ``(labels, scores)``: int64 (N,) and float32 (N, C) cosine similarities.

    Example:
        >>> support = [[1.0, 0.1], [0.9, -0.1], [0.0, 1.0]]
        >>> labels, scores = few_shot_prototypes(support, [0, 0, 1], [[0.8, 0.3], [0.1, 0.9]])
        >>> labels.tolist()
        [0, 1]
    """
    protos = class_prototypes(support_embeddings, support_labels, num_classes)
    scores = _normalize_rows(np.asarray(query_embeddings)) @ protos.T
    return scores.argmax(axis=1).astype(np.int64), scores.astype(np.float32)


def semantic_search(
    encoder: Any, query: str, corpus: Any, top_k: int = 5
) -> list[tuple[int, float]]:
    """The ``top_k`` entries of ``corpus`` nearest in meaning to ``query``.

    Args:
        encoder: an object with ``encode(texts) -> (N, D) array``.
        query: the search text.
        corpus: a list of texts, or their embeddings (N, D) already computed (encode a
            collection once, search it many times).
        top_k: how many results (default: 5; at most the corpus size).

    Returns:
        ``[(index, score), ...]``, best first; ``score`` is the cosine similarity.

    Example:
        >>> from nnlab.text import SentenceEncoder
        >>> corpus = load_search_corpus()
        >>> hits = semantic_search(SentenceEncoder(), "my phone won't hold a charge",
        ...                        corpus, top_k=1)  # doctest: +SKIP
        >>> corpus[hits[0][0]]  # doctest: +SKIP
        'My laptop battery dies after an hour.'
    """
    if not isinstance(query, str):
        raise TypeError(f"semantic_search: query must be a str, got {type(query).__name__}")
    if top_k < 1:
        raise ValueError(f"semantic_search: top_k must be ≥ 1, got {top_k}")
    if isinstance(corpus, np.ndarray):
        docs = _normalize_rows(corpus)
    else:
        docs = _normalize_rows(encoder.encode(list(corpus)))
    if len(docs) == 0:
        return []
    scores = docs @ _normalize_rows(encoder.encode([query]))[0]
    order = np.argsort(-scores, kind="stable")[:top_k]
    return [(int(i), float(scores[i])) for i in order]


def nearest_neighbours(embeddings: Any, top_k: int) -> list[list[tuple[int, float]]]:
    """For each row of ``embeddings`` (N, D), its ``top_k`` nearest *other* rows by cosine
    similarity, best first: ``[[(index, cosine), ...], ...]``.

    A row is never its own neighbour (it is left out by index, so a repeated text still
    finds its twin); each list holds min(top_k, N − 1) pairs, so with fewer than two rows
    every list is empty.

    Example:
        >>> pairs = nearest_neighbours([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]], top_k=1)
        >>> [[(j, round(c, 3)) for j, c in row] for row in pairs]
        [[(1, 0.8)], [(0, 0.8)], [(1, 0.6)]]
    """
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ValueError(f"nearest_neighbours: top_k must be a whole number ≥ 1, got {top_k!r}")
    vectors = _normalize_rows(np.asarray(embeddings))
    n = len(vectors)
    similarity = (vectors @ vectors.T).astype(np.float64)
    out = []
    for i in range(n):
        others = np.delete(np.arange(n), i)
        order = others[np.argsort(-similarity[i, others], kind="stable")][:top_k]
        out.append([(int(j), float(similarity[i, j])) for j in order])
    return out


def load_search_corpus() -> list[str]:
    """The small bundled collection for semantic search (``data/search_corpus.txt``): 80
    short sentences on varied topics (travel, cooking, technology, health, weather,
    sport, money, pets...), several paraphrasing one another in different words.

    Example:
        >>> corpus = load_search_corpus()
        >>> len(corpus), corpus[0]
        (80, 'The train to the airport was cancelled this morning.')
    """
    path = resources.files("nnlab.text").joinpath("data", "search_corpus.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]
