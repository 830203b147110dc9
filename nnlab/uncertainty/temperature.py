"""Temperature scaling: one scalar that calibrates a trained classifier after the fact.

Guo et al. ("On Calibration of Modern Neural Networks", ICML 2017) found that modern
networks are over-confident, and that dividing the logits by a single temperature T > 0,

    p = softmax(z / T),

fitted by minimising the negative log-likelihood on held-out validation data, removes
most of the miscalibration. T > 1 softens the probabilities, T < 1 sharpens them; the
argmax, and so the accuracy, never changes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import nnlab
from nnlab.nn import functional as F
from nnlab.nn.module import Module
from nnlab.nn.parameter import Parameter
from nnlab.optim.lbfgs import LBFGS
from nnlab.tensor import Tensor

__all__ = ["TemperatureScaling"]


def _logits_and_labels(logits: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    z = np.asarray(logits.detach().array if isinstance(logits, Tensor) else logits, np.float64)
    y = np.asarray(labels.array if isinstance(labels, Tensor) else labels)
    if z.ndim != 2 or z.shape[1] < 2:
        raise ValueError(
            f"TemperatureScaling.fit: logits must be (N, C) with C >= 2, got shape {z.shape}"
        )
    if not np.isfinite(z).all():
        raise ValueError("TemperatureScaling.fit: logits hold nan or inf")
    if y.ndim != 1 or len(y) != len(z):
        raise ValueError(
            f"TemperatureScaling.fit: labels must be (N,) = ({len(z)},) class labels, got "
            f"shape {y.shape}"
        )
    if y.dtype.kind not in "iu":
        raise ValueError(f"TemperatureScaling.fit: labels must be integers, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= z.shape[1]:
        raise ValueError(
            f"TemperatureScaling.fit: labels must lie in [0, {z.shape[1]}), got "
            f"[{y.min()}, {y.max()}]"
        )
    return z, y.astype(np.int64)


class TemperatureScaling(Module):
    """Divide logits by one learned temperature: ``forward(z) = z / T``.

    :meth:`fit` chooses T = argmin_T −(1/N) Σ_i log softmax(z_i / T)[y_i] on validation
    logits by L-BFGS (strong Wolfe line search) over log T, which keeps T positive.

    Args:
        temperature: the initial T (default: 1, the identity).

    Attributes:
        temperature: Parameter of shape (1,).

    Shape:
        - Input: logits (N, C).
        - Output: (N, C), the logits divided by T.

    Example:
        >>> import nnlab
        >>> scaler = TemperatureScaling()
        >>> logits = nnlab.tensor([[4.0, 0.0], [4.0, 0.0], [0.0, 4.0], [0.0, 4.0]])
        >>> _ = scaler.fit(logits, nnlab.tensor([0, 1, 1, 1]))  # 3 of 4 right: soften
        >>> round(scaler.temperature.item(), 3)
        3.641
    """

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"TemperatureScaling: temperature must be > 0, got {temperature}")
        self.temperature = Parameter(nnlab.tensor([float(temperature)]))

    def forward(self, logits: Tensor) -> Tensor:
        return logits / self.temperature

    def fit(self, logits: Any, labels: Any, max_iter: int = 100) -> TemperatureScaling:
        """Set T to the minimiser of the negative log-likelihood of ``labels`` under
        softmax(``logits`` / T), starting from T = 1; returns ``self``.

        Args:
            logits: (N, C) validation logits of the trained model (Tensor or array; no
                gradient flows back into the model).
            labels: (N,) their class labels.
            max_iter: L-BFGS iterations at most (default: 100).
        """
        z, y = _logits_and_labels(logits, labels)
        z_t, y_t = nnlab.tensor(z), nnlab.tensor(y)
        # log T rather than T: the search is unconstrained and T = exp(log T) stays positive
        log_t = nnlab.tensor(np.zeros(1), requires_grad=True)
        opt = LBFGS(
            [log_t],
            max_iter=max_iter,
            tolerance_grad=1e-10,
            tolerance_change=1e-12,
            line_search_fn="strong_wolfe",
        )

        def closure() -> Tensor:
            opt.zero_grad()
            loss = F.cross_entropy(z_t / log_t.exp(), y_t)
            loss.backward()
            return loss

        opt.step(closure)
        with nnlab.no_grad():
            self.temperature.fill_(math.exp(log_t.item()))
        return self

    def extra_repr(self) -> str:
        return f"temperature={self.temperature.item():.4g}"
