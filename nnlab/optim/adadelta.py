"""Adadelta: step sizes from running averages of squared gradients and updates (Zeiler)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.optim.optimizer import Optimizer, _check_non_negative, _effective_grad
from nnlab.tensor import Tensor

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Adadelta, as ``torch.optim.Adadelta``.

    For each parameter :math:`\theta`, with both averages starting at zero, at step t::

        g = -grad if maximize else grad
        if weight_decay != 0:  g = g + weight_decay * theta
        v = rho * v + (1 - rho) * g**2                          # square_avg
        delta = sqrt(u + eps) / sqrt(v + eps) * g               # u: acc_delta
        u = rho * u + (1 - rho) * delta**2
        theta = theta - lr * delta

    The ratio of the two root-mean-squares carries the units of the parameter, so the
    method needs no learning rate in principle (``lr`` defaults to 1).

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: scale applied to the update (default: 1.0).
        rho: decay rate of the running averages (default: 0.9).
        eps: added inside both square roots for numerical stability (default: 1e-6).
        weight_decay: L2 penalty added to the gradient (default: 0).
        maximize: maximize the objective instead of minimizing it (default: False).

    State per parameter: ``step``, ``square_avg`` and ``acc_delta``.

    Example:
        >>> import nnlab
        >>> from nnlab.optim import Adadelta
        >>> w = nnlab.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = Adadelta([w], lr=1.0)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w  # the first step is about sqrt(eps / (1 - rho)) = 0.0032
        tensor([ 0.9968, -1.9968], requires_grad=True)
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ) -> None:
        _check_non_negative(lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_non_negative(eps=eps, weight_decay=weight_decay)
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any]) -> None:
        state = self._lazy_state(p, "square_avg", "acc_delta")
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        param, square_avg, acc_delta = p.array, state["square_avg"].array, state["acc_delta"].array
        g_buf, work, delta = self._scratch(p, 3)
        state["step"].array += 1
        grad = _effective_grad(param, grad, group, g_buf, work)

        square_avg *= rho
        np.multiply(grad, grad, out=work)
        work *= 1 - rho
        square_avg += work
        std = np.add(square_avg, eps, out=work)
        np.sqrt(std, out=std)
        np.add(acc_delta, eps, out=delta)
        np.sqrt(delta, out=delta)
        delta /= std
        delta *= grad
        acc_delta *= rho
        np.multiply(delta, delta, out=work)
        work *= 1 - rho
        acc_delta += work
        delta *= -lr
        param += delta
