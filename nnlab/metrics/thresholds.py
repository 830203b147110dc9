"""Choosing the operating threshold of a binary classifier.

A scoring model (a fraud score, a probability of default, a lesion probability) becomes a
decision only at a threshold t: flag the samples with ``score >= t`` (the convention of
:mod:`nnlab.metrics.ranking`). The threshold 0.5 is right only when the two mistakes cost
the same and the scores are calibrated; in practice one chooses it on validation data,
for one of two kinds of goal:

* a **cost**: a missed fraud (false negative) costs ``cost_fn``, a false alarm ``cost_fp``;
  :func:`threshold_for_cost` minimises the total cost
  C(t) = cost_fp·FP(t) + cost_fn·FN(t);
* a **constraint**: "catch at least 90 % of the fraud"; :func:`threshold_for_recall` gives
  the highest threshold whose recall reaches the target (the fewest alerts that do).

Then the threshold is frozen and judged on test data with :func:`precision_recall_at` and
:func:`expected_cost`. Only thresholds at the scores themselves (and +inf, flag nothing)
change any decision, so the searches below try exactly those, in one sorted pass.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.metrics._inputs import _check_lengths, _label_vector
from nnlab.metrics.ranking import _binary_clf_curve, _score_vector

__all__ = ["expected_cost", "precision_recall_at", "threshold_for_cost", "threshold_for_recall"]


def _check_cost(fn: str, cost_fp: float, cost_fn: float) -> None:
    for name, value in (("cost_fp", cost_fp), ("cost_fn", cost_fn)):
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{fn}: {name} must be a finite number >= 0, got {value!r}")
    if cost_fp == 0 and cost_fn == 0:
        raise ValueError(f"{fn}: cost_fp and cost_fn are both 0, so every threshold is optimal")


def _counts_by_threshold(
    y_true: Any, scores: Any, fn: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive counts when flagging ``score >= t``, for t = +inf (nothing
    flagged) and then every distinct score, from the highest down."""
    fps, tps, thresholds = _binary_clf_curve(y_true, scores, None, fn)
    return np.r_[0.0, fps], np.r_[0.0, tps], np.r_[np.inf, thresholds]


def threshold_for_cost(y_true: Any, scores: Any, cost_fp: float, cost_fn: float) -> float:
    """The threshold t that minimises the cost of the decisions ``score >= t`` on the data:

        C(t) = cost_fp·FP(t) + cost_fn·FN(t)

    over all thresholds that change a decision (every distinct score, and +inf: flag
    nothing). Among equal costs the highest threshold wins (the fewest alerts). Only the
    ratio cost_fn / cost_fp matters; with calibrated probabilities the answer is near
    cost_fp / (cost_fp + cost_fn).

    Args:
        y_true: binary labels (N,), in {0, 1} or {-1, 1}.
        scores: scores of the positive class (N,); probabilities or logits.
        cost_fp: the cost of one false positive (false alarm), >= 0.
        cost_fn: the cost of one false negative (missed positive), >= 0.

    Returns:
        The threshold, one of the scores, or ``inf`` when flagging nothing is cheapest.

    Example:
        >>> y, s = [0, 0, 1, 0, 1], [0.1, 0.3, 0.35, 0.6, 0.8]
        >>> threshold_for_cost(y, s, cost_fp=1, cost_fn=1)    # one mistake (0.6) either way
        0.8
        >>> threshold_for_cost(y, s, cost_fp=1, cost_fn=5)    # missing costs more: flag 0.35+
        0.35
    """
    fn = "threshold_for_cost"
    _check_cost(fn, cost_fp, cost_fn)
    fps, tps, thresholds = _counts_by_threshold(y_true, scores, fn)
    cost = cost_fp * fps + cost_fn * (tps[-1] - tps)
    return float(thresholds[np.argmin(cost)])  # argmin takes the first: the highest t


