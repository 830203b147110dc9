"""RMSprop: divide the gradient by a running root-mean-square of recent gradients (Hinton)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.kernels import optim as optim_kernels
from nnlab.optim.optimizer import Optimizer, _check_non_negative, launches_together
from nnlab.tensor import Tensor

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop, as ``torch.optim.RMSprop``.

    For each parameter :math:`\theta`, with all buffers starting at zero, at step t::

        g = -grad if maximize else grad
        if weight_decay != 0:  g = g + weight_decay * theta
        v = alpha * v + (1 - alpha) * g**2                     # square_avg
        if centered:
            gbar = alpha * gbar + (1 - alpha) * g              # grad_avg
            avg = sqrt(v - gbar**2) + eps                      # a running std deviation
        else:
            avg = sqrt(v) + eps
        if momentum > 0:
            b = momentum * b + g / avg                         # momentum_buffer
            theta = theta - lr * b
        else:
            theta = theta - lr * g / avg

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default: 1e-2).
        alpha: smoothing constant of the running averages (default: 0.99).
        eps: added to the denominator for numerical stability (default: 1e-8).
        weight_decay: L2 penalty added to the gradient (default: 0).
        momentum: momentum factor (default: 0).
        centered: normalise by the gradient's running variance instead of its second
            moment (default: False).
        maximize: maximize the objective instead of minimizing it (default: False).
        foreach: accepted and kept in the groups for PyTorch compatibility; it does not
            change the result. nnlab updates each parameter in one fused pass when its
            kernels are enabled (:mod:`nnlab.kernels`), else with NumPy.

    State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0) and
    ``grad_avg`` (centered).

    Example:
        >>> import nnlab
        >>> from nnlab.optim import RMSprop
        >>> w = nnlab.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = RMSprop([w], lr=0.01, alpha=0.99)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w  # the first step is lr / sqrt(1 - alpha) = 0.1 per weight
        tensor([ 0.9, -1.9], requires_grad=True)
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ) -> None:
        _check_non_negative(
            lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha
        )
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    @launches_together
    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any]) -> None:
        momentum, centered = group["momentum"], group["centered"]
        optional = (("momentum_buffer", momentum > 0), ("grad_avg", centered))
        state = self._lazy_state(p, "square_avg", *(name for name, used in optional if used))
        state["step"].array += 1
        optim_kernels.rmsprop_(
            p.array, grad, state["square_avg"].array,
            state["grad_avg"].array if centered else None,
            state["momentum_buffer"].array if momentum > 0 else None,
            lambda n: self._scratch(p, n),
            lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
            weight_decay=group["weight_decay"], momentum=momentum, centered=centered,
            maximize=group["maximize"],
        )  # fmt: skip
