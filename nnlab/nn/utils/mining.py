"""Triplet mining: which (anchor, positive, negative) triplets of a labelled batch to train on.

A batch of B embeddings holds about B³ triplets, and once training has begun most of them
already satisfy d(a, p) + margin ≤ d(a, n) and give no gradient. Miners pick the
informative ones from the batch's distance matrix, then the triplet loss is computed on
those rows only:

    batch hard (Hermans, Beyer & Leibe, 2017): for every anchor, its farthest positive and
        its nearest negative, one triplet per anchor.
    semi-hard (Schroff, Kobak & Philbin, 2015, FaceNet): for every anchor-positive pair,
        the nearest negative that is still farther than the positive but inside the
        margin, d(a, p) < d(a, n) < d(a, p) + margin.

The miners read the distances without gradient and return index tensors (anchors,
positives, negatives), as the miners of pytorch-metric-learning do; the gradient flows
through the loss on the gathered embeddings:

    >>> import nnlab
    >>> z = nnlab.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.5], [3.0, 0.0]], requires_grad=True)
    >>> a, p, n = batch_hard_triplets(z, nnlab.tensor([0, 0, 1, 1]))
    >>> a, p, n
    (tensor([0, 1, 2, 3]), tensor([1, 0, 3, 2]), tensor([2, 2, 0, 1]))
    >>> loss = nnlab.nn.TripletMarginLoss(margin=1.0)(z[a], z[p], z[n])

Distances are Euclidean, the default of :class:`nnlab.nn.TripletMarginLoss`. A batch
without any usable triplet (one class only, or every class a single example) gives empty
index tensors; the mean of a loss over no triplets is nan, so sample batches with at least
two examples of several classes (P classes × K examples, as Hermans et al.).
"""

from __future__ import annotations

import numpy as np

from nnlab.tensor import Tensor

__all__ = ["batch_hard_triplets", "pairwise_distances", "semi_hard_triplets"]

Triplets = tuple[Tensor, Tensor, Tensor]


def _check(op: str, embeddings: Tensor, labels: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The embeddings and labels as NumPy arrays, after checking their shapes and types."""
    if not isinstance(embeddings, Tensor) or not isinstance(labels, Tensor):
        raise TypeError(
            f"{op}: expected embeddings and labels to be Tensors, got "
            f"{type(embeddings).__name__} and {type(labels).__name__}"
        )
    if embeddings.ndim != 2 or embeddings.dtype.kind != "f":
        raise ValueError(
            f"{op}: expected floating embeddings of shape (B, D), got shape {embeddings.shape} "
            f"and dtype {embeddings.dtype}"
        )
    if labels.shape != embeddings.shape[:1] or labels.dtype.kind not in "iu":
        raise ValueError(
            f"{op}: expected integer labels of shape ({embeddings.shape[0]},), one per "
            f"embedding; got shape {labels.shape} and dtype {labels.dtype}"
        )
    return embeddings.array, labels.array


def pairwise_distances(embeddings: Tensor) -> np.ndarray:
    """The (B, B) matrix of Euclidean distances ‖zᵢ - zⱼ‖₂ between the rows of ``embeddings``
    (no gradient: the miners only compare them).

    Computed from differences rather than ‖zᵢ‖² + ‖zⱼ‖² - 2zᵢ·zⱼ, which cancels badly for
    close points and would make near-ties between positives and negatives unreliable.
    """
    z = embeddings.array if isinstance(embeddings, Tensor) else np.asarray(embeddings)
    return np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(-1))


def _as_triplets(anchors: np.ndarray, positives: np.ndarray, negatives: np.ndarray) -> Triplets:
    return tuple(Tensor(np.asarray(i, dtype=np.int64)) for i in (anchors, positives, negatives))


def batch_hard_triplets(embeddings: Tensor, labels: Tensor) -> Triplets:
    """For each anchor i, the hardest positive argmax_{p: yₚ = yᵢ, p ≠ i} d(i, p) and the
    hardest negative argmin_{n: yₙ ≠ yᵢ} d(i, n) (batch hard, Hermans et al., 2017).

    Anchors with no positive (the only example of their class) or no negative are skipped.
    Ties go to the lowest index.

    Args:
        embeddings: (B, D) floating.
        labels: (B,) integer class labels.

    Returns:
        (anchors, positives, negatives), three int64 index tensors of equal length ≤ B.
    """
    z, y = _check("batch_hard_triplets", embeddings, labels)
    d = pairwise_distances(z)
    same = y[:, None] == y[None, :]
    positive = same & ~np.eye(len(y), dtype=bool)
    negative = ~same
    anchors = np.flatnonzero(positive.any(1) & negative.any(1))
    farthest_positive = np.where(positive, d, -np.inf)[anchors].argmax(1)
    nearest_negative = np.where(negative, d, np.inf)[anchors].argmin(1)
    return _as_triplets(anchors, farthest_positive, nearest_negative)


def semi_hard_triplets(embeddings: Tensor, labels: Tensor, margin: float = 1.0) -> Triplets:
    """For each anchor-positive pair (a, p), p ≠ a of a's class, the nearest semi-hard
    negative argmin d(a, n) over the n of other classes with d(a, p) < d(a, n) < d(a, p) +
    margin (FaceNet, Schroff et al., 2015).

    Such a negative is on the right side of the positive, so it does not pull the embedding
    towards collapse the way the hardest negatives can early in training, yet it still
    violates the margin and gives a gradient. Pairs without one are skipped.

    Args:
        embeddings: (B, D) floating.
        labels: (B,) integer class labels.
        margin: the triplet loss's margin, > 0 (default 1.0, as TripletMarginLoss).

    Returns:
        (anchors, positives, negatives), three int64 index tensors of equal length, one
        entry per anchor-positive pair that has a semi-hard negative, in row-major order.
    """
    z, y = _check("semi_hard_triplets", embeddings, labels)
    if not margin > 0:
        raise ValueError(f"semi_hard_triplets: expected margin > 0, got {margin}")
    d = pairwise_distances(z)
    same = y[:, None] == y[None, :]
    anchors, positives = np.nonzero(same & ~np.eye(len(y), dtype=bool))
    d_ap = d[anchors, positives][:, None]  # (pairs, 1)
    d_an = d[anchors]  # (pairs, B)
    semi_hard = ~same[anchors] & (d_an > d_ap) & (d_an < d_ap + margin)
    keep = semi_hard.any(1)
    negatives = np.where(semi_hard, d_an, np.inf)[keep].argmin(1)
    return _as_triplets(anchors[keep], positives[keep], negatives)
