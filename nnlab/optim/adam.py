"""Adam: adaptive moment estimation (Kingma & Ba, 2015), with optional AMSGrad."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.kernels import optim as optim_kernels
from nnlab.optim.optimizer import (
    Optimizer,
    _check_adam_args,
    _check_fused_foreach,
    launches_together,
)
from nnlab.tensor import Tensor

__all__ = ["Adam"]


class Adam(Optimizer):
    r"""Adam, as ``torch.optim.Adam``.

    For each parameter :math:`\theta`, with :math:`m_0 = v_0 = 0`, at step t::

        g = -grad if maximize else grad
        if weight_decay != 0:
            if decoupled_weight_decay:  theta = theta * (1 - lr * weight_decay)   # AdamW
            else:                       g = g + weight_decay * theta              # L2
        m = beta1 * m + (1 - beta1) * g                  # exp_avg: first moment
        v = beta2 * v + (1 - beta2) * g**2               # exp_avg_sq: second moment
        if amsgrad:  v_max = max(v_max, v);  v_hat = v_max    else:  v_hat = v
        theta = theta - lr / (1 - beta1**t) * m / (sqrt(v_hat) / sqrt(1 - beta2**t) + eps)

    The two ``1 - beta**t`` factors undo the bias of moments that start at zero.

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default: 1e-3).
        betas: decay rates of the first and second moments (default: (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default: 1e-8).
        weight_decay: weight decay coefficient (default: 0).
        amsgrad: use the AMSGrad variant, normalising by the running maximum of the second
            moment (default: False).
        maximize: maximize the objective instead of minimizing it (default: False).
        decoupled_weight_decay: shrink the weights directly instead of adding an L2 term to
            the gradient, which makes this AdamW (default: False).
        foreach, fused: accepted and kept in the groups for PyTorch compatibility; they do
            not change the result. nnlab updates each parameter in one fused pass when its
            kernels are enabled (:mod:`nnlab.kernels`), else with NumPy.

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq`` and, with amsgrad,
    ``max_exp_avg_sq``.

    Example:
        >>> import nnlab
        >>> from nnlab.optim import Adam
        >>> w = nnlab.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = Adam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w  # the first step moves every weight by about lr
        tensor([ 0.9, -1.9], requires_grad=True)
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        _check_adam_args(lr, betas, eps, weight_decay)
        _check_fused_foreach(fused, foreach)
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    @launches_together
    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any]) -> None:
        amsgrad = group["amsgrad"]
        extra = ("max_exp_avg_sq",) if amsgrad else ()
        state = self._lazy_state(p, "exp_avg", "exp_avg_sq", *extra)
        state["step"].array += 1
        beta1, beta2 = group["betas"]
        optim_kernels.adam_(
            p.array, grad, state["exp_avg"].array, state["exp_avg_sq"].array,
            state["max_exp_avg_sq"].array if amsgrad else None, lambda n: self._scratch(p, n),
            step=float(state["step"].array), lr=group["lr"], beta1=beta1, beta2=beta2,
            eps=group["eps"], weight_decay=group["weight_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"], amsgrad=amsgrad,
            maximize=group["maximize"],
        )  # fmt: skip
