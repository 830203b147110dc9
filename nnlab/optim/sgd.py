"""Stochastic gradient descent, with optional (Nesterov) momentum and weight decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.kernels import optim as optim_kernels
from nnlab.optim.optimizer import (
    Optimizer,
    _check_fused_foreach,
    _check_non_negative,
    launches_together,
)
from nnlab.tensor import Tensor

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    For each parameter :math:`\theta` with gradient :math:`\nabla f(\theta)`, at step t::

        g = -grad if maximize else grad
        if weight_decay != 0:   g = g + weight_decay * theta            # L2 penalty
        if momentum != 0:
            b = g                                        at the first step
            b = momentum * b + (1 - dampening) * g       afterwards
            g = g + momentum * b   if nesterov   else   b
        theta = theta - lr * g

    As in PyTorch (and unlike Sutskever et al.), the learning rate multiplies the velocity
    rather than the gradient inside it, and the buffer starts at the first gradient, so
    dampening only applies from the second step.

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default: 1e-3).
        momentum: momentum factor (default: 0).
        dampening: dampening of the momentum (default: 0).
        weight_decay: L2 penalty added to the gradient (default: 0).
        nesterov: use Nesterov momentum; needs momentum > 0 and zero dampening
            (default: False).
        maximize: maximize the objective instead of minimizing it (default: False).
        foreach, fused: accepted and kept in the groups for PyTorch compatibility; they do
            not change the result. nnlab updates each parameter in one fused pass when its
            kernels are enabled (:mod:`nnlab.kernels`), else with NumPy.

    State per parameter: ``momentum_buffer`` (only when momentum is non-zero).

    Example:
        >>> import nnlab
        >>> from nnlab.optim import SGD
        >>> w = nnlab.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     opt.zero_grad()
        ...     (w * w).sum().backward()
        ...     opt.step()
        >>> w
        tensor([ 0.46, -0.92], requires_grad=True)
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        fused: bool | None = None,
    ) -> None:
        _check_non_negative(lr=lr, momentum=momentum, weight_decay=weight_decay)
        _check_fused_foreach(fused, foreach)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "fused": fused,
        }
        super().__init__(params, defaults)

    @launches_together
    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any]) -> None:
        momentum = group["momentum"]
        buf, first_step = None, False
        if momentum != 0:
            state = self.state[p]
            if state.get("momentum_buffer") is None:
                # Filled with the first gradient by the update (as PyTorch's clone of it).
                state["momentum_buffer"] = Tensor(np.empty_like(p.array))
                first_step = True
            buf = state["momentum_buffer"].array
        optim_kernels.sgd_(
            p.array, grad, buf, lambda n: self._scratch(p, n),
            lr=group["lr"], momentum=momentum, dampening=group["dampening"],
            weight_decay=group["weight_decay"], nesterov=group["nesterov"],
            maximize=group["maximize"], first_step=first_step,
        )  # fmt: skip
