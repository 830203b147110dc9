"""Saliency (vanilla gradients, Simonyan et al. 2014): how much each input feature would
move the target score if nudged.

    attribution = |∂f_t/∂x|   (or ∂f_t/∂x with ``abs=False``)

The gradient is the linear approximation of the model around x: a large entry means a
small change of that pixel changes the score a lot. It says nothing about whether the
pixel's *value* mattered (for that, see :class:`InputXGradient`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.attribution.base import Attribution, Target, as_batch, input_gradient, target_indices

__all__ = ["Saliency"]


class Saliency(Attribution):
    """Vanilla gradient attribution (``captum.attr.Saliency``).

    Args:
        forward_func: the model, or a function from a batch to (N, classes) or (N,) scores.

    Example:
        >>> import numpy as np, nnlab
        >>> from nnlab import nn
        >>> net = nn.Linear(3, 2)
        >>> Saliency(net).attribute(np.ones((4, 3), np.float32), target=1).shape
        (4, 3)
    """

    def attribute(self, inputs: Any, target: Target = None, abs: bool = True) -> np.ndarray:
        """|∂f_t/∂x| (or the signed gradient with ``abs=False``), shaped like ``inputs``."""
        x = as_batch(inputs, self.name)
        t = target_indices(target, len(x), self.name)
        gradient, _ = input_gradient(self.forward_func, x, t, self.name)
        return np.abs(gradient) if abs else gradient
