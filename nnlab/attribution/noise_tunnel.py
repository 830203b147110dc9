"""SmoothGrad (Smilkov et al. 2017): average an attribution over noisy copies of the input.

    SmoothGrad(x) = (1/n) Σ_{k=1..n} A(x + ε_k),   ε_k ~ N(0, σ²)

Gradients of ReLU networks jump from pixel to pixel; averaging over a small neighbourhood
of x keeps what is stable and removes much of that noise. ``smoothgrad_sq`` averages the
squares, ``vargrad`` takes the variance (Adebayo et al. 2018). The noise is drawn with
nnlab's generator, so :func:`nnlab.manual_seed` makes the result reproducible.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.attribution.base import Attribution, as_batch
from nnlab.attribution.saliency import Saliency
from nnlab.creation import randn

__all__ = ["NoiseTunnel", "SmoothGrad"]

_TYPES = ("smoothgrad", "smoothgrad_sq", "vargrad")


class NoiseTunnel(Attribution):
    """Wrap an attribution method and average it over Gaussian noise
    (``captum.attr.NoiseTunnel``).

    Args:
        attribution_method: e.g. ``Saliency(model)`` or ``IntegratedGradients(model)``.

    Example:
        >>> import numpy as np, nnlab
        >>> from nnlab import nn
        >>> nt = NoiseTunnel(Saliency(nn.Linear(3, 2)))
        >>> nt.attribute(np.ones((4, 3), np.float32), nt_samples=8, stdevs=0.1, target=0).shape
        (4, 3)
    """

    def __init__(self, attribution_method: Attribution) -> None:
        if not isinstance(attribution_method, Attribution):
            raise TypeError(
                "NoiseTunnel: expected an attribution method such as Saliency(model), got "
                f"{type(attribution_method).__name__}"
            )
        super().__init__(attribution_method.forward_func)
        self.attribution_method = attribution_method

    def attribute(
        self, inputs: Any, nt_type: str = "smoothgrad", nt_samples: int = 5,
        stdevs: float = 1.0, **kwargs: Any,
    ) -> np.ndarray:  # fmt: skip
        """The ``nt_type`` statistic of ``attribution_method.attribute(x + ε, **kwargs)``
        over ``nt_samples`` draws of ε ~ N(0, stdevs²), shaped like ``inputs``.

        Args:
            inputs: the batch (N, ...).
            nt_type: "smoothgrad" (mean), "smoothgrad_sq" (mean of squares) or "vargrad"
                (variance) (default: "smoothgrad").
            nt_samples: noisy copies per input (default: 5).
            stdevs: standard deviation σ of the noise, in input units (default: 1.0).
            **kwargs: passed to the wrapped method (``target``, ``baselines``, ...).
        """
        if nt_type not in _TYPES:
            raise ValueError(f"NoiseTunnel: nt_type must be one of {_TYPES}, got {nt_type!r}")
        if not isinstance(nt_samples, int) or nt_samples < 1:
            raise ValueError(f"NoiseTunnel: nt_samples must be an int ≥ 1, got {nt_samples!r}")
        if not stdevs >= 0:
            raise ValueError(f"NoiseTunnel: stdevs must be ≥ 0, got {stdevs!r}")
        x = as_batch(inputs, self.name)
        samples = []
        for _ in range(nt_samples):
            noise = randn(*x.shape, dtype=x.dtype).array * stdevs
            samples.append(self.attribution_method.attribute(x + noise, **kwargs))
        stacked = np.stack(samples)
        if nt_type == "smoothgrad":
            return stacked.mean(0)
        if nt_type == "smoothgrad_sq":
            return (stacked**2).mean(0)
        return stacked.var(0)


class SmoothGrad(NoiseTunnel):
    """SmoothGrad of the saliency map: ``NoiseTunnel(Saliency(model))`` with
    ``nt_type="smoothgrad"`` (Smilkov et al. 2017).

    Args:
        forward_func: the model, or a function from a batch to scores.
        abs: average |∂f_t/∂x| (Captum's Saliency default) rather than the signed gradient
            (default: True).
    """

    def __init__(self, forward_func: Any, abs: bool = True) -> None:
        super().__init__(Saliency(forward_func))
        self.abs = abs

    def attribute(
        self, inputs: Any, target: Any = None, nt_samples: int = 5, stdevs: float = 1.0,
    ) -> np.ndarray:  # fmt: skip
        """(1/n) Σ_k |∂f_t/∂x|(x + ε_k), ε_k ~ N(0, stdevs²), shaped like ``inputs``."""
        return super().attribute(
            inputs, "smoothgrad", nt_samples, stdevs, target=target, abs=self.abs
        )
