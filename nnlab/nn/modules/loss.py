"""Loss modules: the criterion objects of a training loop, ``loss = criterion(output, target)``.

Each one is a thin shell over its functional form in :mod:`nnlab.nn.functional`, with
PyTorch's class name, constructor arguments, defaults and attribute names: ``__init__`` stores
the configuration (class weights become buffers, so they follow ``state_dict`` and ``to``),
``forward`` calls the function. ``reduction`` is 'none' | 'mean' | 'sum' everywhere
('batchmean' too for :class:`KLDivLoss`); the deprecated ``size_average`` and ``reduce``
arguments map onto it with a warning, as in torch. The formulas use x for the input, y for
the target, N for the batch size and C for the number of classes.

The margin and embedding losses are in :mod:`nnlab.nn.modules.margin_loss` and the
segmentation losses in :mod:`nnlab.nn.modules.segmentation_loss`; the bases
(``_Loss``, ``_WeightedLoss``, ``_MarginLoss``) in :mod:`nnlab.nn.modules.loss_base`.
"""

from __future__ import annotations

from typing import Any

from nnlab.nn import functional as F
from nnlab.nn.modules.loss_base import _Loss, _WeightedLoss
from nnlab.nn.modules.margin_loss import (
    ContrastiveLoss,
    CosineEmbeddingLoss,
    HingeEmbeddingLoss,
    HingeLoss,
    MarginRankingLoss,
    MultiMarginLoss,
    SoftMarginLoss,
    TripletMarginLoss,
)
from nnlab.tensor import Tensor

# Every loss class, as torch's ``torch.nn.modules.loss``: the margin and embedding losses
# are re-exported from their file.
__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "ContrastiveLoss", "CosineEmbeddingLoss", "CrossEntropyLoss",
    "HingeEmbeddingLoss", "HingeLoss", "HuberLoss", "KLDivLoss", "L1Loss", "MSELoss",
    "MarginRankingLoss", "MultiMarginLoss", "NLLLoss", "SmoothL1Loss", "SoftMarginLoss",
    "TripletMarginLoss",
]  # fmt: skip


# -- regression --------------------------------------------------------------------------


