"""Sample-quality metrics for generative models: how close are generated samples to real ones?

Both metrics look at samples through a *separately trained* classifier, as the Inception
Score and FID do through Inception-v3:

* :func:`frechet_distance` fits a Gaussian to each set of feature vectors (for example a
  classifier's penultimate activations) and returns the Fréchet (2-Wasserstein) distance
  between the two Gaussians,

  ``FD = ||μ_a - μ_b||² + Tr(Σ_a + Σ_b - 2 (Σ_a Σ_b)^½)``.

  It is 0 for identical statistics and grows both when samples are off (the means move)
  and when they lack variety (mode collapse shrinks Σ). With Inception features it is FID.
* :func:`classifier_sample_scores` summarises the classifier's class probabilities on
  generated samples: the mean confidence (high when samples look like *some* class),
  the per-class counts of the predicted labels, and the class coverage (the fraction of
  classes predicted at least once; mode collapse shows as missing classes).

**Inputs.** NumPy arrays, lists or nnlab Tensors; computed in float64, returned as Python
floats (and an int array of counts).

>>> import numpy as np
>>> a = np.random.default_rng(0).normal(size=(500, 3))
>>> round(frechet_distance(a, a), 6)
0.0
>>> round(frechet_distance(a, a + [1.0, 2.0, 0.0]), 6)    # a shift of the mean: ||shift||²
5.0
>>> scores = classifier_sample_scores([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0]])
>>> scores.coverage, scores.counts.tolist()
(0.3333333333333333, [2, 0, 0])
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

from nnlab.metrics._inputs import _as_array

__all__ = ["SampleScores", "classifier_sample_scores", "frechet_distance"]


def _feature_matrix(x: Any, fn: str, name: str) -> np.ndarray:
    """``x`` as a finite float64 (N, D) array with N >= 2 (a covariance needs two samples)."""
    a = _as_array(x, fn, name)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: {name} must be numbers, got dtype {a.dtype}")
    if a.ndim != 2:
        raise ValueError(
            f"{fn}: {name} must have shape (N, D) (one feature row per sample), got {a.shape}"
        )
    if a.shape[0] < 2:
        raise ValueError(
            f"{fn}: {name} needs at least 2 samples for a covariance, got {a.shape[0]}"
        )
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{fn}: {name} contains NaN or infinite values")
    return a


def frechet_distance(features_a: Any, features_b: Any) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors.

    ``FD = ||μ_a - μ_b||² + Tr(Σ_a + Σ_b - 2 (Σ_a Σ_b)^½)``, with the sample means μ and the
    unbiased sample covariances Σ (``np.cov``, as FID's reference code). The matrix square
    root is ``scipy.linalg.sqrtm``; round-off can give it a tiny imaginary part, which is
    dropped (the exact root of a product of two PSD matrices has real eigenvalues).

    Args:
        features_a: (N_a, D) features of one set (e.g. generated samples).
        features_b: (N_b, D) features of the other set (e.g. real held-out samples).

    Returns:
        The distance, a float >= 0 (tiny negative round-off is clipped to 0). It is
        symmetric in its arguments.

    Note:
        With N < D the covariances are singular; the distance is still defined but noisy.
        Use many more samples than feature dimensions when comparing models.
    """
    fn = "frechet_distance"
    a = _feature_matrix(features_a, fn, "features_a")
    b = _feature_matrix(features_b, fn, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{fn}: features_a has {a.shape[1]} dimensions but features_b has {b.shape[1]}; "
            "both must come from the same feature extractor"
        )
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    # np.cov of one column is 0-d; atleast_2d keeps D = 1 working.
    sigma_a = np.atleast_2d(np.cov(a, rowvar=False))
    sigma_b = np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():
        # Features that never vary (dead units) make the product singular; sqrtm still
        # returns the root then, and warns. A non-finite root is handled below.
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(sigma_a @ sigma_b)
    if not np.isfinite(covmean).all():
        # A singular product can defeat sqrtm; a tiny ridge (as FID's reference code) fixes it.
        ridge = 1e-6 * np.eye(a.shape[1])
        covmean = scipy.linalg.sqrtm((sigma_a + ridge) @ (sigma_b + ridge))
    covmean = np.real(covmean)
    diff = mu_a - mu_b
    distance = diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * np.trace(covmean)
    return float(max(distance, 0.0))


@dataclass(frozen=True)
class SampleScores:
    """What a classifier says about a set of samples (see :func:`classifier_sample_scores`).

    Attributes:
        mean_confidence: mean over samples of the largest class probability, in [1/C, 1].
        counts: (C,) int array, how many samples were predicted as each class.
        coverage: fraction of the C classes predicted at least once, in [0, 1].
    """

    mean_confidence: float
    counts: np.ndarray
    coverage: float


def classifier_sample_scores(probabilities: Any, *, min_count: int = 1) -> SampleScores:
    """Mean confidence, per-class counts and class coverage of samples under a classifier.

    With ``p_i`` the class probabilities of sample i and ``ŷ_i = argmax p_i``:

    * ``mean_confidence = (1/N) Σ_i max_c p_ic``,
    * ``counts[c] = #{i : ŷ_i = c}``,
    * ``coverage = #{c : counts[c] >= min_count} / C``.

    Args:
        probabilities: (N, C) class probabilities of N samples (rows sum to 1, e.g. a
            softmax of the classifier's logits).
        min_count: how many samples a class needs to count as covered. Default: 1.

    Returns:
        A :class:`SampleScores`.
    """
    fn = "classifier_sample_scores"
    p = _as_array(probabilities, fn, "probabilities")
    if p.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: probabilities must be numbers, got dtype {p.dtype}")
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
        raise ValueError(
            f"{fn}: probabilities must have shape (N, C) with N >= 1 and C >= 2, got {p.shape}"
        )
    p = p.astype(np.float64)
    if not np.isfinite(p).all() or (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError(
            f"{fn}: probabilities must be non-negative rows summing to 1 (apply softmax to "
            "logits first)"
        )
    if not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise ValueError(f"{fn}: min_count must be an int >= 1, got {min_count!r}")
    counts = np.bincount(p.argmax(axis=1), minlength=p.shape[1])
    return SampleScores(
        mean_confidence=float(p.max(axis=1).mean()),
        counts=counts,
        coverage=float((counts >= min_count).mean()),
    )
