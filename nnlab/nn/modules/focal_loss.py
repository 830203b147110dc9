"""The focal loss module (the functional form is :func:`nnlab.ops.focal_loss.sigmoid_focal_loss`,
torchvision's ``sigmoid_focal_loss``)."""

from __future__ import annotations

from nnlab.nn.modules.loss_base import _Loss
from nnlab.ops.focal_loss import sigmoid_focal_loss
from nnlab.tensor import Tensor

__all__ = ["FocalLoss"]


class FocalLoss(_Loss):
    """Binary focal loss on logits z (Lin et al., ICCV 2017), elementwise:

        p_t = σ(z)·y + (1 - σ(z))·(1 - y)
        lₙ = -α_t·(1 - p_t)^γ·ln p_t,   α_t = α·y + (1 - α)·(1 - y)

    The factor (1 - p_t)^γ shrinks the loss of examples that are already right (p_t near
    1), so the many easy negatives of an imbalanced task no longer drown the few positives;
    α weighs the classes (a negative ``alpha`` turns that off; γ = 0 with ``alpha=-1`` is
    :class:`nnlab.nn.BCEWithLogitsLoss`). torchvision has the function only; this module
    is its thin shell, with the reduction of the loss modules ('mean' by default).

    Args:
        alpha: weight of the positives in [0, 1], negatives get 1 - alpha; negative for
            none (default: 0.25).
        gamma: the focusing exponent γ ≥ 0 (default: 2.0).
        reduction: 'none' | 'mean' | 'sum' (default: 'mean').

    Shape:
        input (*) logits, target (*) binary labels of the same shape; output () or (*) for
        'none'.

    Example:
        >>> import nnlab
        >>> loss = FocalLoss(alpha=-1, gamma=0)(nnlab.tensor([0.0, 0.0]), nnlab.tensor([1.0, 0.0]))
        >>> round(loss.item(), 4)     # plain binary cross-entropy: ln 2
        0.6931
    """

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        if not gamma >= 0:
            raise ValueError(f"FocalLoss: gamma must be >= 0, got {gamma}")
        if alpha > 1:
            raise ValueError(f"FocalLoss: alpha must be in [0, 1] (or negative), got {alpha}")
        self.alpha = alpha
        self.gamma = gamma

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return sigmoid_focal_loss(input, target, self.alpha, self.gamma, self.reduction)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gamma={self.gamma}, reduction={self.reduction!r}"
