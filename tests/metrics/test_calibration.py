"""Calibration metrics: ``calibration_curve`` against scikit-learn's, the ECE against a
brute-force loop over the bins and against closed cases (a calibrated sampler, a model
that is always sure and always wrong), and the errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve as sk_calibration_curve

import nnlab
from nnlab.metrics.calibration import (
    calibration_curve,
    expected_calibration_error,
    maximum_calibration_error,
    reliability_bins,
)


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("n_bins", [1, 5, 10])
def test_calibration_curve_matches_sklearn(strategy: str, n_bins: int) -> None:
    rng = np.random.default_rng(n_bins)
    prob = rng.uniform(size=300) ** 2
    prob[:3] = [0.0, 1.0, 0.5]  # the ends and an inner edge
    y = (rng.uniform(size=300) < prob).astype(int)
    ours = calibration_curve(y, prob, n_bins=n_bins, strategy=strategy)
    theirs = sk_calibration_curve(y, prob, n_bins=n_bins, strategy=strategy)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_calibration_curve_pos_label() -> None:
    y = np.array(["cat", "dog", "dog", "cat"])
    prob = np.array([0.2, 0.7, 0.9, 0.4])
    ours = calibration_curve(y, prob, pos_label="dog", n_bins=2)
    theirs = sk_calibration_curve(y, prob, pos_label="dog", n_bins=2)
    np.testing.assert_allclose(ours, theirs)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _brute_force_errors(p: np.ndarray, y: np.ndarray, n_bins: int) -> tuple[float, float, float]:
    """ECE, RMSCE and MCE by looping over bins (lo, hi] and samples one at a time."""
    l1 = l2 = worst = 0.0
    n = len(y)
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        members = [i for i in range(n) if lo < p[i].max() <= hi]
        if not members:
            continue
        acc = sum(int(np.argmax(p[i]) == y[i]) for i in members) / len(members)
        conf = sum(p[i].max() for i in members) / len(members)
        l1 += len(members) / n * abs(acc - conf)
        l2 += len(members) / n * (acc - conf) ** 2
        worst = max(worst, abs(acc - conf))
    return l1, np.sqrt(l2), worst


@pytest.mark.parametrize("n_bins", [1, 7, 15])
def test_ece_matches_brute_force_loop(n_bins: int) -> None:
    rng = np.random.default_rng(n_bins)
    logits = 2.0 * rng.standard_normal((200, 4))
    y = rng.integers(0, 4, 200)
    p = _softmax(logits)
    l1, l2, worst = _brute_force_errors(p, y, n_bins)
    # logits (values outside [0, 1]) go through the softmax; probabilities are used as given
    for preds in (p, logits, nnlab.tensor(p)):
        assert expected_calibration_error(preds, y, n_bins) == pytest.approx(l1, abs=1e-12)
        assert expected_calibration_error(preds, y, n_bins, "l2") == pytest.approx(l2, abs=1e-12)
        assert maximum_calibration_error(preds, y, n_bins) == pytest.approx(worst, abs=1e-12)


def test_calibrated_sampler_has_small_ece() -> None:
    # labels drawn from the predicted distribution: calibrated by construction. Each of the
    # 15 bins' accuracy is a binomial mean, so ECE ≈ Σ_b w_b·sqrt(acc(1−acc)/n_b)
    # ≲ sqrt(15/(4·N)) ≈ 0.019 for N = 10000 on average; 0.03 leaves room for this draw.
    rng = np.random.default_rng(0)
    p = _softmax(3.0 * rng.standard_normal((10_000, 5)))
    y = np.array([rng.choice(5, p=row) for row in p])
    assert expected_calibration_error(p, y) < 0.03


def test_confident_and_wrong_has_ece_one() -> None:
    p = np.tile([1.0, 0.0, 0.0], (50, 1))
    y = np.full(50, 2)
    assert expected_calibration_error(p, y) == 1.0
    assert maximum_calibration_error(p, y) == 1.0
    assert expected_calibration_error(p, np.zeros(50, int)) == 0.0


def test_reliability_bins_edges_go_left() -> None:
    # bins are (lo, hi]: a confidence of exactly 0.5 belongs to the first of two bins
    bins = reliability_bins([[0.5, 0.5], [0.75, 0.25], [0.25, 0.75]], [0, 0, 0], n_bins=2)
    assert bins.count.tolist() == [1, 2]
    np.testing.assert_allclose(bins.confidence, [0.5, 0.75])
    np.testing.assert_allclose(bins.accuracy, [1.0, 0.5])
    assert bins.weight.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: expected_calibration_error([[0.5, 0.2]], [0]), "sums to 0.7"),
        (lambda: expected_calibration_error([[0.5, 0.5]], [2]), "label 2, outside the 2"),
        (lambda: expected_calibration_error([[0.5, 0.5]], [0], n_bins=0), "n_bins must be"),
        (lambda: expected_calibration_error([[0.5, 0.5]], [0], norm="l3"), "norm must be"),
        (lambda: expected_calibration_error([0.5, 0.5], [0, 1]), r"\(N, C\)"),
        (lambda: expected_calibration_error([[0.5, 0.5]], [0, 1]), "different lengths"),
        (lambda: calibration_curve([0, 1], [0.2, 1.3]), r"in \[0, 1\]"),
        (lambda: calibration_curve([0, 1, 2], [0.2, 0.3, 0.4]), "must be binary"),
        (lambda: calibration_curve([0, 1], [0.2, 0.3], strategy="equal"), "strategy"),
        (lambda: calibration_curve([3, 5], [0.2, 0.3]), "pos_label"),
    ],
)
def test_bad_input_is_a_clear_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