class MSELoss(_Loss):
    """Mean squared error: lₙ = (xₙ - yₙ)², then reduced.

    Squaring punishes large errors much more than small ones, which makes it the natural
    loss for Gaussian noise (it is the negative log-likelihood up to constants) and sensitive
    to outliers (see :class:`HuberLoss`). Gradient: 2(xₙ - yₙ).

    Args:
        size_average, reduce: deprecated, use ``reduction``.
        reduction: 'none' | 'mean' | 'sum' (default 'mean').

    Shape:
        input (*), target (*) the same shape; output () or (*) for 'none'.

    Example:
        >>> import nnlab
        >>> loss = MSELoss()
        >>> x = nnlab.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> out = loss(x, nnlab.tensor([1.0, 2.0, 5.0]))
        >>> out.backward()
        >>> out, x.grad
        (tensor(1.3333, grad_fn=<MeanBackward>), tensor([ 0.    ,  0.    , -1.3333]))
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error: lₙ = |xₙ - yₙ|, then reduced.

    Every error costs in proportion to its size, so outliers weigh less than under
    :class:`MSELoss`; the minimiser is the median rather than the mean. Gradient:
    sign(xₙ - yₙ), 0 where xₙ = yₙ.

    Args:
        size_average, reduce: deprecated, use ``reduction``.
        reduction: 'none' | 'mean' | 'sum' (default 'mean').

    Shape:
        input (*), target (*) the same shape; output () or (*) for 'none'.

    Example:
        >>> import nnlab
        >>> L1Loss()(nnlab.tensor([1.0, 2.0, 3.0]), nnlab.tensor([1.0, 2.0, 5.0]))
        tensor(0.6667)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Smooth L1: quadratic for small errors, linear for large ones (Fast R-CNN's box loss).

    With d = xₙ - yₙ:  lₙ = ½d²/β if |d| < β, else |d| - ½β. The two pieces meet with equal
    value and slope at |d| = β; ``beta=0`` is exactly :class:`L1Loss`.
    ``SmoothL1Loss(beta) = HuberLoss(delta=beta) / beta``.

    Args:
        size_average, reduce: deprecated, use ``reduction``.
        reduction: 'none' | 'mean' | 'sum' (default 'mean').
        beta: β ≥ 0, where the loss turns from quadratic to linear (default 1.0).

    Shape:
        input (*), target (*) the same shape; output () or (*) for 'none'.

    Example:
        >>> import nnlab
        >>> SmoothL1Loss(reduction="none")(nnlab.tensor([0.5, 3.0]), nnlab.zeros(2))
        tensor([0.125, 2.5  ])
    """

    def __init__(
        self,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
        beta: float = 1.0,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, beta={self.beta}"


class HuberLoss(_Loss):
    """Huber loss: squared error for small errors, absolute error beyond ``delta``.

    With d = xₙ - yₙ:  lₙ = ½d² if |d| < δ, else δ(|d| - ½δ). Robust to outliers while
    smooth at 0; its gradient is d clipped to [-δ, δ].

    Args:
        reduction: 'none' | 'mean' | 'sum' (default 'mean').
        delta: δ > 0, where the loss turns from quadratic to linear (default 1.0).

    Shape:
        input (*), target (*) the same shape; output () or (*) for 'none'.

    Example:
        >>> import nnlab
        >>> HuberLoss(delta=2.0, reduction="none")(nnlab.tensor([0.5, 3.0]), nnlab.zeros(2))
        tensor([0.125, 4.   ])
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        if not isinstance(delta, (float, int)):
            raise TypeError(f"HuberLoss: delta must be a float or int, got {type(delta).__name__}")
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, delta={self.delta}"


# -- classification ----------------------------------------------------------------------


class BCELoss(_WeightedLoss):
    """Binary cross-entropy between probabilities x ∈ [0, 1] and targets y ∈ [0, 1]:

        lₙ = -wₙ·[yₙ·ln xₙ + (1 - yₙ)·ln(1 - xₙ)]

    Each log is clamped at -100 (as torch), so a confident mistake costs 100, not inf. Inputs
    outside [0, 1] raise. Prefer :class:`BCEWithLogitsLoss` on raw scores: it fuses the
    sigmoid in and stays exact where σ(x) rounds to 0 or 1.

    Args:
        weight: rescales each element's loss; broadcast to the input's shape (default None).
        size_average, reduce: deprecated, use ``reduction``.
        reduction: 'none' | 'mean' | 'sum' (default 'mean').

    Shape:
        input (*), target (*) the same shape; output () or (*) for 'none'.

    Example:
        >>> import nnlab
        >>> BCELoss()(nnlab.tensor([0.9, 0.2]), nnlab.tensor([1.0, 0.0]))
        tensor(0.1643)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and binary cross-entropy in one numerically stable step, on raw scores x:

        lₙ = -wₙ·[p·yₙ·ln σ(xₙ) + (1 - yₙ)·ln(1 - σ(xₙ))]

    computed as (1 - y)·x + (1 + (p - 1)·y)·(max(-x, 0) + ln(1 + e^-|x|)), which never
    overflows; the gradient is simply σ(x) - y (without ``pos_weight``). For multi-label
    classification, ``pos_weight`` of shape (C,) weighs the positives of each class: with
    n negatives per positive, p = n balances them.

    Args:
        weight: rescales each element's loss; broadcast to the input's shape (default None).
        size_average, reduce: deprecated, use ``reduction``.
        reduction: 'none' | 'mean' | 'sum' (default 'mean').
        pos_weight: weight p of the positive examples, broadcast against the target,
            typically of shape (C,) (default None: 1).

    Shape:
        input (*), target (*) the same shape; output () or (*) for 'none'.

    Example:
        >>> import nnlab
        >>> BCEWithLogitsLoss()(nnlab.tensor([2.2, -1.4]), nnlab.tensor([1.0, 0.0]))
        tensor(0.1628)
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, pos_weight=self.pos_weight, reduction=self.reduction
        )


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy between softmax(input) and the target, the loss of multi-class
    classification. The input holds unnormalised scores (logits), one per class.

    With class-index targets y (integers) and p = softmax(x) over the C classes:

        lₙ = -w_{yₙ}·ln p_{n,yₙ},   0 where yₙ = ignore_index
        'mean' = Σₙ lₙ / Σₙ w_{yₙ} over the non-ignored samples

    With label smoothing ε the target becomes (1 - ε)·onehot(y) + ε/C:
    lₙ = (1 - ε)·w_{yₙ}·(-ln p_{n,yₙ}) + (ε/C)·Σ_c w_c·(-ln p_{n,c}).
    With class-probability targets t (floating, the input's shape):
    lₙ = -Σ_c w_c·t'_c·ln p_{n,c} with t' = (1 - ε)·t + ε/C, and 'mean' divides by the
    number of samples. The gradient with respect to the logits is p - (the target
    distribution) without weights: nnlab computes it in one fused op (in place on p).
    If every target is ignored, 'mean' is 0/0 = nan, as in torch.

    Args:
        weight: a rescaling weight per class, shape (C,) (default None).
        size_average, reduce: deprecated, use ``reduction``.
        ignore_index: a class-index target value that contributes nothing, neither to the
            loss nor to the 'mean' denominator (default -100, e.g. padding tokens).
        reduction: 'none' | 'mean' | 'sum' (default 'mean').
        label_smoothing: ε in [0, 1], the probability mass spread evenly over all classes
            (default 0.0).

    Shape:
        input (N, C), (N, C, d₁, ..., d_K) or unbatched (C,); target (N,), (N, d₁, ..., d_K)
        or () with integer class indices in [0, C), or the input's shape with floating
        probabilities; output () or, for 'none', the shape of the class-index target.

    Example:
        >>> import nnlab
        >>> criterion = CrossEntropyLoss()
        >>> logits = nnlab.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], requires_grad=True)
        >>> loss = criterion(logits, nnlab.tensor([0, 2]))
        >>> loss.backward()
        >>> loss
        tensor(0.1755, grad_fn=<SoftmaxCrossEntropyBackward>)
        >>> logits.grad  # (softmax - onehot) / N
        tensor([[-0.1072,  0.0876,  0.0196],
                [ 0.0247,  0.0272, -0.0519]])
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: Any = None,
        ignore_index: int = -100,
        reduce: Any = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )

    def extra_repr(self) -> str:
        return (
            f"ignore_index={self.ignore_index}, reduction={self.reduction!r}, "
            f"label_smoothing={self.label_smoothing}"
        )


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities: lₙ = -w_{yₙ}·x_{n,yₙ}.

    The input must already be log-probabilities (``log_softmax`` of the scores):
    ``NLLLoss()(log_softmax(x, 1), y)`` equals ``CrossEntropyLoss()(x, y)``. Entries whose
    target is ``ignore_index`` contribute nothing; 'mean' is Σₙ lₙ / Σₙ w_{yₙ} over the
    others (nan when all are ignored, as in torch).

    Args:
        weight: a rescaling weight per class, shape (C,) (default None).
        size_average, reduce: deprecated, use ``reduction``.
        ignore_index: a target value that contributes nothing (default -100).
        reduction: 'none' | 'mean' | 'sum' (default 'mean').

    Shape:
        input (N, C), (N, C, d₁, ..., d_K) or (C,); target (N,), (N, d₁, ..., d_K) or ()
        with integer class indices; output () or, for 'none', the target's shape.

    Example:
        >>> import nnlab
        >>> NLLLoss()(nnlab.tensor([[-0.1, -2.0], [-3.0, -0.5]]), nnlab.tensor([0, 1]))
        tensor(0.3)
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: Any = None,
        ignore_index: int = -100,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return f"ignore_index={self.ignore_index}, reduction={self.reduction!r}"


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence between a target distribution and the input's, for
    distillation and variational models. The input holds log-probabilities x:

        lₙ = yₙ·(ln yₙ - xₙ)   (0 where yₙ = 0),   or eʸ·(y - x) with ``log_target=True``

    Use ``reduction='batchmean'`` (sum / batch size) for the KL divergence of the math
    definition; 'mean' divides by every element and warns, as in torch.

    Args:
        size_average, reduce: deprecated, use ``reduction``.
        reduction: 'none' | 'batchmean' | 'sum' | 'mean' (default 'mean').
        log_target: the target holds log-probabilities too (default False).

    Shape:
        input (*), target (*) the same shape; output () or (*) for 'none'.

    Example:
        >>> import math, nnlab
        >>> x = nnlab.tensor([[math.log(0.5), math.log(0.5)]])
        >>> KLDivLoss(reduction="batchmean")(x, nnlab.tensor([[0.9, 0.1]]))
        tensor(0.3681)
    """

    _extra_reductions = ("batchmean",)

    def __init__(
        self,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
        log_target: bool = False,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, log_target={self.log_target}"
