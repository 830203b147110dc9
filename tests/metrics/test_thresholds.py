"""Threshold selection: each search against a brute force over every candidate threshold,
the operating-point metrics against scikit-learn, and the errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_score, recall_score

from nnlab.metrics.thresholds import (
    expected_cost,
    precision_recall_at,
    threshold_for_cost,
    threshold_for_recall,
)


def _data(seed: int, n: int = 200, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=n) < 0.1).astype(int)
    y[:2] = [0, 1]
    scores = rng.standard_normal(n) + 1.5 * y
    if ties:
        scores = np.round(scores, 1)  # many equal scores: a threshold moves them together
    return y, scores


def _candidates(scores: np.ndarray) -> np.ndarray:
    return np.r_[np.inf, np.unique(scores)[::-1]]  # highest first, as the searches break ties


def _brute_cost(y, scores, t, cost_fp, cost_fn) -> float:
    flagged = scores >= t
    return cost_fp * np.sum(flagged & (y == 0)) + cost_fn * np.sum(~flagged & (y == 1))


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize(("cost_fp", "cost_fn"), [(1, 1), (1, 20), (5, 1), (0, 1), (1, 0)])
def test_threshold_for_cost_is_the_brute_force_minimum(ties, cost_fp, cost_fn) -> None:
    y, scores = _data(cost_fn + 10 * cost_fp, ties=ties)
    costs = [_brute_cost(y, scores, t, cost_fp, cost_fn) for t in _candidates(scores)]
    best = _candidates(scores)[int(np.argmin(costs))]  # the first minimum: highest t
    assert threshold_for_cost(y, scores, cost_fp, cost_fn) == best
    assert expected_cost(y, scores, best, cost_fp, cost_fn) == pytest.approx(min(costs) / len(y))


def test_cost_extremes() -> None:
    y, scores = _data(0)
    assert threshold_for_cost(y, scores, cost_fp=1, cost_fn=0) == np.inf  # never flag
    assert threshold_for_cost(y, scores, cost_fp=0, cost_fn=1) == scores[y == 1].min()


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("target", [0.0, 0.3, 0.5, 0.9, 1.0])
def test_threshold_for_recall_is_the_highest_that_reaches_it(ties, target) -> None:
    y, scores = _data(3, ties=ties)
    reaching = [t for t in _candidates(scores) if np.mean(scores[y == 1] >= t) >= target]
    t = threshold_for_recall(y, scores, target)
    assert t == max(reaching)
    assert precision_recall_at(y, scores, t)[1] >= target


@pytest.mark.parametrize("quantile", [0.0, 0.5, 0.9, 0.99])
def test_precision_recall_at_matches_sklearn(quantile) -> None:
    y, scores = _data(4, ties=True)
    t = np.quantile(scores, quantile)
    pred = (scores >= t).astype(int)
    p, r = precision_recall_at(y, scores, t)
    assert p == pytest.approx(precision_score(y, pred, zero_division=0))
    assert r == pytest.approx(recall_score(y, pred, zero_division=0))


def test_nothing_flagged_uses_zero_division() -> None:
    assert precision_recall_at([0, 1], [0.1, 0.2], np.inf) == (0.0, 0.0)
    p, r = precision_recall_at([0, 1], [0.1, 0.2], np.inf, zero_division=np.nan)
    assert np.isnan(p) and r == 0.0


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="threshold_for_cost: cost_fn must be"):
        threshold_for_cost([0, 1], [0.1, 0.2], 1, -1)
    with pytest.raises(ValueError, match="both 0"):
        threshold_for_cost([0, 1], [0.1, 0.2], 0, 0)
    with pytest.raises(ValueError, match="threshold_for_recall: recall must be in"):
        threshold_for_recall([0, 1], [0.1, 0.2], 1.5)
    with pytest.raises(ValueError, match="no positive sample"):
        threshold_for_recall([0, 0], [0.1, 0.2], 0.5)
    with pytest.raises(ValueError, match="precision_recall_at: y_true must be binary"):
        precision_recall_at([0, 2], [0.1, 0.2], 0.5)
    with pytest.raises(ValueError, match="expected_cost"):
        expected_cost([0, 1, 1], [0.1, 0.2], 0.5, 1, 1)
