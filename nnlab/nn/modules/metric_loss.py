"""Self-supervised contrastive loss: NT-Xent, the normalized-temperature cross-entropy of
SimCLR (Chen, Kornblith, Norouzi & Hinton, 2020), as a function and as a module.

The pair losses of supervised metric learning live with the other margin losses:
:class:`nnlab.nn.ContrastiveLoss` (Hadsell et al.) and :class:`nnlab.nn.TripletMarginLoss`;
the triplet miners that feed the latter are in :mod:`nnlab.nn.utils.mining`.

Convention: a batch holds N examples, each seen through two random augmentations, the
"views" z₁ and z₂ of shape (N, D). Together they are 2N embeddings; view k of example n
is the positive of the other view of n, and the remaining 2N - 2 embeddings are its
negatives. No labels are needed: that is what makes the loss self-supervised.
"""

from __future__ import annotations

import numpy as np

from nnlab.nn import functional as F
from nnlab.nn.modules.loss_base import _Loss
from nnlab.ops.shape import cat
from nnlab.tensor import Tensor

__all__ = ["NTXentLoss", "nt_xent_loss"]


def _check_views(op: str, z1: Tensor, z2: Tensor, temperature: float) -> None:
    if not isinstance(z1, Tensor) or not isinstance(z2, Tensor):
        raise TypeError(
            f"{op}: expected input1 and input2 to be Tensors, got "
            f"{type(z1).__name__} and {type(z2).__name__}"
        )
    if z1.ndim != 2 or z1.shape != z2.shape:
        raise ValueError(
            f"{op}: expected two views of the same batch, input1 and input2 both of shape "
            f"(N, D); got input1 {z1.shape} and input2 {z2.shape}"
        )
    if z1.dtype.kind != "f" or z2.dtype.kind != "f":
        raise TypeError(
            f"{op}: expected floating embeddings, got input1 {z1.dtype} and input2 {z2.dtype}"
        )
    if not temperature > 0:
        raise ValueError(f"{op}: expected temperature to be greater than 0, got {temperature}")


def nt_xent_loss(
    input1: Tensor, input2: Tensor, temperature: float = 0.5, reduction: str = "mean"
) -> Tensor:
    """NT-Xent over the 2N embeddings z of two views of N examples (see :class:`NTXentLoss`):

        sᵢₖ = cos(zᵢ, zₖ) / τ,   lᵢ = -ln( exp(sᵢ,ₚ₍ᵢ₎) / Σ_{k≠i} exp(sᵢₖ) )

    where p(i) is i's other view. Each lᵢ is a (2N - 1)-way cross-entropy whose right answer
    is the positive; the gradients come from autograd through the composed ops.

    Args:
        input1, input2: the two views' embeddings, (N, D) each; row n of both is example n.
        temperature: τ > 0 (default 0.5).
        reduction: 'none' | 'mean' | 'sum' (default 'mean'); 'none' gives the 2N terms,
            input1's rows first.

    >>> import nnlab
    >>> z1, z2 = nnlab.tensor([[1.0, 0.0], [0.0, 1.0]]), nnlab.tensor([[2.0, 0.0], [0.0, 3.0]])
    >>> nt_xent_loss(z1, z2, temperature=1.0, reduction="none")
    tensor([0.5514, 0.5514, 0.5514, 0.5514])
    """
    op = "nt_xent_loss"
    _check_views(op, input1, input2, temperature)
    n = input1.shape[0]
    units = F.normalize(cat([input1, input2], dim=0), dim=1)
    similarity = (units @ units.T) / temperature
    # Dropping the diagonal (each embedding's similarity to itself, always 1/τ) leaves
    # (2N, 2N - 1) logits with no -inf entries, so forward and backward stay finite.
    rows = np.arange(2 * n)
    others = np.stack([np.delete(rows, i) for i in rows]) if n else np.empty((0, 1), int)
    logits = similarity[rows[:, None], others]
    positive = (rows + n) % (2 * n)
    # i's positive sits one column to the left of its index once column i is gone
    target = np.where(positive > rows, positive - 1, positive)
    return F.cross_entropy(logits, Tensor(target), reduction=reduction)


class NTXentLoss(_Loss):
    """NT-Xent, the normalized-temperature cross-entropy of SimCLR (Chen et al., 2020): the
    two augmented views of an example should be more alike than either is to any view of
    the other examples in the batch.

    With z the 2N embeddings of both views and p(i) the other view of embedding i,

        sᵢₖ = zᵢ·zₖ / (‖zᵢ‖‖zₖ‖ τ),   lᵢ = -sᵢ,ₚ₍ᵢ₎ + ln Σ_{k≠i} exp(sᵢₖ)

    a softmax cross-entropy over the 2N - 1 other embeddings whose right answer is the
    positive. The cosine puts every embedding on the unit sphere, so the loss cannot be
    lowered by scaling; the temperature τ sets how sharply the softmax picks the hardest
    negatives. SimCLR found τ = 0.5 best for its smaller-batch CIFAR-10 runs; the
    pytorch-metric-learning ``NTXentLoss`` (which takes labels instead of two views)
    defaults to 0.07.

    Args:
        temperature: τ > 0 (default 0.5).
        reduction: 'none' | 'mean' | 'sum' (default 'mean').

    Shape:
        input1, input2 (N, D), the two views of the same N examples in the same order;
        output () or, for 'none', (2N,) with input1's rows first.

    Example:
        >>> import nnlab
        >>> z1, z2 = nnlab.tensor([[1.0, 0.0], [0.0, 1.0]]), nnlab.tensor([[1.0, 0.1], [0.1, 1.0]])
        >>> NTXentLoss(temperature=0.1)(z1, z2)
        tensor(0.0003)
    """

    def __init__(self, temperature: float = 0.5, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        if not temperature > 0:
            raise ValueError(
                f"NTXentLoss: expected temperature to be greater than 0, got {temperature}"
            )
        self.temperature = temperature

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return nt_xent_loss(input1, input2, self.temperature, self.reduction)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, reduction={self.reduction!r}"
