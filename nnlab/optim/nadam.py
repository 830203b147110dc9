"""NAdam: Adam with Nesterov momentum (Dozat, 2016)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.kernels.optim import lerp_
from nnlab.optim.optimizer import (
    Optimizer,
    _check_adam_args,
    _check_non_negative,
    _effective_grad,
)
from nnlab.tensor import Tensor

__all__ = ["NAdam"]


class NAdam(Optimizer):
    r"""NAdam, as ``torch.optim.NAdam``.

    For each parameter :math:`\theta`, with :math:`m_0 = v_0 = 0` and a running product
    ``mu_product`` starting at 1, at step t::

        g = -grad if maximize else grad
        if weight_decay != 0:
            if decoupled_weight_decay:  theta = theta * (1 - lr * weight_decay)
            else:                       g = g + weight_decay * theta
        mu_t      = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay))        # momentum schedule
        mu_{t+1}  = beta1 * (1 - 0.5 * 0.96**((t + 1) * momentum_decay))
        mu_product = mu_product * mu_t
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        denom = sqrt(v / (1 - beta2**t)) + eps
        theta = theta - lr * (1 - mu_t) / (1 - mu_product) * g / denom
                      - lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * m / denom

    The second term looks one step ahead with the next momentum coefficient: that is the
    Nesterov part.

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default: 2e-3).
        betas: decay rates of the first and second moments (default: (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default: 1e-8).
        weight_decay: weight decay coefficient (default: 0).
        momentum_decay: how fast the momentum schedule warms up (default: 4e-3).
        decoupled_weight_decay: shrink the weights directly, as AdamW (default: False).
        maximize: maximize the objective instead of minimizing it (default: False).

    State per parameter: ``step``, ``mu_product`` (0-d, float32 unless the default dtype is
    float64, as PyTorch), ``exp_avg`` and ``exp_avg_sq``.

    Example:
        >>> import nnlab
        >>> from nnlab.optim import NAdam
        >>> w = nnlab.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = NAdam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w  # lr from the gradient term + 0.056 lr from the look-ahead momentum term
        tensor([ 0.8944, -1.8944], requires_grad=True)
    """

    def __init__(
        self,
        params: Any,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        _check_adam_args(lr, betas, eps, weight_decay)
        _check_non_negative(momentum_decay=momentum_decay)
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any]) -> None:
        state = self._lazy_state(p, "exp_avg", "exp_avg_sq", mu_product=1.0)
        lr, eps = group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        momentum_decay = group["momentum_decay"]
        param, m, v = p.array, state["exp_avg"].array, state["exp_avg_sq"].array
        g_buf, work, denom = self._scratch(p, 3)
        decoupled = group["weight_decay"] != 0 and group["decoupled_weight_decay"]
        grad = _effective_grad(param, grad, group, g_buf, work, decoupled)
        state["step"].array += 1
        step = float(state["step"].array)
        bias_correction2 = 1 - beta2**step

        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        # In the 0-d array's own dtype, as PyTorch's float32 tensor does (not in Python floats).
        state["mu_product"].array *= mu
        mu_product = float(state["mu_product"].array)
        mu_product_next = mu_product * mu_next

        lerp_(m, grad, 1 - beta1, work)
        v *= beta2
        np.multiply(grad, grad, out=work)
        work *= 1 - beta2
        v += work
        np.divide(v, bias_correction2, out=denom)
        np.sqrt(denom, out=denom)
        denom += eps

        np.divide(grad, denom, out=work)
        work *= -lr * (1.0 - mu) / (1.0 - mu_product)
        param += work
        np.divide(m, denom, out=work)
        work *= (-lr * mu_next) / (1.0 - mu_product_next)
        param += work
