"""Calibration: does a classifier's confidence match how often it is right?

A classifier is *calibrated* when, of all the predictions it makes with confidence p,
a fraction p is correct. The tools here bin the predictions by confidence and compare,
bin by bin, the mean confidence with the accuracy:

- :func:`calibration_curve`: binary, scikit-learn's ``calibration_curve``: per bin the
  fraction of positives against the mean predicted probability.
- :func:`reliability_bins`: multi-class, *top-label*: the confidence of a prediction is its
  largest class probability and it is right when that class is the label (Guo et al.,
  "On Calibration of Modern Neural Networks", ICML 2017). Equal-width bins (lo, hi].
- :func:`expected_calibration_error` and :func:`maximum_calibration_error` summarise the
  bins, with torchmetrics' ``MulticlassCalibrationError`` semantics::

      ECE = Σ_b (n_b / N) |acc_b − conf_b|            (norm="l1")
      RMSCE = sqrt(Σ_b (n_b / N) (acc_b − conf_b)²)    (norm="l2")
      MCE = max_b |acc_b − conf_b|   over non-empty bins (norm="max")

Scores may be probabilities (rows summing to 1) or logits: as torchmetrics does, scores
with any value outside [0, 1] are taken for logits and go through a softmax first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nnlab.metrics._inputs import _as_array, _check_lengths

__all__ = [
    "ReliabilityBins",
    "calibration_curve",
    "expected_calibration_error",
    "maximum_calibration_error",
    "reliability_bins",
]

_NORMS = ("l1", "l2", "max")


def _check_n_bins(n_bins: Any, fn: str) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"{fn}: n_bins must be a positive int, got {n_bins!r}")


def calibration_curve(
    y_true: Any,
    y_prob: Any,
    *,
    pos_label: Any = None,
    n_bins: int = 5,
    strategy: str = "uniform",
) -> tuple[np.ndarray, np.ndarray]:
    """Binary calibration curve, as scikit-learn's ``sklearn.calibration.calibration_curve``.

    The probabilities are cut into ``n_bins`` bins; for every non-empty bin b it returns
    the fraction of positives, prob_true_b = (1/n_b) Σ_{i∈b} y_i, and the mean predicted
    probability, prob_pred_b = (1/n_b) Σ_{i∈b} p_i. On the diagonal prob_true = prob_pred
    the classifier is calibrated.

    Args:
        y_true: binary labels, shape (N,).
        y_prob: predicted probabilities of the positive class, shape (N,), in [0, 1].
        pos_label: the positive label (default: 1, for labels in {0, 1} or {-1, 1}).
        n_bins: number of bins (default: 5).
        strategy: ``"uniform"``: equal-width bins on [0, 1]; ``"quantile"``: edges at the
            quantiles of ``y_prob``, so the bins hold about equally many samples.

    Returns:
        (prob_true, prob_pred), each of the length of the non-empty bins, in bin order.

    Example:
        >>> t, p = calibration_curve([0, 0, 1, 1], [0.1, 0.3, 0.7, 0.9], n_bins=2)
        >>> t.tolist(), p.tolist()
        ([0.0, 1.0], [0.2, 0.8])
    """
    fn = "calibration_curve"
    _check_n_bins(n_bins, fn)
    yt = _as_array(y_true, fn, "y_true")
    prob = _as_array(y_prob, fn, "y_prob").astype(np.float64)
    if yt.ndim != 1 or prob.ndim != 1:
        raise ValueError(
            f"{fn}: y_true and y_prob must be 1-D, got shapes {yt.shape} and {prob.shape}"
        )
    _check_lengths(fn, yt, prob, ("y_true", "y_prob"))
    if not np.isfinite(prob).all() or prob.min() < 0 or prob.max() > 1:
        raise ValueError(
            f"{fn}: y_prob must be probabilities in [0, 1], got values in "
            f"[{prob.min()}, {prob.max()}]"
        )
    labels = np.unique(yt)
    if len(labels) > 2:
        raise ValueError(f"{fn}: y_true must be binary, got {len(labels)} labels")
    if pos_label is None:
        if not (set(labels.tolist()) <= {0, 1} or set(labels.tolist()) <= {-1, 1}):
            raise ValueError(
                f"{fn}: y_true has labels {labels.tolist()}, which are not {{0, 1}} or "
                "{-1, 1}; name the positive one with pos_label="
            )
        pos_label = 1
    positive = (yt == pos_label).astype(np.float64)
    if strategy == "quantile":
        edges = np.percentile(prob, np.linspace(0, 100, n_bins + 1))
    elif strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        raise ValueError(f"{fn}: strategy must be 'uniform' or 'quantile', got {strategy!r}")
    # inner edges only: a probability on an edge goes to the bin on its left, 0 to the first
    # and 1 to the last, as scikit-learn bins them
    bin_of = np.searchsorted(edges[1:-1], prob)
    count = np.bincount(bin_of, minlength=n_bins)
    hits = np.bincount(bin_of, weights=positive, minlength=n_bins)
    total = np.bincount(bin_of, weights=prob, minlength=n_bins)
    filled = count > 0
    return hits[filled] / count[filled], total[filled] / count[filled]


@dataclass(frozen=True)
class ReliabilityBins:
    """Top-label reliability of a classifier, per equal-width confidence bin.

    Attributes:
        edges: (n_bins + 1,) bin edges 0, 1/n_bins, ..., 1; bin b holds the confidences
            in (edges[b], edges[b + 1]].
        confidence: (n_bins,) mean confidence of the bin's predictions (nan when empty).
        accuracy: (n_bins,) fraction of the bin's predictions that are right (nan when
            empty).
        count: (n_bins,) number of predictions in the bin.
    """

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray

    @property
    def weight(self) -> np.ndarray:
        """Fraction of all predictions in each bin, n_b / N."""
        return self.count / self.count.sum()

    @property
    def gap(self) -> np.ndarray:
        """acc_b − conf_b per bin (negative: over-confident; nan when empty)."""
        return self.accuracy - self.confidence


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _probabilities(preds: Any, fn: str) -> np.ndarray:
    """(N, C) class probabilities from probabilities or logits (softmax when any score is
    outside [0, 1]), checked to sum to 1 per row."""
    p = _as_array(preds, fn, "preds").astype(np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(
            f"{fn}: preds must be (N, C) class probabilities or logits with C >= 2, got shape "
            f"{p.shape}; for a binary classifier pass both columns (1 - p, p)"
        )
    if not np.isfinite(p).all():
        raise ValueError(f"{fn}: preds holds nan or inf")
    if p.min() < 0 or p.max() > 1:
        return _softmax(p)
    sums = p.sum(axis=1)
    bad = np.abs(sums - 1) > 1e-4
    if bad.any():
        raise ValueError(
            f"{fn}: preds in [0, 1] are read as probabilities, but row {int(np.argmax(bad))} "
            f"sums to {sums[bad][0]:.6g}, not 1; pass logits, or probabilities (softmax)"
        )
    return p


def _top_label(preds: Any, target: Any, fn: str) -> tuple[np.ndarray, np.ndarray]:
    """Confidence (largest probability) and correctness (argmax == label) of each row."""
    p = _probabilities(preds, fn)
    y = _as_array(target, fn, "target")
    if y.ndim != 1:
        raise ValueError(f"{fn}: target must be 1-D class labels (N,), got shape {y.shape}")
    _check_lengths(fn, p, y, ("preds", "target"))
    if y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and (y == np.round(y)).all()):
        raise ValueError(f"{fn}: target must be integer class labels, got dtype {y.dtype}")
    n_classes = p.shape[1]
    if y.min() < 0 or y.max() >= n_classes:
        bad = y[(y < 0) | (y >= n_classes)][0].item()
        raise ValueError(
            f"{fn}: target holds label {bad!r}, outside the {n_classes} classes [0, {n_classes})"
        )
    return p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64)


def reliability_bins(preds: Any, target: Any, n_bins: int = 15) -> ReliabilityBins:
    """Bin the top-label confidences into ``n_bins`` equal-width bins (lo, hi] and give each
    bin's mean confidence, accuracy and count: the data of a reliability diagram.

    Args:
        preds: (N, C) class probabilities, or logits (see the module docstring).
        target: (N,) class labels in [0, C).
        n_bins: number of bins (default: 15, as torchmetrics).

    Example:
        >>> bins = reliability_bins([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]], [0, 1, 1], n_bins=2)
        >>> bins.count.tolist(), bins.accuracy.tolist()
        ([0, 3], [nan, 0.6666666666666666])
    """
    return _binned(preds, target, n_bins, "reliability_bins")


def _binned(preds: Any, target: Any, n_bins: int, fn: str) -> ReliabilityBins:
    _check_n_bins(n_bins, fn)
    confidence, correct = _top_label(preds, target, fn)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # side="left" puts a confidence equal to an edge into the bin below it: bins (lo, hi]
    bin_of = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(bin_of, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(bin_of, weights=confidence, minlength=n_bins) / count
        accuracy = np.bincount(bin_of, weights=correct, minlength=n_bins) / count
    return ReliabilityBins(edges, mean_confidence, accuracy, count)


def expected_calibration_error(
    preds: Any, target: Any, n_bins: int = 15, norm: str = "l1"
) -> float:
    """Top-label calibration error over ``n_bins`` equal-width confidence bins.

    ``norm="l1"`` is the expected calibration error ECE = Σ_b (n_b/N)|acc_b − conf_b|;
    ``"l2"`` the root-mean-square calibration error sqrt(Σ_b (n_b/N)(acc_b − conf_b)²);
    ``"max"`` the maximum calibration error max_b |acc_b − conf_b| over non-empty bins.
    These are torchmetrics' ``MulticlassCalibrationError(n_bins, norm)`` values.

    Args:
        preds: (N, C) class probabilities, or logits (see the module docstring).
        target: (N,) class labels in [0, C).
        n_bins: number of bins (default: 15).
        norm: ``"l1"`` (default), ``"l2"`` or ``"max"``.

    Example:
        >>> round(expected_calibration_error([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]], [0, 1, 1], 2), 4)
        0.1333
    """
    return _calibration_error(preds, target, n_bins, norm, "expected_calibration_error")


def _calibration_error(preds: Any, target: Any, n_bins: int, norm: str, fn: str) -> float:
    if norm not in _NORMS:
        raise ValueError(f"{fn}: norm must be one of {list(_NORMS)}, got {norm!r}")
    bins = _binned(preds, target, n_bins, fn)
    filled = bins.count > 0
    gap = np.abs(bins.gap[filled])
    weight = bins.weight[filled]
    if norm == "l1":
        return float(np.sum(weight * gap))
    if norm == "l2":
        return float(np.sqrt(np.sum(weight * gap**2)))
    return float(gap.max())


def maximum_calibration_error(preds: Any, target: Any, n_bins: int = 15) -> float:
    """MCE = max_b |acc_b − conf_b| over the non-empty bins: the worst bin's gap, i.e.
    ``expected_calibration_error(preds, target, n_bins, norm="max")``.

    Example:
        >>> round(maximum_calibration_error([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]], [0, 1, 1], 2), 4)
        0.1333
    """
    return _calibration_error(preds, target, n_bins, "max", "maximum_calibration_error")
