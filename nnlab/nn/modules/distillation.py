"""Knowledge distillation (Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural
Network", 2015): a small student learns from a trained teacher's softened outputs as well as
from the labels.

A trained classifier's probabilities say more than its top class: which wrong classes look
alike (a 3 is closer to an 8 than to a 1). At temperature T the softmax of logits z/T
spreads this "dark knowledge" over the classes, and the student matches it with the
teacher's at the same temperature; the labels keep a share of the loss:

    L = α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α)·CE(s, y)

with s the student's logits, t the teacher's, y the class indices, KL averaged over the
batch. For one sample, the gradient of KL(q ‖ p) with respect to sᵢ is (pᵢ − qᵢ)/T (pᵢ,
qᵢ the student's and teacher's softened probabilities), and for large T
pᵢ − qᵢ ≈ (dᵢ − d̄)/(C·T) with d = s − t and d̄ its mean over the C classes: without the
factor T² the soft gradients would shrink like 1/T². With it they tend to (dᵢ − d̄)/C, the
gradient of matching the centred logits by squared error, so the weight α means the same
at every temperature. The teacher is fixed: its logits are detached, no gradient reaches it.
"""

from __future__ import annotations

import math
from typing import Any

from nnlab.nn import functional as F
from nnlab.nn.module import Module
from nnlab.tensor import Tensor

__all__ = ["DistillationLoss", "distillation_loss"]


def _check_hyperparameters(op: str, temperature: Any, alpha: Any) -> tuple[float, float]:
    """The temperature (a finite number > 0) and α (a number in [0, 1]) as floats."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"{op}: temperature must be a number, got {type(temperature).__name__}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"{op}: temperature must be finite and > 0, got {temperature}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        raise TypeError(f"{op}: alpha must be a number, got {type(alpha).__name__}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"{op}: alpha must be in [0, 1], got {alpha}")
    return float(temperature), float(alpha)


def distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    target: Tensor,
    temperature: float = 4.0,
    alpha: float = 0.5,
    ignore_index: int = -100,
) -> Tensor:
    """The distillation loss of Hinton et al. (2015) for logits (N, C) and class indices (N,):

        α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α)·CE(s, y)

    The KL term is averaged over the N samples (``reduction='batchmean'``), the
    cross-entropy over the targets not equal to ``ignore_index``: rows marked so (inputs
    without a label) count only through the teacher. ``teacher_logits`` is detached.

    >>> import nnlab
    >>> s = nnlab.tensor([[2.0, 0.0, -1.0]], requires_grad=True)
    >>> t = nnlab.tensor([[1.0, 1.0, -2.0]])
    >>> distillation_loss(s, t, nnlab.tensor([0]), temperature=2.0, alpha=0.5)
    tensor(0.3155, grad_fn=<AddBackward>)
    """
    op = "distillation_loss"
    temperature, alpha = _check_hyperparameters(op, temperature, alpha)
    if not isinstance(student_logits, Tensor) or not isinstance(teacher_logits, Tensor):
        raise TypeError(
            f"{op}: student_logits and teacher_logits must be Tensors, got "
            f"{type(student_logits).__name__} and {type(teacher_logits).__name__}"
        )
    if student_logits.ndim != 2:
        raise ValueError(
            f"{op}: student_logits must be (N, C), got shape {tuple(student_logits.shape)}"
        )
    if teacher_logits.shape != student_logits.shape:
        raise ValueError(
            f"{op}: teacher_logits must have the student's shape {tuple(student_logits.shape)}, "
            f"got {tuple(teacher_logits.shape)}"
        )
    teacher = teacher_logits.detach()
    soft = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=1),
        F.softmax(teacher / temperature, dim=1),
        reduction="batchmean",
    )
    hard = F.cross_entropy(student_logits, target, ignore_index=ignore_index)
    return (alpha * temperature**2) * soft + (1 - alpha) * hard


class DistillationLoss(Module):
    """Knowledge distillation (Hinton et al. 2015) as a criterion:
    ``loss = criterion(student_logits, teacher_logits, target)`` computes

        α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α)·CE(s, y)

    (see :func:`distillation_loss`). α = 1 learns from the teacher alone, α = 0 from the
    labels alone; T = 1 matches the teacher's plain probabilities, a larger T also its
    ranking of the unlikely classes.

    Args:
        temperature: T > 0, the softmax temperature of both networks (default 4.0).
        alpha: α in [0, 1], the weight of the soft (teacher) term (default 0.5).
        ignore_index: a target value whose row counts only through the teacher
            (default -100, as :func:`nnlab.nn.functional.cross_entropy`).

    Shape:
        student_logits (N, C), teacher_logits (N, C), target (N,) class indices; output ().

    Example:
        >>> import nnlab
        >>> criterion = DistillationLoss(temperature=2.0, alpha=0.5)
        >>> s = nnlab.tensor([[2.0, 0.0, -1.0]], requires_grad=True)
        >>> criterion(s, nnlab.tensor([[1.0, 1.0, -2.0]]), nnlab.tensor([0]))
        tensor(0.3155, grad_fn=<AddBackward>)
    """

    def __init__(
        self, temperature: float = 4.0, alpha: float = 0.5, ignore_index: int = -100
    ) -> None:
        super().__init__()
        self.temperature, self.alpha = _check_hyperparameters(
            "DistillationLoss", temperature, alpha
        )
        self.ignore_index = ignore_index

    def forward(self, student_logits: Tensor, teacher_logits: Tensor, target: Tensor) -> Tensor:
        return distillation_loss(
            student_logits,
            teacher_logits,
            target,
            self.temperature,
            self.alpha,
            self.ignore_index,
        )

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, alpha={self.alpha}"
