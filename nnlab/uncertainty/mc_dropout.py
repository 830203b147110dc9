"""Monte Carlo dropout: a network trained with dropout, kept dropping at test time.

Gal and Ghahramani ("Dropout as a Bayesian Approximation", ICML 2016) read each dropout
mask as one draw from an approximate posterior over the weights. Averaging the softmax of
S forward passes with fresh masks,

    p̄(y | x) = (1/S) Σ_s softmax(f(x; mask_s)),

approximates the posterior predictive, and the spread of the S predictions measures the
model's (epistemic) uncertainty. Only the dropout layers sample: batch normalisation and
everything else stay in evaluation mode, so their running statistics are used and not
updated.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

import nnlab
from nnlab.nn import functional as F
from nnlab.nn.module import Module
from nnlab.nn.modules.dropout import Dropout, Dropout1d, Dropout2d, Dropout3d
from nnlab.tensor import Tensor

__all__ = ["MCDropoutPrediction", "mc_dropout_predict"]

_DROPOUT_LAYERS = (Dropout, Dropout1d, Dropout2d, Dropout3d)


class MCDropoutPrediction(NamedTuple):
    """The S stochastic predictions of MC dropout and their mean.

    Attributes:
        mean: (N, C) mean class probabilities p̄ over the samples.
        samples: (S, N, C) class probabilities of each sample.
    """

    mean: np.ndarray
    samples: np.ndarray


def mc_dropout_predict(model: Module, x: Any, n_samples: int = 20) -> MCDropoutPrediction:
    """S = ``n_samples`` forward passes of ``model`` on ``x`` with its dropout layers
    sampling and every other module in evaluation mode; the softmax of each.

    The masks come from nnlab's default generator (``nnlab.manual_seed`` makes them
    reproducible). No gradient is recorded. Every module's training flag is restored
    afterwards, also when the forward pass raises.

    Args:
        model: a classifier returning logits (N, C) that contains nn.Dropout (or
            Dropout1d/2d/3d) modules; dropout applied through ``F.dropout`` inside a
            ``forward`` is not reached.
        x: the input batch (Tensor or array).
        n_samples: number of stochastic passes S (positive int, default: 20).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
        >>> pred = mc_dropout_predict(model, nnlab.randn(5, 4), n_samples=10)
        >>> pred.samples.shape, pred.mean.shape, model.training
        ((10, 5, 3), (5, 3), True)
    """
    fn = "mc_dropout_predict"
    if not isinstance(model, Module):
        raise TypeError(f"{fn}: model must be an nnlab Module, got {type(model).__name__}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"{fn}: n_samples must be a positive int, got {n_samples!r}")
    dropouts = [m for m in model.modules() if isinstance(m, _DROPOUT_LAYERS)]
    if not dropouts:
        raise ValueError(
            f"{fn}: {type(model).__name__} has no Dropout module, so every sample would be "
            "the same deterministic prediction"
        )
    inputs = x if isinstance(x, Tensor) else nnlab.tensor(np.asarray(x))
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        for m in dropouts:
            m.train()
        with nnlab.no_grad():
            samples = []
            for _ in range(n_samples):
                logits = model(inputs)
                if logits.ndim != 2:
                    raise ValueError(
                        f"{fn}: the model must return logits (N, C), got shape "
                        f"{tuple(logits.shape)}"
                    )
                samples.append(F.softmax(logits, dim=1).numpy())
    finally:
        for m, mode in modes.items():
            object.__setattr__(m, "training", mode)
    stacked = np.stack(samples)
    return MCDropoutPrediction(stacked.mean(axis=0), stacked)
