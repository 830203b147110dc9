"""How uncertain is a prediction, and why: entropy and its split into two parts.

For the class probabilities p_k(y | x) of K models (ensemble members or MC-dropout
samples) and their mean p̄ = (1/K) Σ_k p_k, in nats:

    total      H[p̄]                  = −Σ_c p̄_c log p̄_c          (predictive entropy)
    aleatoric  E_k H[p_k]            = (1/K) Σ_k H[p_k]           (expected entropy)
    epistemic  H[p̄] − E_k H[p_k]     = I(y; θ | x)                (mutual information)

The mutual information between the label and the model (the BALD score of Houlsby et
al. 2011) is zero when all members agree and grows with their disagreement; it is never
negative because entropy is concave (Jensen). The expected entropy is the noise every
member sees in the input itself (an ambiguous digit), which more models do not remove.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.tensor import Tensor

__all__ = ["expected_entropy", "mutual_information", "predictive_entropy"]


def _probabilities(probs: Any, fn: str, ndim: tuple[int, ...]) -> np.ndarray:
    """``probs`` as float64, checked: ``ndim`` dimensions, classes last, each row a
    probability vector (in [0, 1], summing to 1)."""
    p = np.asarray(probs.array if isinstance(probs, Tensor) else probs, dtype=np.float64)
    shapes = " or ".join({2: "(N, C)", 3: "(K, N, C)"}[d] for d in ndim)
    if p.ndim not in ndim or p.shape[-1] < 2:
        raise ValueError(f"{fn}: probs must be {shapes} probabilities, got shape {p.shape}")
    if not np.isfinite(p).all() or p.min() < 0 or p.max() > 1:
        raise ValueError(f"{fn}: probs must lie in [0, 1]; apply softmax to logits first")
    sums = p.sum(axis=-1)
    if np.abs(sums - 1).max() > 1e-4:
        raise ValueError(
            f"{fn}: each row of probs must sum to 1, found a row summing to "
            f"{sums.flat[np.abs(sums - 1).argmax()]:.6g}; apply softmax to logits first"
        )
    return p


def _entropy(p: np.ndarray) -> np.ndarray:
    """−Σ_c p_c log p_c over the last axis, with 0 log 0 = 0."""
    safe = np.where(p > 0, p, 1.0)
    return 0.0 - np.sum(p * np.log(safe), axis=-1)  # 0.0 - x: no -0.0 for certain rows


def predictive_entropy(probs: Any) -> np.ndarray:
    """H[p̄] = −Σ_c p̄_c log p̄_c in nats: the total uncertainty of each prediction.

    Args:
        probs: (N, C) class probabilities, or (K, N, C) of K members (their mean p̄ is
            used).

    Returns:
        (N,) entropies, between 0 (one class certain) and log C (uniform).

    Example:
        >>> predictive_entropy([[1.0, 0.0], [0.5, 0.5]]).round(4).tolist()
        [0.0, 0.6931]
    """
    p = _probabilities(probs, "predictive_entropy", (2, 3))
    return _entropy(p.mean(axis=0) if p.ndim == 3 else p)


def expected_entropy(member_probs: Any) -> np.ndarray:
    """E_k H[p_k] = (1/K) Σ_k H[p_k]: the members' mean entropy (aleatoric part).

    Args:
        member_probs: (K, N, C) class probabilities of K members.

    Returns:
        (N,) expected entropies in nats.

    Example:
        >>> expected_entropy([[[1.0, 0.0]], [[0.0, 1.0]]]).tolist()   # two confident members
        [0.0]
    """
    return _entropy(_probabilities(member_probs, "expected_entropy", (3,))).mean(axis=0)


def mutual_information(member_probs: Any) -> np.ndarray:
    """I(y; θ | x) = H[p̄] − E_k H[p_k]: the members' disagreement (epistemic part).

    Rounding can leave it a few ulps below zero where the members agree; it is clipped
    at 0.

    Args:
        member_probs: (K, N, C) class probabilities of K members.

    Returns:
        (N,) mutual informations in nats, between 0 and log min(K, C).

    Example:
        >>> mutual_information([[[1.0, 0.0]], [[0.0, 1.0]]]).round(4).tolist()   # disagree
        [0.6931]
    """
    p = _probabilities(member_probs, "mutual_information", (3,))
    return np.maximum(_entropy(p.mean(axis=0)) - _entropy(p).mean(axis=0), 0.0)
