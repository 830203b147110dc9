"""Comparing two attribution maps: the rank correlation behind the sanity checks of
Adebayo et al. (2018).

A method whose maps barely change when the trained weights are replaced by random ones
explains the input (or the architecture), not what the model learned. The comparison is
Spearman's ρ between the two maps of the same input, computed per example over all its
features, usually on absolute values (a sign flip is not a different explanation):

    ρ = Pearson correlation of rank(a) and rank(b)  (ties get their average rank)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

__all__ = ["rank_correlation"]


def rank_correlation(a: Any, b: Any, abs: bool = True) -> np.ndarray:
    """Spearman's rank correlation between ``a[n]`` and ``b[n]`` for every example n:
    (N,), in [−1, 1] (NaN where one map is constant).

    Args:
        a, b: attribution batches of the same shape (N, ...).
        abs: compare |a| and |b| (default: True).

    Example:
        >>> import numpy as np
        >>> x = np.array([[1.0, 2.0, 3.0, 4.0]])
        >>> rank_correlation(x, x ** 3), rank_correlation(x, -x, abs=False)
        (array([1.]), array([-1.]))
    """
    a = np.asarray(getattr(a, "array", a), dtype=np.float64)
    b = np.asarray(getattr(b, "array", b), dtype=np.float64)
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(
            f"rank_correlation: expected two batches (N, features...) of the same shape, got "
            f"{a.shape} and {b.shape}"
        )
    if abs:
        a, b = np.abs(a), np.abs(b)
    ra = rankdata(a.reshape(len(a), -1), axis=1)
    rb = rankdata(b.reshape(len(b), -1), axis=1)
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    norm = np.sqrt((ra**2).sum(1) * (rb**2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ra * rb).sum(1) / norm
