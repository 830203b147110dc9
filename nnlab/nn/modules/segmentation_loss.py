"""Segmentation loss modules (the functional forms live in :mod:`nnlab.ops.segmentation_loss`).

Per-pixel cross-entropy is :class:`nnlab.nn.CrossEntropyLoss` itself, given (N, C, H, W)
scores and (N, H, W) class indices; :class:`DiceLoss` scores region overlap instead, and
the two are often added.
"""

from __future__ import annotations

from nnlab.nn import functional as F
from nnlab.nn.modules.loss_base import _Loss
from nnlab.tensor import Tensor

__all__ = ["DiceLoss"]


class DiceLoss(_Loss):
    """Soft Dice loss, 1 - Dice coefficient, per sample and class:

        lₙ,c = 1 - (2·Σ P·G + smooth) / (Σ P + Σ G + smooth)

    with P = softmax(input) the predicted probability map of class c, G its one-hot true
    region and the sums over pixels; for hard maps this is 1 - 2|P∩G| / (|P| + |G|). It
    rewards overlap, which a small object moves as much as a large one, so it copes with
    the class imbalance of segmentation (mostly background) better than per-pixel
    cross-entropy; ``DiceLoss()(x, y) + CrossEntropyLoss()(x, y)`` is a common recipe.

    Args:
        smooth: added to numerator and denominator, >= 0; keeps classes absent from a
            sample's target and prediction near 0 loss instead of 0/0 (default: 1.0).
        ignore_index: a target value whose pixels are left out (default: -100).
        reduction: 'none' (the (N, C) matrix), 'mean' or 'sum' (default: 'mean').
        from_logits: whether the input holds logits (softmax applied) or probabilities
            (default: True).

    Shape:
        input (N, C, d₁, ...) scores, target (N, d₁, ...) int64 class indices; output ()
        or (N, C) for 'none'.

    Example:
        >>> import nnlab
        >>> x = nnlab.zeros(2, 3, 4, 4, requires_grad=True)    # uniform predictions
        >>> y = nnlab.tensor([[[0] * 4] * 4, [[2] * 4] * 4])
        >>> loss = DiceLoss(smooth=0.0)(x, y)
        >>> loss.backward()
        >>> round(loss.item(), 4), x.grad.shape
        (0.8333, nnlab.Size([2, 3, 4, 4]))
    """

    def __init__(
        self,
        smooth: float = 1.0,
        ignore_index: int = -100,
        reduction: str = "mean",
        from_logits: bool = True,
    ) -> None:
        super().__init__(reduction=reduction)
        if not smooth >= 0:
            raise ValueError(f"DiceLoss: smooth must be >= 0, got {smooth}")
        self.smooth = smooth
        self.ignore_index = ignore_index
        self.from_logits = from_logits

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.dice_loss(
            input,
            target,
            smooth=self.smooth,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            from_logits=self.from_logits,
        )

    def extra_repr(self) -> str:
        return (
            f"smooth={self.smooth}, ignore_index={self.ignore_index}, "
            f"reduction={self.reduction!r}, from_logits={self.from_logits}"
        )
