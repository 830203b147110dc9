"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019)."""

from __future__ import annotations

from typing import Any

from nnlab.optim.adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    r"""AdamW, as ``torch.optim.AdamW``: Adam whose weight decay shrinks the weights
    directly instead of entering the moments as an L2 gradient.

    For each parameter :math:`\theta`, with :math:`m_0 = v_0 = 0`, at step t::

        g = -grad if maximize else grad
        theta = theta * (1 - lr * weight_decay)          # decoupled weight decay
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        if amsgrad:  v_max = max(v_max, v);  v_hat = v_max    else:  v_hat = v
        theta = theta - lr / (1 - beta1**t) * m / (sqrt(v_hat) / sqrt(1 - beta2**t) + eps)

    With plain Adam an L2 term is divided by ``sqrt(v)`` like the rest of the gradient, so
    weights with large gradients are barely regularised; decoupling restores the intended
    uniform shrinkage.

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default: 1e-3).
        betas: decay rates of the first and second moments (default: (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default: 1e-8).
        weight_decay: decoupled weight decay coefficient (default: 1e-2).
        amsgrad: use the AMSGrad variant (default: False).
        maximize: maximize the objective instead of minimizing it (default: False).
        foreach, fused: accepted for PyTorch compatibility (see :class:`~nnlab.optim.Adam`).

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq`` and, with amsgrad,
    ``max_exp_avg_sq``.

    Example:
        >>> import nnlab
        >>> from nnlab.optim import AdamW
        >>> w = nnlab.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w  # shrunk by lr * weight_decay = 5%, then moved by about lr
        tensor([ 0.85, -1.8 ], requires_grad=True)
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            fused=fused,
            decoupled_weight_decay=True,
        )

    def load_state_dict(self, state_dict: Any) -> None:
        """As :meth:`Optimizer.load_state_dict`; the groups stay decoupled (as PyTorch)."""
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
