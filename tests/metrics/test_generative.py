"""Tests of the sample-quality metrics: the Fréchet distance against closed forms (a shift of
the mean, diagonal covariances, one dimension) and against a second implementation
(eigenvalues of Σa^½ Σb Σa^½), its symmetry; the classifier scores on hand-made
probabilities; clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg

import nnlab
from nnlab.metrics.generative import classifier_sample_scores, frechet_distance


def _with_covariance(rng: np.random.Generator, n: int, mean: np.ndarray, std: np.ndarray):
    """n samples whose sample mean is ``mean`` and whose (unbiased) sample covariance is
    exactly diag(std²): orthonormal, zero-mean columns scaled by √(n - 1)·std."""
    x = rng.normal(size=(n, len(mean)))
    q, _ = np.linalg.qr(x - x.mean(axis=0))  # columns span centred vectors: zero mean
    return q * np.sqrt(n - 1) * std + mean


def test_identical_sets_are_at_distance_zero():
    a = np.random.default_rng(0).normal(size=(200, 5))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_a_shift_with_equal_covariance_costs_its_squared_norm():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(300, 4)) @ rng.normal(size=(4, 4))  # a correlated covariance
    shift = np.array([1.0, -2.0, 0.5, 3.0])
    assert frechet_distance(a, a + shift) == pytest.approx(shift @ shift, rel=1e-9)


def test_diagonal_covariances_match_the_closed_form():
    # For diagonal Σ: FD = ||μa - μb||² + Σ_i (σa_i - σb_i)².
    rng = np.random.default_rng(2)
    mu_a, mu_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, -1.0])
    std_a, std_b = np.array([1.0, 2.0, 0.5]), np.array([3.0, 1.0, 0.5])
    a = _with_covariance(rng, 100, mu_a, std_a)
    b = _with_covariance(rng, 150, mu_b, std_b)
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((std_a - std_b) ** 2)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_one_dimension_matches_the_closed_form():
    rng = np.random.default_rng(3)
    a, b = rng.normal(2.0, 1.0, size=(50, 1)), rng.normal(0.0, 3.0, size=(80, 1))
    expected = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_general_covariances_match_a_symmetric_square_root_and_are_symmetric():
    # Tr (Σa Σb)^½ = Tr (Σa^½ Σb Σa^½)^½: the second form is a root of a symmetric PSD matrix.
    rng = np.random.default_rng(4)
    a = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) + 0.3
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = scipy.linalg.sqrtm(sa).real
    eig = np.linalg.eigvalsh(root_a @ sb @ root_a)
    expected = (
        np.sum((a.mean(0) - b.mean(0)) ** 2)
        + np.trace(sa)
        + np.trace(sb)
        - 2 * np.sum(np.sqrt(np.clip(eig, 0, None)))
    )
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-7)
    assert frechet_distance(b, a) == pytest.approx(frechet_distance(a, b), rel=1e-9)


def test_accepts_tensors_and_rank_deficient_features():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(4, 10))  # 4 samples in 10-D: singular covariance
    d = frechet_distance(nnlab.tensor(a.astype(np.float32)), a + 1.0)
    assert np.isfinite(d) and d == pytest.approx(10.0, rel=1e-4)


def test_a_constant_feature_adds_nothing_and_does_not_warn():
    # Dead units (a feature that never varies) make the covariance product singular.
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(200, 3)), rng.normal(1.0, 2.0, size=(150, 3))
    pad = [np.zeros((200, 1)), np.zeros((150, 1))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        padded = frechet_distance(np.hstack([a, pad[0]]), np.hstack([b, pad[1]]))
    assert padded == pytest.approx(frechet_distance(a, b), rel=1e-6)


@pytest.mark.parametrize(
    ("a", "b", "error", "match"),
    [
        (np.zeros(5), np.zeros((5, 2)), ValueError, r"features_a must have shape \(N, D\)"),
        (np.zeros((1, 2)), np.zeros((5, 2)), ValueError, "at least 2 samples"),
        (np.zeros((5, 2)), np.zeros((5, 3)), ValueError, "2 dimensions but features_b has 3"),
        (np.zeros((5, 2)), np.full((5, 2), np.nan), ValueError, "features_b contains NaN"),
        (np.array([["a", "b"], ["c", "d"]]), np.zeros((2, 2)), TypeError, "must be numbers"),
    ],
)
def test_frechet_distance_rejects_bad_input(a, b, error, match):
    with pytest.raises(error, match=match):
        frechet_distance(a, b)


def test_classifier_sample_scores_counts_confidence_and_coverage():
    p = np.array([[0.7, 0.2, 0.1, 0.0], [0.1, 0.8, 0.1, 0.0], [0.6, 0.3, 0.1, 0.0]])
    scores = classifier_sample_scores(p)
    assert scores.mean_confidence == pytest.approx((0.7 + 0.8 + 0.6) / 3)
    assert scores.counts.tolist() == [2, 1, 0, 0]
    assert scores.coverage == pytest.approx(0.5)
    assert classifier_sample_scores(p, min_count=2).coverage == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("p", "kwargs", "match"),
    [
        (np.ones(3) / 3, {}, r"shape \(N, C\)"),
        (np.array([[0.5, 0.2]]), {}, "summing to 1"),
        (np.array([[2.0, -1.0]]), {}, "non-negative"),
        (np.array([[0.5, 0.5]]), {"min_count": 0}, "min_count must be an int >= 1"),
    ],
)
def test_classifier_sample_scores_rejects_bad_input(p, kwargs, match):
    with pytest.raises(ValueError, match=match):
        classifier_sample_scores(p, **kwargs)
