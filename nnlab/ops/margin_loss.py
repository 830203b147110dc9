"""Margin and embedding losses: hinge, soft-margin, multi-class margin, ranking, and the
metric-learning losses that compare embeddings (cosine, triplet, contrastive).

Conventions are those of :mod:`nnlab.ops.loss`. Where torch composes a loss from primitive
ops (hinge embedding, cosine embedding, margin ranking, triplet), so does nnlab, which keeps
the gradient conventions at kinks identical (``clamp(min=0)`` passes the gradient at 0).
``hinge_loss`` and ``contrastive_loss`` have no torch twin; their docstrings state the formula
and the label convention, and the tests check them against NumPy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnlab.autograd.function import Function
from nnlab.ops.cross_entropy import _class_weight
from nnlab.ops.elementwise import where
from nnlab.ops.loss import (
    _broadcast,
    _pair,
    _reduce,
    _same_shape,
    _sigmoid,
    _tensor,
    resolve_reduction,
)
from nnlab.tensor import Tensor

__all__ = [
    "contrastive_loss", "cosine_embedding_loss", "hinge_embedding_loss", "hinge_loss",
    "margin_ranking_loss", "multi_margin_loss", "soft_margin_loss", "triplet_margin_loss",
]  # fmt: skip

# torch's ε under the squared norms of cosine_embedding_loss
_COS_EPS = 1e-12


class SoftMargin(Function):
    """Two-class logistic loss for y ∈ {-1, +1}: l = ln(1 + e^(-y·x)), computed as
    max(-yx, 0) + ln(1 + e^-|yx|) so it never overflows (torch's form returns inf past
    yx ≈ -88 in float32);  ∂l/∂x = -y·σ(-y·x). The target gets no gradient, as in torch."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x)
        ctx.y = y
        z = -y * x
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * -ctx.y * _sigmoid(-ctx.y * x), None


class MultiMargin(Function):
    """Multi-class hinge loss of a sample with scores x (C classes) and class y:
    l = (1/C)·Σ_{i≠y} w_y·zᵢ^p over the active zᵢ = m - x_y + xᵢ > 0, with p ∈ {1, 2};
    ∂l/∂xᵢ = (w_y/C)·p·zᵢ^(p-1) for each active i ≠ y, and ∂l/∂x_y = -(the sum of those)."""

    @staticmethod
    def forward(ctx, x, target, weight, p, margin):
        ctx.save_for_backward(x)
        xb = x[None] if x.ndim == 1 else x
        t = target.reshape(-1)
        n, n_classes = xb.shape
        rows = np.arange(n)
        z = margin - xb[rows, t][:, None] + xb
        active = z > 0
        active[rows, t] = False
        coef = active.astype(x.dtype)
        if weight is not None:
            coef *= weight[t][:, None]
        ctx.rows, ctx.t, ctx.p, ctx.margin, ctx.n_classes = rows, t, p, margin, n_classes
        ctx.coef = coef
        h = z * coef if p == 1 else z * z * coef
        return (h.sum(axis=1) / n_classes).reshape(target.shape)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        xb = x[None] if x.ndim == 1 else x
        n = ctx.rows.shape[0]
        per_sample = g.reshape(n, 1) / ctx.n_classes
        if ctx.p == 1:
            dz = ctx.coef * per_sample
        else:
            z = ctx.margin - xb[ctx.rows, ctx.t].reshape(n, 1) + xb
            dz = 2 * z * ctx.coef * per_sample
        onehot = np.zeros(ctx.coef.shape, dtype=bool)
        onehot[ctx.rows, ctx.t] = True
        gx = dz - onehot * dz.sum(axis=1, keepdims=True)
        return gx.reshape(x.shape), None, None, None, None


def _same_ndim(op: str, names: tuple[str, str, str], *tensors: Tensor) -> None:
    """torch's checks for the three inputs of the ranking and triplet losses: the same number
    of dimensions, then shapes that broadcast together."""
    if len({t.ndim for t in tensors}) > 1:
        a, b, c = (t.shape for t in tensors)
        raise ValueError(
            f"{op}: {names[0]}, {names[1]} and {names[2]} should have the same number of "
            f"dimensions, got shapes {a}, {b} and {c}"
        )
    _broadcast(op, *tensors, names=names)


