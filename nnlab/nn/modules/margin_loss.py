"""Margin and embedding loss modules: hinge, soft-margin and multi-class margin losses on
scores, and the losses that compare pairs or triplets of embeddings (cosine, ranking,
triplet, contrastive). The functional forms are in :mod:`nnlab.ops.margin_loss`.

Conventions as in :mod:`nnlab.nn.modules.loss`: thin shells with torch's names, arguments
and defaults; x is the input, y the target, N the batch size and C the number of classes.
"""

from __future__ import annotations

from typing import Any

from nnlab.nn import functional as F
from nnlab.nn.modules.loss_base import _Loss, _MarginLoss, _WeightedLoss
from nnlab.tensor import Tensor

__all__ = [
    "ContrastiveLoss", "CosineEmbeddingLoss", "HingeEmbeddingLoss", "HingeLoss",
    "MarginRankingLoss", "MultiMarginLoss", "SoftMarginLoss", "TripletMarginLoss",
]  # fmt: skip


class HingeEmbeddingLoss(_MarginLoss):
    """For distances x between pairs and labels y ∈ {1, -1} (similar / dissimilar):

        lₙ = xₙ where yₙ = 1,   max(0, margin - xₙ) where yₙ = -1

    Similar pairs are pulled together, dissimilar pairs pushed at least ``margin`` apart.

    Args:
        margin: how far dissimilar pairs must be (default 1.0).
        size_average, reduce: deprecated, use ``reduction``.
        reduction: 'none' | 'mean' | 'sum' (default 'mean').

    Shape:
        input (*), target (*) broadcastable; output () or (*) for 'none'.

    Example:
        >>> import nnlab
        >>> HingeEmbeddingLoss()(nnlab.tensor([0.3, 0.4]), nnlab.tensor([1, -1]))
        tensor(0.45)
    """

    def __init__(
        self,
        margin: float = 1.0,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(margin, size_average, reduce, reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class HingeLoss(_MarginLoss):
    """Binary hinge loss, the linear SVM's, for labels y ∈ {-1, +1} (nnlab only):

        lₙ = max(0, margin - yₙ·xₙ)

    A score on the right side of the decision boundary by at least ``margin`` costs nothing.
    PyTorch has no direct twin: :class:`HingeEmbeddingLoss` takes distances, and
    :class:`MultiMarginLoss` compares the scores of several classes. Labels other than ±1
    raise (0/1 labels convert with ``2 * y - 1``).

    Args:
        margin: the margin m (default 1.0).
        reduction: 'none' | 'mean' | 'sum' (default 'mean').

    Shape:
        input (*) scores, target (*) labels of the same shape; output () or (*) for 'none'.

    Example:
        >>> import nnlab
        >>> HingeLoss()(nnlab.tensor([2.0, 0.5, 0.5]), nnlab.tensor([1, 1, -1]))
        tensor(0.6667)
    """

    def __init__(self, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(margin, reduction=reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.hinge_loss(input, target, margin=self.margin, reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss (Weston & Watkins): the score of the right class must beat every
    other class's by ``margin``:

        lₙ = (1/C)·Σ_{i≠yₙ} w_{yₙ}·max(0, margin - x_{n,yₙ} + x_{n,i})^p,   p ∈ {1, 2}

    Args:
        p: 1 or 2 (default 1).
        margin: the required gap (default 1.0).
        weight: a weight per class, shape (C,), applied to the samples of that class
            (default None).
        size_average, reduce: deprecated, use ``reduction``.
        reduction: 'none' | 'mean' | 'sum' (default 'mean').

    Shape:
        input (N, C) or (C,); target (N,) or () with integer class indices; output () or,
        for 'none', the target's shape.

    Example:
        >>> import nnlab
        >>> MultiMarginLoss()(nnlab.tensor([[0.1, 0.2, 0.4, 0.8]]), nnlab.tensor([3]))
        tensor(0.325)
    """

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: Tensor | None = None,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 are supported, got {p}")
        if weight is not None and self.weight.ndim != 1:
            raise ValueError(
                f"MultiMarginLoss: expected weight to be None or 1-D (one per class), got "
                f"shape {self.weight.shape}"
            )
        self.p = p
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.multi_margin_loss(
            input, target, self.p, self.margin, self.weight, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"p={self.p}, margin={self.margin}, reduction={self.reduction!r}"


class SoftMarginLoss(_Loss):
    """Two-class logistic loss for labels y ∈ {-1, +1}: lₙ = ln(1 + e^(-yₙ·xₙ)).

    A smooth version of the hinge loss (and the logistic-regression loss with ±1 labels);
    nnlab computes it so that it never overflows.

    Args:
        size_average, reduce: deprecated, use ``reduction``.
        reduction: 'none' | 'mean' | 'sum' (default 'mean').

    Shape:
        input (*), target (*) broadcastable; output () or (*) for 'none'.

    Example:
        >>> import nnlab
        >>> SoftMarginLoss()(nnlab.tensor([0.0, 2.0]), nnlab.tensor([1.0, -1.0]))
        tensor(1.41)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class CosineEmbeddingLoss(_MarginLoss):
    """Learns embeddings whose cosine similarity says whether two inputs match:

        lₙ = 1 - cos(x₁ₙ, x₂ₙ) where yₙ = 1,   max(0, cos(x₁ₙ, x₂ₙ) - margin) where yₙ = -1

    with cos(a, b) = a·b / √((‖a‖² + ε)(‖b‖² + ε)), ε = 1e-12.

    Args:
        margin: in [-1, 1]; 0 to 0.5 is typical (default 0.0).
        size_average, reduce: deprecated, use ``reduction``.
        reduction: 'none' | 'mean' | 'sum' (default 'mean').

    Shape:
        input1, input2 (N, D) or (D,); target (N,) or () with labels 1 or -1; output () or,
        for 'none', the target's shape.

    Example:
        >>> import nnlab
        >>> a, b = nnlab.tensor([[1.0, 0.0], [1.0, 1.0]]), nnlab.tensor([[0.0, 1.0], [1.0, 1.0]])
        >>> CosineEmbeddingLoss()(a, b, nnlab.tensor([1, -1]))
        tensor(1.)
    """

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.cosine_embedding_loss(
            input1, input2, target, margin=self.margin, reduction=self.reduction
        )


class MarginRankingLoss(_MarginLoss):
    """Ranks two inputs: y = 1 says x₁ should be the larger by ``margin``, y = -1 the smaller:

        lₙ = max(0, -yₙ·(x₁ₙ - x₂ₙ) + margin)

    Args:
        margin: the required gap (default 0.0).
        size_average, reduce: deprecated, use ``reduction``.
        reduction: 'none' | 'mean' | 'sum' (default 'mean').

    Shape:
        input1, input2, target with the same number of dimensions, broadcastable (usually
        (N,)); output () or, for 'none', the broadcast shape.

    Example:
        >>> import nnlab
        >>> a, b = nnlab.tensor([0.8, 0.3]), nnlab.tensor([0.5, 0.5])
        >>> MarginRankingLoss(margin=0.1)(a, b, nnlab.tensor([1.0, 1.0]))
        tensor(0.15)
    """

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.margin_ranking_loss(
            input1, input2, target, margin=self.margin, reduction=self.reduction
        )


class TripletMarginLoss(_Loss):
    """Metric learning from triplets: an anchor a should be closer to a positive p (same
    identity) than to a negative n by at least ``margin``:

        lₙ = max(0, d(aₙ, pₙ) - d(aₙ, nₙ) + margin),   d(u, v) = ‖u - v + ε‖_p

    With ``swap=True`` the negative's distance is the smaller of d(a, n) and d(p, n)
    (Balntas et al., 2016), a harder negative.

    Args:
        margin: > 0 (default 1.0).
        p: the norm's degree (default 2.0).
        eps: ε added to the difference, avoiding a zero norm (default 1e-6).
        swap: use the distance swap (default False).
        size_average, reduce: deprecated, use ``reduction``.
        reduction: 'none' | 'mean' | 'sum' (default 'mean').

    Shape:
        anchor, positive, negative (N, D) or (D,), broadcastable; output () or, for 'none',
        (N,).

    Example:
        >>> import nnlab
        >>> a, p = nnlab.tensor([[0.0, 0.0]]), nnlab.tensor([[0.0, 1.0]])
        >>> n = nnlab.tensor([[3.0, 0.0]])
        >>> TripletMarginLoss(margin=3.0, eps=0.0)(a, p, n)
        tensor(1.)
    """

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(
                f"TripletMarginLoss: expected margin to be greater than 0, got {margin}"
            )
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_loss(
            anchor,
            positive,
            negative,
            self.margin,
            self.p,
            self.eps,
            self.swap,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return (
            f"margin={self.margin}, p={self.p}, eps={self.eps}, swap={self.swap}, "
            f"reduction={self.reduction!r}"
        )


class ContrastiveLoss(_Loss):
    """Contrastive loss for Siamese networks (Hadsell, Chopra & LeCun, 2006; nnlab only).
    Two embeddings of a pair should be close when the pair is similar and at least
    ``margin`` apart when it is not:

        lₙ = yₙ·dₙ² + (1 - yₙ)·max(0, margin - dₙ)²,   dₙ = ‖x₁ₙ - x₂ₙ + ε‖₂

    Label convention: y = 1 marks a similar pair, y = 0 a dissimilar one (other labels
    raise). The paper writes Y = 0 for similar pairs and halves both terms; nnlab follows the
    more common modern convention. Dissimilar pairs farther apart than the margin cost
    nothing, so the embedding cannot collapse nor spread without bound.

    Args:
        margin: how far apart dissimilar pairs must be (default 1.0).
        eps: ε added to the difference, as in ``pairwise_distance`` (default 1e-6).
        reduction: 'none' | 'mean' | 'sum' (default 'mean').

    Shape:
        input1, input2 (N, D) or (D,); target (N,) or () with labels 1 or 0; output () or,
        for 'none', the target's shape.

    Example:
        >>> import nnlab
        >>> a, b = nnlab.tensor([[0.0, 0.0], [0.0, 0.0]]), nnlab.tensor([[0.3, 0.4], [0.3, 0.4]])
        >>> ContrastiveLoss(eps=0.0)(a, b, nnlab.tensor([1, 0]))
        tensor(0.25)
    """

    def __init__(self, margin: float = 1.0, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.margin, self.eps = margin, eps

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.contrastive_loss(
            input1, input2, target, margin=self.margin, eps=self.eps, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"margin={self.margin}, eps={self.eps}, reduction={self.reduction!r}"
