"""Out-of-distribution detection from a classifier's own predictions.

A deployed classifier meets inputs unlike its training data and still returns a class.
Scoring each input by how uncertain the prediction is, and flagging high scores, detects
many of them without a second model:

- ``"max_softmax"``: 1 − max_c p̄_c, the baseline of Hendrycks and Gimpel (ICLR 2017):
  in-distribution inputs tend to get a more confident top class.
- ``"entropy"``: the predictive entropy H[p̄].
- ``"mutual_information"``: the disagreement of ensemble members or MC-dropout samples
  (epistemic uncertainty), which needs their separate predictions.

The detector is judged threshold-free by the ROC-AUC of telling OOD (positive) from
in-distribution inputs by the score: 0.5 is chance, 1 a perfect separation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.metrics.ranking import roc_auc_score
from nnlab.tensor import Tensor
from nnlab.uncertainty.entropy import _entropy, _probabilities, mutual_information

__all__ = ["OOD_SCORES", "ood_roc_auc", "ood_score"]

#: The methods :func:`ood_score` accepts.
OOD_SCORES: tuple[str, ...] = ("max_softmax", "entropy", "mutual_information")


def ood_score(probs: Any, method: str = "max_softmax") -> np.ndarray:
    """How out-of-distribution each input looks by ``method``: higher means more likely
    OOD.

    Args:
        probs: (N, C) class probabilities, or (K, N, C) of K ensemble members or MC-dropout
            samples (``"max_softmax"`` and ``"entropy"`` use their mean).
        method: ``"max_softmax"`` (1 − max_c p̄_c, default), ``"entropy"`` (H[p̄]) or
            ``"mutual_information"`` (needs (K, N, C)).

    Returns:
        (N,) scores.

    Example:
        >>> ood_score([[0.9, 0.1], [0.5, 0.5]]).round(4).tolist()
        [0.1, 0.5]
    """
    fn = "ood_score"
    if method not in OOD_SCORES:
        raise ValueError(f"{fn}: method must be one of {list(OOD_SCORES)}, got {method!r}")
    if method == "mutual_information":
        return mutual_information(probs)
    p = _probabilities(probs, fn, (2, 3))
    mean = p.mean(axis=0) if p.ndim == 3 else p
    return 1.0 - mean.max(axis=1) if method == "max_softmax" else _entropy(mean)


def ood_roc_auc(scores_in: Any, scores_out: Any) -> float:
    """ROC-AUC of detecting OOD inputs by a score that is higher for OOD: the probability
    that a random OOD input outscores a random in-distribution one (ties count ½).

    Args:
        scores_in: (N_in,) scores of in-distribution inputs.
        scores_out: (N_out,) scores of out-of-distribution inputs.

    Example:
        >>> ood_roc_auc([0.1, 0.2, 0.6], [0.5, 0.9])
        0.8333333333333334
    """
    parts = []
    for name, s in (("scores_in", scores_in), ("scores_out", scores_out)):
        a = np.asarray(s.array if isinstance(s, Tensor) else s, dtype=np.float64)
        if a.ndim != 1 or len(a) == 0:
            raise ValueError(f"ood_roc_auc: {name} must be a non-empty 1-D array, got {a.shape}")
        parts.append(a)
    labels = np.concatenate([np.zeros(len(parts[0])), np.ones(len(parts[1]))]).astype(np.int64)
    return float(roc_auc_score(labels, np.concatenate(parts)))
