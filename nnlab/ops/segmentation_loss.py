"""Segmentation losses: the soft Dice loss.

Per-pixel cross-entropy (``F.cross_entropy`` on (N, C, H, W) scores) scores each pixel on
its own, so when the background fills 90 % of an image a model learns a lot from
background pixels and little from the small objects that matter. The Dice loss scores the
*overlap* of each class's predicted region with its true region, a ratio that a small
object moves as much as a large one. Practice often sums the two.

The loss is composed from differentiable ops (softmax, products, sums, one division), so
its gradient comes from the engine; the conventions (``reduction``, ``ignore_index``,
class indices in integer targets) are those of :mod:`nnlab.ops.loss`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.ops.cross_entropy import _class_target
from nnlab.ops.loss import _reduce, _tensor, resolve_reduction
from nnlab.ops.softmax import softmax
from nnlab.tensor import Tensor

__all__ = ["dice_loss"]


def dice_loss(
    input: Tensor,
    target: Any,
    smooth: float = 1.0,
    ignore_index: int = -100,
    reduction: str = "mean",
    from_logits: bool = True,
) -> Tensor:
    """Soft multi-class Dice loss, one term per sample n and class c:

        P = softmax(input)ₙ,c    (the predicted probability map of class c)
        G = [targetₙ = c]        (the true region of class c, one-hot)
        Dₙ,c = (2·Σ P·G + smooth) / (Σ P + Σ G + smooth)
        lₙ,c = 1 - Dₙ,c

    sums running over the pixels. With hard 0/1 maps, Σ P·G is the size of the overlap
    |P ∩ G|, so D = 2|P ∩ G| / (|P| + |G|) is the Dice coefficient (the F1 score of the
    pixels) and l = 1 - 2|P∩G|/(|P|+|G|); soft probabilities make it differentiable.
    ``smooth`` > 0 keeps a class absent from both target and prediction at a loss near 0
    instead of 0/0, and softens the gradient of tiny regions. Pixels whose target is
    ``ignore_index`` count for nothing.

    Gradient: with I = Σ P·G and U = Σ P + Σ G + smooth,
    ∂l/∂P = -(2G·U - (2I + smooth)) / U², then through the softmax.

    Args:
        input: scores (logits, or probabilities with ``from_logits=False``) (N, C, d₁, ...).
        target: class indices, integer (N, d₁, ...).
        smooth: added to numerator and denominator, >= 0 (default: 1.0).
        ignore_index: a target value whose pixels are left out (default: -100).
        reduction: 'none' (the (N, C) matrix of lₙ,c), 'mean' or 'sum' over it
            (default: 'mean').
        from_logits: apply the softmax over dim 1 first (default: True).

    Shape:
        input (N, C, d₁, ...), target (N, d₁, ...); output () or (N, C) for 'none'.

    Example:
        >>> import nnlab, nnlab.nn.functional as F
        >>> logits = nnlab.tensor([[[[4.0, -4.0]], [[-4.0, 4.0]]]])   # (1, 2, 1, 2)
        >>> F.dice_loss(logits, nnlab.tensor([[[0, 1]]]), smooth=0.0)   # nearly right
        tensor(0.0003)
        >>> F.dice_loss(logits, nnlab.tensor([[[1, 0]]]), smooth=0.0)   # nearly all wrong
        tensor(0.9997)
    """
    op = "dice_loss"
    reduction = resolve_reduction(op, None, None, reduction)
    input = _tensor(input)
    if input.ndim < 2:
        raise ValueError(
            f"{op}: input must be scores shaped (N, C, d₁, ...), got shape {input.shape}"
        )
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point scores, got dtype {input.dtype}")
    if not smooth >= 0:
        raise ValueError(f"{op}: smooth must be >= 0, got {smooth}")
    labels = target.array if isinstance(target, Tensor) else np.asarray(target)
    labels, _ = _class_target(op, input.shape, labels, ignore_index)
    n_classes = input.shape[1]

    valid = labels != ignore_index
    one_hot = np.eye(n_classes, dtype=input.dtype)[np.where(valid, labels, 0)]
    g = np.moveaxis(one_hot, -1, 1) * valid[:, None]  # (N, C, d₁, ...), 0 where ignored
    p = softmax(input, dim=1) if from_logits else input
    if not valid.all():
        p = p * Tensor(valid[:, None].astype(input.dtype))
    pixels = tuple(range(2, input.ndim))
    if pixels:
        intersection = (p * Tensor(g)).sum(dim=pixels)
        sizes = p.sum(dim=pixels) + Tensor(g.sum(axis=pixels))
    else:  # (N, C): each sample is a single "pixel"
        intersection, sizes = p * Tensor(g), p + Tensor(g)
    dice = (2 * intersection + smooth) / (sizes + smooth)
    return _reduce(1 - dice, reduction)
