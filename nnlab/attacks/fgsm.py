"""The fast gradient sign method (Goodfellow, Shlens and Szegedy, 2015).

Linearise the loss around x: ℓ(x + δ) ≈ ℓ(x) + δ·∇ₓℓ. Over the L∞ ball ‖δ‖∞ ≤ ε the
linear term is largest at δ = ε·sign(∇ₓℓ) (each coordinate independently at its bound),
so one gradient gives

    x' = clip(x + ε · sign(∇ₓ ℓ(f(x), y)))

For a model that *is* linear in x (logistic regression) this is the exact worst case in
the ball, which the tests check; for a network it is one step of the projected gradient
ascent that :class:`nnlab.attacks.PGD` iterates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.attacks.attack import Attack
from nnlab.nn.module import Module

__all__ = ["FGSM"]


class FGSM(Attack):
    """One signed-gradient step of size ε: x' = clip(x + ε·sign(∇ₓℓ)) (torchattacks'
    ``FGSM``; L∞ threat model).

    Args:
        model: a classifier, (N, ...) inputs to (N, C) logits.
        eps: the L∞ radius ε ≥ 0. Default: 8/255.
        targeted: when True, ``labels`` are target classes and the step lowers their loss.
        clip_min, clip_max: the valid input range (scalars or per-feature arrays; ``None``
            for unbounded). Default: [0, 1].

    Cost: one forward–backward pass per input (``passes == 1``).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> from nnlab.attacks import FGSM
        >>> _ = nnlab.manual_seed(0)
        >>> model = nn.Linear(4, 3)
        >>> x = nnlab.rand(2, 4)
        >>> x_adv = FGSM(model, eps=0.1)(x, nnlab.tensor([0, 2]))
        >>> bool((x_adv - x).abs().max() <= 0.1 + 1e-6), bool(x_adv.min() >= 0)
        (True, True)
    """

    def __init__(
        self,
        model: Module,
        eps: float = 8 / 255,
        *,
        targeted: bool = False,
        clip_min: Any = 0.0,
        clip_max: Any = 1.0,
    ) -> None:
        super().__init__(model, eps, targeted=targeted, clip_min=clip_min, clip_max=clip_max)

    @property
    def passes(self) -> int:
        return 1

    def perturb(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        step = np.sign(self.input_gradient(x, y)).astype(x.dtype)
        return self.clip(x + x.dtype.type(self.eps) * step)