def hinge_embedding_loss(
    input: Tensor,
    target: Any,
    margin: float = 1.0,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """l = x where y = 1, max(0, m - x) where y = -1, for distances x (see
    :class:`nnlab.nn.HingeEmbeddingLoss`).

    >>> import nnlab, nnlab.nn.functional as F
    >>> F.hinge_embedding_loss(nnlab.tensor([0.3, 0.4]), nnlab.tensor([1, -1]), reduction="none")
    tensor([0.3, 0.6])
    """
    op = "hinge_embedding_loss"
    reduction = resolve_reduction(op, size_average, reduce, reduction)
    input, target = _tensor(input), _tensor(target)
    _broadcast(op, input, target)
    t = target.array
    # torch's composition: both terms apply to labels other than ±1
    loss = where(t != 1, (margin - input).clamp(min=0), 0) + where(t != -1, input, 0)
    return _reduce(loss, reduction)


def multi_margin_loss(
    input: Tensor,
    target: Any,
    p: int = 1,
    margin: float = 1.0,
    weight: Any = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Multi-class hinge loss l = (1/C)·Σ_{i≠y} w_y·max(0, m - x_y + xᵢ)^p (see
    :class:`nnlab.nn.MultiMarginLoss`).

    >>> import nnlab, nnlab.nn.functional as F
    >>> F.multi_margin_loss(nnlab.tensor([[0.1, 0.2, 0.4, 0.8]]), nnlab.tensor([3]))
    tensor(0.325)
    """
    op = "multi_margin_loss"
    reduction = resolve_reduction(op, size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError(f"{op}: only p == 1 and p == 2 are supported, got p={p}")
    input, target = _tensor(input), _tensor(target)
    if input.ndim not in (1, 2) or input.shape[-1] == 0:
        raise ValueError(
            f"{op}: expected an input of shape (C,) or (N, C) with C > 0, got {input.shape}"
        )
    t = target.array
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: targets must be integer class indices, got dtype {t.dtype}")
    expected = ((), (1,)) if input.ndim == 1 else ((input.shape[0],),)
    if t.shape not in expected:
        raise ValueError(
            f"{op}: expected target of shape {expected[-1]} for input of shape {input.shape}, "
            f"got target shape {t.shape}"
        )
    n_classes = input.shape[-1]
    if t.size and (t.min() < 0 or t.max() >= n_classes):
        bad = t[(t < 0) | (t >= n_classes)].flat[0]
        raise IndexError(f"{op}: target {int(bad)} is out of range for {n_classes} classes")
    w = _class_weight(op, weight, n_classes, input.dtype)
    return _reduce(MultiMargin.apply(input, t, w, p, float(margin)), reduction)


def soft_margin_loss(
    input: Tensor,
    target: Any,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Two-class logistic loss l = ln(1 + e^(-y·x)) for labels y ∈ {-1, +1} (see
    :class:`nnlab.nn.SoftMarginLoss`).

    >>> import nnlab, nnlab.nn.functional as F
    >>> F.soft_margin_loss(nnlab.tensor([0.0, 2.0]), nnlab.tensor([1.0, -1.0]), reduction="none")
    tensor([0.6931, 2.1269])
    """
    reduction = resolve_reduction("soft_margin_loss", size_average, reduce, reduction)
    input, target = _pair("soft_margin_loss", input, target, warn=False)
    return _reduce(SoftMargin.apply(input, target.array), reduction)


def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Any,
    margin: float = 0,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """l = 1 - cos(x₁, x₂) where y = 1, max(0, cos(x₁, x₂) - margin) where y = -1 (see
    :class:`nnlab.nn.CosineEmbeddingLoss`).

    >>> import nnlab, nnlab.nn.functional as F
    >>> a, b = nnlab.tensor([[1.0, 0.0], [1.0, 1.0]]), nnlab.tensor([[0.0, 1.0], [1.0, 1.0]])
    >>> F.cosine_embedding_loss(a, b, nnlab.tensor([1, -1]), reduction="none")
    tensor([1., 1.])
    """
    op = "cosine_embedding_loss"
    reduction = resolve_reduction(op, size_average, reduce, reduction)
    x1, x2, target = _tensor(input1), _tensor(input2), _tensor(target)
    if target.ndim not in (0, 1) or x1.ndim != target.ndim + 1 or x2.ndim != target.ndim + 1:
        raise ValueError(
            f"{op}: expected inputs (N, D) with target (N,), or inputs (D,) with a 0-d "
            f"target; got input1 {x1.shape}, input2 {x2.shape}, target {target.shape}"
        )
    _broadcast(op, x1, x2, names=("input1", "input2"))
    dim = target.ndim
    dot = (x1 * x2).sum(dim)
    norms = ((x1 * x1).sum(dim) + _COS_EPS) * ((x2 * x2).sum(dim) + _COS_EPS)
    cos = dot / norms.sqrt()
    _broadcast(op, cos, target, names=("cosine similarity", "target"))
    t = target.array
    loss = where(t == 1, 1 - cos, 0) + where(t == -1, (cos - margin).clamp(min=0), 0)
    return _reduce(loss, reduction)


def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Any,
    margin: float = 0,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """l = max(0, -y·(x₁ - x₂) + margin): y = 1 asks for x₁ > x₂, y = -1 for x₂ > x₁ (see
    :class:`nnlab.nn.MarginRankingLoss`).

    >>> import nnlab, nnlab.nn.functional as F
    >>> a, b = nnlab.tensor([0.8, 0.3]), nnlab.tensor([0.5, 0.5])
    >>> F.margin_ranking_loss(a, b, nnlab.tensor([1.0, 1.0]), margin=0.1, reduction="none")
    tensor([0. , 0.3])
    """
    op = "margin_ranking_loss"
    reduction = resolve_reduction(op, size_average, reduce, reduction)
    x1, x2, target = _tensor(input1), _tensor(input2), _tensor(target)
    _same_ndim(op, ("input1", "input2", "target"), x1, x2, target)
    if target.dtype.kind not in "fc":
        target = target.to(x1.dtype)
    return _reduce((-target * (x1 - x2) + margin).clamp(min=0), reduction)


def _pairwise_distance(x1: Tensor, x2: Tensor, p: float, eps: float) -> Tensor:
    """‖x₁ - x₂ + ε‖_p along the last axis (torch's ``pairwise_distance``), composed."""
    d = x1 - x2 + eps
    if p == 2:
        return (d * d).sum(-1).sqrt()
    if p == 1:
        return d.abs().sum(-1)
    if p == math.inf:
        return d.abs().amax(-1)
    if p == -math.inf:
        return d.abs().amin(-1)
    if p == 0:  # the number of non-zero entries: piecewise constant, no gradient
        return Tensor((d.array != 0).sum(-1).astype(d.dtype))
    return (d.abs() ** p).sum(-1) ** (1 / p)


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """l = max(0, d(a, p) - d(a, n) + margin) with d(u, v) = ‖u - v + ε‖_p (see
    :class:`nnlab.nn.TripletMarginLoss`).

    >>> import nnlab, nnlab.nn.functional as F
    >>> a, p, n = nnlab.tensor([[0.0, 0.0]]), nnlab.tensor([[0.0, 1.0]]), nnlab.tensor([[3.0, 0.0]])
    >>> F.triplet_margin_loss(a, p, n, margin=3.0, eps=0.0)
    tensor(1.)
    """
    op = "triplet_margin_loss"
    reduction = resolve_reduction(op, size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    a, pos, neg = _tensor(anchor), _tensor(positive), _tensor(negative)
    _same_ndim(op, ("anchor", "positive", "negative"), a, pos, neg)
    d_pos = _pairwise_distance(a, pos, p, eps)
    d_neg = _pairwise_distance(a, neg, p, eps)
    if swap:  # the harder of the two negatives' distances: to the anchor or to the positive
        d_swap = _pairwise_distance(pos, neg, p, eps)
        d_neg = where(d_swap.array < d_neg.array, d_swap, d_neg)
    return _reduce((margin + d_pos - d_neg).clamp(min=0), reduction)


def _check_labels(op: str, labels: np.ndarray, allowed: tuple[int, int], hint: str) -> None:
    if labels.size and not np.isin(labels, allowed).all():
        bad = labels[~np.isin(labels, allowed)].flat[0]
        raise ValueError(f"{op}: labels must be {allowed[0]} or {allowed[1]}, got {bad}; {hint}")


def hinge_loss(input: Tensor, target: Any, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """Binary hinge loss (the linear SVM's) for labels y ∈ {-1, +1}: l = max(0, m - y·x).

    A score x on the right side of the boundary by at least the margin costs nothing; the
    loss grows linearly otherwise. PyTorch has no direct twin (its ``hinge_embedding_loss``
    takes distances, its ``multi_margin_loss`` with two classes puts the margin between two
    scores); see :class:`nnlab.nn.HingeLoss`.

    Args:
        input: raw scores x, any shape.
        target: labels -1 or +1, the input's shape (0/1 labels raise: use ``2 * y - 1``).
        margin: m (default 1.0).
        reduction: 'none' | 'mean' | 'sum' (default 'mean').

    >>> import nnlab, nnlab.nn.functional as F
    >>> F.hinge_loss(nnlab.tensor([2.0, 0.5, 0.5]), nnlab.tensor([1, 1, -1]), reduction="none")
    tensor([0. , 0.5, 1.5])
    """
    reduction = resolve_reduction("hinge_loss", None, None, reduction)
    input, target = _tensor(input), _tensor(target)
    _same_shape("hinge_loss", input, target)
    _check_labels("hinge_loss", target.array, (-1, 1), "convert 0/1 labels with 2 * y - 1")
    y = target.array.astype(input.dtype)
    return _reduce((margin - y * input).clamp(min=0), reduction)


def contrastive_loss(
    input1: Tensor,
    input2: Tensor,
    target: Any,
    margin: float = 1.0,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """Contrastive loss for Siamese networks (Hadsell, Chopra & LeCun, 2006), with the
    embedding distance d = ‖x₁ - x₂ + ε‖₂:

        l = y·d² + (1 - y)·max(0, m - d)²

    Label convention: y = 1 marks a similar pair (pulled together), y = 0 a dissimilar pair
    (pushed at least m apart). The paper writes Y = 0 for similar pairs and halves both
    terms; see :class:`nnlab.nn.ContrastiveLoss`.

    Args:
        input1, input2: embeddings (N, D) or (D,).
        target: labels 1 (similar) or 0 (dissimilar), shape (N,) or ().
        margin: m, how far apart dissimilar pairs must be (default 1.0).
        eps: ε added to the difference, as ``pairwise_distance`` (default 1e-6).
        reduction: 'none' | 'mean' | 'sum' (default 'mean').

    >>> import nnlab, nnlab.nn.functional as F
    >>> a, b = nnlab.tensor([[0.0, 0.0], [0.0, 0.0]]), nnlab.tensor([[0.3, 0.4], [0.3, 0.4]])
    >>> F.contrastive_loss(a, b, nnlab.tensor([1, 0]), eps=0.0, reduction="none")
    tensor([0.25, 0.25])
    """
    op = "contrastive_loss"
    reduction = resolve_reduction(op, None, None, reduction)
    x1, x2, target = _tensor(input1), _tensor(input2), _tensor(target)
    shape = _broadcast(op, x1, x2, names=("input1", "input2"))
    if not shape or target.shape != shape[:-1]:
        raise ValueError(
            f"{op}: expected embeddings (N, D) with target (N,), or (D,) with a 0-d target; "
            f"got input1 {x1.shape}, input2 {x2.shape}, target {target.shape}"
        )
    _check_labels(op, target.array, (0, 1), "use 1 for similar pairs and 0 for dissimilar ones")
    y = target.array.astype(x1.dtype)
    diff = x1 - x2 + eps
    squared = (diff * diff).sum(-1)
    gap = (margin - squared.sqrt()).clamp(min=0)
    return _reduce(y * squared + (1 - y) * (gap * gap), reduction)
