"""Weighting the losses of several tasks trained together: learned homoscedastic
uncertainty weighting (Kendall, Gal and Cipolla, "Multi-Task Learning Using Uncertainty to
Weigh Losses for Scene Geometry and Semantics", CVPR 2018).

A multi-task network minimises one number made of several task losses L_i. Fixed weights,
Σ_i w_i·L_i, are just a weighted sum (no layer needed) and must be tuned by hand: the losses
can differ by orders of magnitude (a squared error in metres against a cross-entropy), and
equal weights then let the largest one dominate the shared layers' gradients. Kendall et
al. read each task's weight as the precision 1/σ_i² of a Gaussian (or tempered softmax)
likelihood with a learned, input-independent noise σ_i, and learn it with the network:

    L = Σ_i exp(−s_i)·L_i + s_i,        s_i = log σ_i²

The derivative with respect to s_i is ∂L/∂s_i = 1 − exp(−s_i)·L_i, zero at s_i = log L_i:
at the optimum each task's weight exp(−s_i) is 1/L_i, so every task contributes about the
same amount to the total, whatever the scale of its loss. The + s_i term (the log of the
likelihood's normaliser) stops the trivial solution s_i → ∞ that would switch every task off.

The paper writes the regression term as L_i/(2σ_i²) + log σ_i, which is half of the
expression above, and the classification term as L_i/σ_i² + log σ_i; like most
implementations this layer uses the single form above for every task (learning s_i
directly, rather than σ_i, keeps the optimisation unconstrained and stable).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nnlab import dtypes
from nnlab.nn import init
from nnlab.nn.module import Module
from nnlab.nn.parameter import Parameter
from nnlab.ops.shape import stack
from nnlab.tensor import Tensor

__all__ = ["UncertaintyWeighting"]


class UncertaintyWeighting(Module):
    """Combine ``num_tasks`` task losses as L = Σ_i exp(−s_i)·L_i + s_i with learned
    log-variances s_i (Kendall, Gal and Cipolla 2018).

    Give the layer's parameters to the optimiser along with the network's. The weights
    start equal (s = 0, so L starts as the plain sum); for fixed losses L_i the total is
    minimised at s_i = log L_i.

    Args:
        num_tasks: the number of losses combined (positive int).
        dtype: parameter dtype (default: the default dtype, float32).

    Shape:
        - Input: a sequence of ``num_tasks`` scalar tensors, or one tensor (num_tasks,).
        - Output: a scalar.

    Attributes:
        log_vars: s = log σ², one per task, shape (num_tasks,), initialised to 0.

    Example:
        >>> import nnlab
        >>> weighting = UncertaintyWeighting(2)
        >>> weighting([nnlab.tensor(2.0), nnlab.tensor(0.5)])
        tensor(2.5, grad_fn=<SumBackward>)
        >>> weighting.weights()
        tensor([1., 1.])
    """

    def __init__(self, num_tasks: int, dtype: Any = None) -> None:
        super().__init__()
        if isinstance(num_tasks, bool) or not isinstance(num_tasks, int) or num_tasks < 1:
            raise ValueError(
                f"UncertaintyWeighting: num_tasks must be a positive int, got {num_tasks!r}"
            )
        self.num_tasks = num_tasks
        d = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
        self.log_vars = Parameter(np.empty(num_tasks, dtype=d))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # s = 0: every weight exp(−s) starts at 1, so training starts from the plain sum.
        init.zeros_(self.log_vars)

    def forward(self, losses: Tensor | Sequence[Tensor]) -> Tensor:
        losses = self._as_vector(losses)
        return (losses * (-self.log_vars).exp() + self.log_vars).sum()

    def weights(self) -> Tensor:
        """The current task weights exp(−s_i) = 1/σ_i², without gradient."""
        return (-self.log_vars.detach()).exp()

    def _as_vector(self, losses: Tensor | Sequence[Tensor]) -> Tensor:
        """The task losses as one tensor (num_tasks,), checked."""
        if isinstance(losses, Tensor):
            if losses.shape != (self.num_tasks,):
                raise self.shape_error(
                    f"({self.num_tasks},)", losses.shape,
                    f"pass one loss per task ({self.num_tasks} tasks), each reduced to a "
                    "scalar.",
                )  # fmt: skip
            return losses
        if not isinstance(losses, Sequence) or not all(isinstance(t, Tensor) for t in losses):
            raise TypeError(
                f"{self.path()} (UncertaintyWeighting): losses must be a Tensor or a sequence "
                f"of scalar Tensors, got {type(losses).__name__}"
            )
        if len(losses) != self.num_tasks:
            raise ValueError(
                f"{self.path()} (UncertaintyWeighting): expected {self.num_tasks} task losses, "
                f"got {len(losses)}"
            )
        for i, loss in enumerate(losses):
            if loss.ndim != 0:
                raise self.shape_error(
                    "() for every task loss", loss.shape,
                    f"loss {i} is not reduced; take its mean (or sum) first.",
                )  # fmt: skip
        return stack(list(losses))

    def extra_repr(self) -> str:
        return f"num_tasks={self.num_tasks}"
