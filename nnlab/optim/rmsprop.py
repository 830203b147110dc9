"""RMSprop: divide the gradient by a running root-mean-square of recent gradients (Hinton)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.optim.optimizer import (
    Optimizer,
    _check_non_negative,
    _effective_grad,
    _lerp_,
)
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
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any]) -> None:
        optional = (("momentum_buffer", group["momentum"] > 0), ("grad_avg", group["centered"]))
        state = self._lazy_state(p, "square_avg", *(name for name, used in optional if used))
        lr, alpha, momentum = group["lr"], group["alpha"], group["momentum"]
        param, square_avg = p.array, state["square_avg"].array
        g_buf, work, avg = self._scratch(p, 3)
        grad = _effective_grad(param, grad, group, g_buf, work)
        state["step"].array += 1

        square_avg *= alpha
        np.multiply(grad, grad, out=work)
        work *= 1 - alpha
        square_avg += work
        if group["centered"]:
            grad_avg = state["grad_avg"].array
            _lerp_(grad_avg, grad, 1 - alpha, work)
            np.multiply(grad_avg, grad_avg, out=work)
            np.subtract(square_avg, work, out=avg)
            np.sqrt(avg, out=avg)
        else:
            np.sqrt(square_avg, out=avg)
        avg += group["eps"]

        if momentum > 0:
            buf = state["momentum_buffer"].array
            buf *= momentum
            np.divide(grad, avg, out=work)
            buf += work
            np.multiply(buf, -lr, out=work)
        else:
            np.divide(grad, avg, out=work)
            work *= -lr
        param += work
