"""Adagrad: per-coordinate learning rates from the sum of squared gradients (Duchi et al.)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.kernels import optim as optim_kernels
from nnlab.optim.optimizer import (
    Optimizer,
    _check_fused_foreach,
    _check_non_negative,
    _zero_step,
    launches_together,
)
from nnlab.tensor import Tensor

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad, as ``torch.optim.Adagrad``.

    For each parameter :math:`\theta`, with ``sum`` starting at ``initial_accumulator_value``,
    at step t::

        g = -grad if maximize else grad
        if weight_decay != 0:  g = g + weight_decay * theta
        lr_t = lr / (1 + (t - 1) * lr_decay)
        sum = sum + g**2
        theta = theta - lr_t * g / (sqrt(sum) + eps)

    Coordinates that have seen large gradients take small steps; the steps shrink forever,
    which suits sparse features and convex problems more than long deep-network runs.

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default: 1e-2).
        lr_decay: learning-rate decay per step (default: 0).
        weight_decay: L2 penalty added to the gradient (default: 0).
        initial_accumulator_value: starting value of ``sum`` (default: 0).
        eps: added to the denominator for numerical stability (default: 1e-10).
        foreach, fused: accepted and kept in the groups for PyTorch compatibility; they do
            not change the result. nnlab updates each parameter in one fused pass when its
            kernels are enabled (:mod:`nnlab.kernels`), else with NumPy.
        maximize: maximize the objective instead of minimizing it (default: False).

    State per parameter (created at construction, as PyTorch): ``step`` and ``sum``.

    Example:
        >>> import nnlab
        >>> from nnlab.optim import Adagrad
        >>> w = nnlab.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = Adagrad([w], lr=0.5)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w  # the first step is lr * sign(grad)
        tensor([ 0.5, -1.5], requires_grad=True)
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        fused: bool | None = None,
    ) -> None:
        _check_non_negative(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        _check_fused_foreach(fused, foreach)
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "fused": fused,
        }
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p)

    def _init_state(self, p: Tensor) -> None:
        # As PyTorch, the accumulator starts from the constructor's value, even for a group
        # that sets its own initial_accumulator_value.
        state = self.state[p]
        state["step"] = _zero_step()
        state["sum"] = Tensor(np.full_like(p.array, self.defaults["initial_accumulator_value"]))

    @launches_together
    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any]) -> None:
        state = self.state[p]
        if len(state) == 0:
            self._init_state(p)
        state["step"].array += 1
        optim_kernels.adagrad_(
            p.array, grad, state["sum"].array, lambda n: self._scratch(p, n),
            step=float(state["step"].array), lr=group["lr"], lr_decay=group["lr_decay"],
            eps=group["eps"], weight_decay=group["weight_decay"], maximize=group["maximize"],
        )  # fmt: skip
