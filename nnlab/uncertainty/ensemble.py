"""The members' own predictions of an ensemble, which its uncertainty is measured from.

:class:`nnlab.models.ensemble.Ensemble` combines its members into one output;
measuring how much they disagree (:mod:`nnlab.uncertainty.entropy`) needs each member's
class probabilities separately.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import nnlab
from nnlab.models.ensemble import Ensemble
from nnlab.nn import functional as F
from nnlab.nn.module import Module
from nnlab.nn.utils.modes import training_modes_kept
from nnlab.tensor import Tensor

__all__ = ["ensemble_predict"]


def ensemble_predict(members: Ensemble | Sequence[Module], x: Any) -> np.ndarray:
    """softmax(f_k(x)) of every member k, each in evaluation mode, without gradients.

    Every member's training flags are restored afterwards.

    Args:
        members: an :class:`~nnlab.models.ensemble.Ensemble` or a sequence of classifiers
            returning logits (N, C) of one shape.
        x: the input batch (Tensor or array).

    Returns:
        (K, N, C) class probabilities; their mean over K is the deep ensemble's
        prediction (the ``"mean_probs"`` rule).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> ensemble_predict([nn.Linear(4, 3) for _ in range(5)], nnlab.randn(2, 4)).shape
        (5, 2, 3)
    """
    fn = "ensemble_predict"
    models = list(members.members) if isinstance(members, Ensemble) else members
    if isinstance(models, Module) or not isinstance(models, Sequence) or not models:
        raise ValueError(
            f"{fn}: members must be an Ensemble or a non-empty sequence of modules, got "
            f"{type(members).__name__}"
        )
    for k, model in enumerate(models):
        if not isinstance(model, Module):
            raise TypeError(f"{fn}: member {k} must be an nnlab Module, got {type(model).__name__}")
    inputs = x if isinstance(x, Tensor) else nnlab.tensor(np.asarray(x))
    probs = []
    for k, model in enumerate(models):
        with training_modes_kept(model), nnlab.no_grad():
            model.eval()
            logits = model(inputs)
        if logits.ndim != 2 or (probs and logits.shape != probs[0].shape):
            raise ValueError(
                f"{fn}: every member must return logits (N, C) of one shape; member {k} gave "
                f"{tuple(logits.shape)}"
            )
        probs.append(F.softmax(logits, dim=1).numpy())
    return np.stack(probs)
