"""The focal loss: binary cross-entropy that turns down the easy examples.

With one positive in a hundred, most examples are easy negatives; each contributes little
cross-entropy, but together they swamp the gradient of the rare positives. Lin et al.
("Focal Loss for Dense Object Detection", ICCV 2017) multiply the cross-entropy of each
example by (1 - p_t)^γ, where p_t is the probability the model gives to the true class:
an example already classified with p_t = 0.9 is weighed down 100-fold at γ = 2, one that is
wrong keeps nearly its full loss. A class weight α_t balances the two classes on top.

The function has torchvision's name, arguments and defaults
(``torchvision.ops.sigmoid_focal_loss``). It is composed from differentiable ops (the fused
binary cross-entropy on logits, a sigmoid, a power), so the engine derives its gradient and
double backward works.
"""

from __future__ import annotations

from typing import Any

from nnlab.ops.activation import sigmoid
from nnlab.ops.loss import _reduce, _same_shape, _tensor, binary_cross_entropy_with_logits
from nnlab.tensor import Tensor

__all__ = ["sigmoid_focal_loss"]


def sigmoid_focal_loss(
    inputs: Tensor,
    targets: Any,
    alpha: float = 0.25,
    gamma: float = 2,
    reduction: str = "none",
) -> Tensor:
    """Focal loss on logits z with binary targets y ∈ [0, 1], elementwise:

        p = σ(z),   p_t = p·y + (1 - p)·(1 - y)
        CE = -[y·ln p + (1 - y)·ln(1 - p)]          (binary cross-entropy on logits)
        FL = α_t·(1 - p_t)^γ·CE,   α_t = α·y + (1 - α)·(1 - y)

    With ``alpha < 0`` there is no class weight (α_t = 1); with γ = 0 and α < 0 it is the
    binary cross-entropy. Note that α weighs the *positives* by α (0.25 by default, less
    than the negatives: in the paper γ already removes most of the easy negatives' loss).

    Args:
        inputs: logits of any shape.
        targets: the binary labels of each element, the shape of ``inputs`` (0 negative,
            1 positive; soft labels in between are allowed).
        alpha: weight of the positives in [0, 1], the negatives getting 1 - alpha; a
            negative value turns the weighting off (default: 0.25).
        gamma: the focusing exponent γ ≥ 0 (default: 2).
        reduction: 'none' | 'mean' | 'sum' (default: 'none', as torchvision).

    Shape:
        inputs (*), targets (*) the same shape; output (*) for 'none', else ().

    Example:
        >>> import nnlab
        >>> z, y = nnlab.tensor([3.0, -3.0, 0.0]), nnlab.tensor([1.0, 1.0, 0.0])
        >>> sigmoid_focal_loss(z, y)     # easy positive, hard positive, undecided negative
        tensor([2.7321e-05, 6.9157e-01, 1.2997e-01])
        >>> sigmoid_focal_loss(z, y, alpha=-1, gamma=0)   # plain cross-entropy
        tensor([0.0486, 3.0486, 0.6931])
    """
    op = "sigmoid_focal_loss"
    if reduction not in ("none", "mean", "sum"):
        # torchvision's own check and message
        raise ValueError(
            f"Invalid Value for arg 'reduction': '{reduction} \n "
            "Supported reduction modes: 'none', 'mean', 'sum'"
        )
    if not gamma >= 0:
        raise ValueError(f"{op}: gamma must be >= 0, got {gamma}")
    if alpha > 1:
        raise ValueError(f"{op}: alpha must be in [0, 1] (or negative for none), got {alpha}")
    inputs, targets = _tensor(inputs), _tensor(targets)
    _same_shape(op, inputs, targets)
    if inputs.dtype.kind != "f":
        raise TypeError(f"{op}: inputs must be floating point logits, got dtype {inputs.dtype}")
    if targets.dtype != inputs.dtype:
        targets = targets.to(inputs.dtype)

    p = sigmoid(inputs)
    ce = binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma if gamma != 0 else ce
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    return _reduce(loss, reduction)