def threshold_for_recall(y_true: Any, scores: Any, recall: float) -> float:
    """The highest threshold t whose decisions ``score >= t`` find at least a fraction
    ``recall`` of the positives: max {t : TP(t) / P >= recall}. Recall only grows as t
    falls, so this is the operating point with the fewest alerts that meets the target.

    Args:
        y_true: binary labels (N,), in {0, 1} or {-1, 1}, with at least one positive.
        scores: scores of the positive class (N,).
        recall: the target in [0, 1].

    Example:
        >>> threshold_for_recall([0, 0, 1, 0, 1], [0.1, 0.3, 0.35, 0.6, 0.8], 0.5)
        0.8
        >>> threshold_for_recall([0, 0, 1, 0, 1], [0.1, 0.3, 0.35, 0.6, 0.8], 0.75)
        0.35
    """
    fn = "threshold_for_recall"
    if not 0 <= recall <= 1:
        raise ValueError(f"{fn}: recall must be in [0, 1], got {recall!r}")
    _, tps, thresholds = _counts_by_threshold(y_true, scores, fn)
    if tps[-1] == 0:
        raise ValueError(f"{fn}: y_true has no positive sample, so recall is undefined")
    # tps rises along the sorted thresholds: the first index reaching the target is it
    first = int(np.argmax(tps / tps[-1] >= recall))
    return float(thresholds[first])


def _decisions(y_true: Any, scores: Any, threshold: float, fn: str) -> tuple[np.ndarray, ...]:
    y = _label_vector(y_true, fn, "y_true", scores_ok=False)
    s = _score_vector(scores, fn)
    _check_lengths(fn, y, s, ("y_true", "scores"))
    labels = set(np.unique(y).tolist())
    if not (labels <= {0, 1} or labels <= {-1, 1}):
        raise ValueError(f"{fn}: y_true must be binary in {{0, 1}} or {{-1, 1}}, got {labels}")
    if np.isnan(threshold):
        raise ValueError(f"{fn}: threshold is nan")
    return y == 1, s >= threshold


def precision_recall_at(
    y_true: Any, scores: Any, threshold: float, zero_division: float = 0.0
) -> tuple[float, float]:
    """Precision TP / (TP + FP) and recall TP / P of the decisions ``score >= threshold``.

    Args:
        y_true: binary labels (N,), in {0, 1} or {-1, 1}.
        scores: scores of the positive class (N,).
        threshold: flag the samples scoring at least this.
        zero_division: the value of a ratio whose denominator is 0 (nothing flagged, or
            no positives) (default: 0.0, as scikit-learn).

    Example:
        >>> precision_recall_at([0, 0, 1, 0, 1], [0.1, 0.3, 0.35, 0.6, 0.8], 0.35)
        (0.6666666666666666, 1.0)
    """
    positive, flagged = _decisions(y_true, scores, threshold, "precision_recall_at")
    tp = int((positive & flagged).sum())
    n_flagged, n_positive = int(flagged.sum()), int(positive.sum())
    precision = tp / n_flagged if n_flagged else zero_division
    recall = tp / n_positive if n_positive else zero_division
    return float(precision), float(recall)


def expected_cost(
    y_true: Any, scores: Any, threshold: float, cost_fp: float, cost_fn: float
) -> float:
    """The mean cost per sample of the decisions ``score >= threshold``:
    (cost_fp·FP + cost_fn·FN) / N.

    Example:
        >>> expected_cost([0, 0, 1, 0, 1], [0.1, 0.3, 0.35, 0.6, 0.8], 0.8, 1, 5)   # one FN
        1.0
    """
    fn = "expected_cost"
    _check_cost(fn, cost_fp, cost_fn)
    positive, flagged = _decisions(y_true, scores, threshold, fn)
    fp = int((~positive & flagged).sum())
    fn_count = int((positive & ~flagged).sum())
    return float((cost_fp * fp + cost_fn * fn_count) / len(positive))
