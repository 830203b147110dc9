"""Gradient × input (Shrikumar et al. 2016): the gradient weighted by the feature's value.

    attribution_i = x_i · ∂f_t/∂x_i

For a linear score f(x) = w·x + c it is exactly each feature's share w_i x_i of the score
(the contributions sum to f(x) − f(0)); for a ReLU network without biases it is the same
first-order decomposition. It inherits the gradient's noise, and where the input is large
the map looks like the input itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.attribution.base import Attribution, Target, as_batch, input_gradient, target_indices

__all__ = ["InputXGradient"]


class InputXGradient(Attribution):
    """Gradient × input attribution (``captum.attr.InputXGradient``).

    Args:
        forward_func: the model, or a function from a batch to (N, classes) or (N,) scores.

    Example:
        >>> import numpy as np, nnlab
        >>> from nnlab import nn
        >>> net = nn.Linear(3, 1, bias=False)
        >>> a = InputXGradient(net).attribute(np.ones((2, 3), np.float32))
        >>> np.allclose(a, net.weight.detach().numpy())
        True
    """

    def attribute(self, inputs: Any, target: Target = None) -> np.ndarray:
        """x ⊙ ∂f_t/∂x, shaped like ``inputs``."""
        x = as_batch(inputs, self.name)
        t = target_indices(target, len(x), self.name)
        gradient, _ = input_gradient(self.forward_func, x, t, self.name)
        return x * gradient
