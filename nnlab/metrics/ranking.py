"""Metrics computed from scores: ROC and precision-recall curves and the areas under them.

A binary classifier outputs a score per sample (a logit, a probability); a *threshold*
``t`` turns it into a prediction (``score >= t`` means positive). Sweeping ``t`` from +inf
down to the lowest score traces:

* the **ROC curve**: true positive rate ``TPR = TP / P`` against false positive rate
  ``FPR = FP / N``. Its area (**ROC AUC**) is the probability that a random positive
  scores higher than a random negative (ties count one half): 0.5 is chance, 1 perfect.
* the **precision-recall curve**: ``precision = TP / (TP + FP)`` against ``recall =
  TP / P``. **Average precision** ``AP = sum_n (R_n - R_{n-1}) P_n`` summarises it; unlike
  ROC AUC it stays low when positives are rare and hard to find (fraud, disease), so it is
  the measure for imbalanced data.

Only the ranking of the scores matters, so logits and probabilities give the same curves
(with different thresholds). Equal scores share one threshold: the curve jumps over a tied
group at once, exactly as scikit-learn, which the tests use as the oracle.

**Inputs.** ``y_true``: 1-D labels (lists, arrays or nnlab Tensors). ``y_score``: 1-D
scores of the positive class; for a two-column softmax output pass ``probs[:, 1]``. The
multi-class forms of :func:`roc_auc_score` and :func:`average_precision_score` take (N, C)
scores and score each class against the rest.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from nnlab.metrics._inputs import (
    UndefinedMetricWarning,
    _as_array,
    _check_average,
    _check_lengths,
    _contains,
    _encode,
    _label_vector,
)

__all__ = [
    "auc",
    "roc_curve",
    "roc_auc_score",
    "precision_recall_curve",
    "average_precision_score",
]


def _score_vector(y_score: Any, fn: str) -> np.ndarray:
    s = _as_array(y_score, fn, "y_score")
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if s.ndim != 1:
        hint = " (e.g. probs[:, 1], or logits[:, 1] - logits[:, 0])" if s.ndim == 2 else ""
        raise ValueError(
            f"{fn}: y_score must be 1-D scores of the positive class{hint}, got shape {s.shape}"
        )
    if s.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: y_score must be numbers, got dtype {s.dtype}")
    if not np.isfinite(s).all():
        raise ValueError(f"{fn}: y_score contains NaN or infinity")
    return s.astype(np.float64)


def _binary_clf_curve(
    y_true: Any, y_score: Any, pos_label: Any, fn: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive counts at each distinct score, highest first."""
    yt = _label_vector(y_true, fn, "y_true", scores_ok=False)
    ys = _score_vector(y_score, fn)
    _check_lengths(fn, yt, ys, ("y_true", "y_score"))
    classes = np.unique(yt)
    if pos_label is None:
        if len(classes) > 2:
            raise ValueError(
                f"{fn}: y_true has {len(classes)} classes; the curve is for binary targets "
                "(pass pos_label=... to score one class against the rest)"
            )
        numeric = classes.dtype.kind in "iuf"
        allowed = ({0, 1}, {-1, 1}, {0}, {1}, {-1})
        if not numeric or set(classes.tolist()) not in [set(a) for a in allowed]:
            raise ValueError(
                f"{fn}: y_true takes values {classes.tolist()} and pos_label is not given: "
                "use labels in {0, 1} or {-1, 1}, or pass pos_label explicitly"
            )
        pos_label = 1
    y = (yt == pos_label).astype(np.float64)
    order = np.argsort(ys, kind="stable")[::-1]
    ys, y = ys[order], y[order]
    # The last index of each run of equal scores: the curve's points.
    last = np.r_[np.flatnonzero(np.diff(ys)), len(ys) - 1]
    tps = np.cumsum(y)[last]
    fps = 1 + last - tps
    return fps, tps, ys[last]


def _roc_rate(counts: np.ndarray, samples: str, rate: str) -> np.ndarray:
    """Cumulative counts over their total (the last one); NaN with a warning when ``y_true``
    holds no ``samples`` at all."""
    if counts[-1] <= 0:
        warnings.warn(
            f"roc_curve: no {samples} samples in y_true, the {rate} rate is undefined",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        return np.full(counts.shape, np.nan)
    return counts / counts[-1]


def roc_curve(
    y_true: Any, y_score: Any, *, pos_label: Any = None, drop_intermediate: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The receiver operating characteristic: (FPR, TPR) at every distinct threshold.

    The first point is ``(0, 0)`` at threshold ``+inf``; the last is ``(1, 1)`` at the
    lowest score. ``drop_intermediate`` leaves out points on straight segments (they do
    not change the curve or its area).

    Args:
        y_true: binary labels, shape (N,), in {0, 1} or {-1, 1} unless ``pos_label`` is set.
        y_score: scores of the positive class, shape (N,).
        pos_label: the positive class (default: 1).
        drop_intermediate: drop collinear points (default: True, as scikit-learn).

    Returns:
        ``(fpr, tpr, thresholds)``, float64 arrays, thresholds decreasing.

    Example:
        >>> fpr, tpr, thr = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> fpr.tolist(), tpr.tolist()
        ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
        >>> thr.tolist()
        [inf, 0.8, 0.4, 0.35, 0.1]
    """
    fps, tps, thresholds = _binary_clf_curve(y_true, y_score, pos_label, "roc_curve")
    if drop_intermediate and len(fps) > 2:
        # Keep the ends and every point where the curve bends (second difference != 0).
        bends = np.logical_or(np.diff(fps, 2), np.diff(tps, 2))
        keep = np.flatnonzero(np.r_[True, bends, True])
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    fps, tps = np.r_[0.0, fps], np.r_[0.0, tps]
    thresholds = np.r_[np.inf, thresholds]
    fpr = _roc_rate(fps, "negative", "false positive")
    tpr = _roc_rate(tps, "positive", "true positive")
    return fpr, tpr, thresholds


def precision_recall_curve(
    y_true: Any, y_score: Any, *, pos_label: Any = None, drop_intermediate: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall at every distinct threshold, lowest threshold first.

    The arrays end with the point ``precision = 1, recall = 0``, which has no threshold,
    so ``thresholds`` is one shorter. With no positive in ``y_true`` the recall is set to
    1 everywhere (and a warning says so).

    Args:
        y_true: binary labels, shape (N,), in {0, 1} or {-1, 1} unless ``pos_label`` is set.
        y_score: scores of the positive class, shape (N,).
        pos_label: the positive class (default: 1).
        drop_intermediate: drop points where precision alone changes (default: False).

    Returns:
        ``(precision, recall, thresholds)``, float64; thresholds increasing.

    Example:
        >>> p, r, thr = precision_recall_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> p.round(3).tolist(), r.tolist(), thr.tolist()
        ([0.5, 0.667, 0.5, 1.0, 1.0], [1.0, 1.0, 0.5, 0.5, 0.0], [0.1, 0.35, 0.4, 0.8])
    """
    fn = "precision_recall_curve"
    fps, tps, thresholds = _binary_clf_curve(y_true, y_score, pos_label, fn)
    if drop_intermediate and len(fps) > 2:
        # Keep the ends and the last point of every run of equal TP counts.
        changes = np.logical_or(np.diff(tps[:-1]), np.diff(tps[1:]))
        keep = np.flatnonzero(np.r_[True, changes, True])
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    predicted = tps + fps
    prec = np.divide(tps, predicted, out=np.zeros_like(tps), where=predicted != 0)
    if tps[-1] == 0:
        warnings.warn(
            f"{fn}: no positive class found in y_true, recall is set to one for all thresholds",
            UserWarning,
            stacklevel=2,
        )
        rec = np.ones_like(tps)
    else:
        rec = tps / tps[-1]
    return np.r_[prec[::-1], 1.0], np.r_[rec[::-1], 0.0], thresholds[::-1]


def auc(x: Any, y: Any) -> float:
    """Area under a curve through the points ``(x, y)`` by the trapezoidal rule; ``x``
    must be monotonic (increasing or decreasing).

    Example:
        >>> auc([0.0, 0.5, 1.0], [0.0, 1.0, 1.0])
        0.75
    """
    x = np.asarray(_as_array(x, "auc", "x"), dtype=np.float64).ravel()
    y = np.asarray(_as_array(y, "auc", "y"), dtype=np.float64).ravel()
    _check_lengths("auc", x, y, ("x", "y"))
    if len(x) < 2:
        raise ValueError(f"auc: at least 2 points are needed, got {len(x)}")
    dx = np.diff(x)
    direction = 1.0
    if (dx < 0).any():
        if not (dx <= 0).all():
            raise ValueError("auc: x is neither increasing nor decreasing")
        direction = -1.0
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # renamed in NumPy 2.0
    return float(direction * trapezoid(y, x))


def _binary_roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    if len(np.unique(y)) != 2:
        warnings.warn(
            "roc_auc_score: only one class is present in y_true; ROC AUC is not defined",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        return float("nan")
    fpr, tpr, _ = roc_curve(y, score)
    return auc(fpr, tpr)


def _binary_average_precision(y: np.ndarray, score: np.ndarray) -> float:
    prec, rec, _ = precision_recall_curve(y, score, pos_label=1)
    return float(max(0.0, -np.sum(np.diff(rec) * prec[:-1])))


def _average_over_classes(metric: Any, y: np.ndarray, scores: np.ndarray, average: Any) -> Any:
    """One-vs-rest: ``metric`` per column of the one-hot ``y``, then averaged."""
    if average == "micro":
        return metric(y.ravel(), scores.ravel())
    per_class = np.array([metric(y[:, c], scores[:, c]) for c in range(y.shape[1])])
    if average is None:
        return per_class
    weights = None
    if average == "weighted":
        weights = y.sum(axis=0).astype(np.float64)
        if np.isclose(weights.sum(), 0.0):
            return 0.0
        per_class[weights == 0] = 0.0
    return float(np.average(per_class, weights=weights))


def _one_hot(yt: np.ndarray, classes: np.ndarray) -> np.ndarray:
    idx, _ = _encode(yt, classes)
    out = np.zeros((len(yt), len(classes)), dtype=np.int64)
    out[np.arange(len(yt)), idx] = 1
    return out


def roc_auc_score(
    y_true: Any,
    y_score: Any,
    *,
    average: str | None = "macro",
    multi_class: str = "raise",
    labels: Any = None,
) -> Any:
    """Area under the ROC curve: the probability that a random positive outscores a random
    negative. Binary by default; one-vs-rest for several classes.

    Args:
        y_true: labels, shape (N,); for binary targets the larger label is positive.
        y_score: binary: scores of the positive class, shape (N,). Multi-class: class
            probabilities, shape (N, C), rows summing to 1 (apply softmax to logits).
        average: multi-class only: ``'macro'`` (default), ``'weighted'`` (by class
            support), ``'micro'`` (pooled) or ``None`` (per class).
        multi_class: ``'raise'`` (default, as scikit-learn: multi-class input is an error)
            or ``'ovr'`` (each class against the rest).
        labels: multi-class only: the classes of the columns, sorted (default: those in
            ``y_true``).

    Returns:
        A float (``nan`` with a warning if ``y_true`` has one class only), or per-class
        array for ``average=None``.

    Example:
        >>> roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
        >>> probs = [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.3, 0.6], [0.3, 0.4, 0.3]]
        >>> roc_auc_score([0, 1, 2, 1], probs, multi_class="ovr")
        1.0
    """
    fn = "roc_auc_score"
    yt = _label_vector(y_true, fn, "y_true", scores_ok=False)
    ys = _as_array(y_score, fn, "y_score")
    if ys.ndim == 2 and ys.shape[1] == 1:
        ys = ys[:, 0]
    classes = np.unique(yt)
    multiclass = len(classes) > 2 or (ys.ndim == 2 and ys.shape[1] > 2)
    if not multiclass:
        score = _score_vector(ys, fn)
        _check_lengths(fn, yt, score, ("y_true", "y_score"))
        if len(classes) < 2:
            return _binary_roc_auc(np.zeros(len(yt)), score)
        return _binary_roc_auc((yt == classes[-1]).astype(np.int64), score)
    if multi_class not in ("raise", "ovr"):
        raise ValueError(
            f"{fn}: multi_class={multi_class!r} is not one of 'raise', 'ovr' ('ovo' is not "
            "implemented)"
        )
    if multi_class == "raise":
        raise ValueError(
            f"{fn}: the targets are multi-class; pass multi_class='ovr' to score each class "
            "against the rest"
        )
    _check_average(average, fn, ("micro", "macro", "weighted", None))
    if ys.ndim != 2:
        raise ValueError(
            f"{fn}: y_true has {len(classes)} classes, so y_score must have shape "
            f"(n_samples, n_classes), got {ys.shape}"
        )
    _check_lengths(fn, yt, ys, ("y_true", "y_score"))
    ys = ys.astype(np.float64)
    if not np.allclose(1, ys.sum(axis=1)):
        raise ValueError(
            f"{fn}: multi-class scores must be probabilities whose rows sum to 1; apply "
            "softmax to logits first"
        )
    if labels is not None:
        classes = np.asarray(labels)
        if len(np.unique(classes)) != len(classes) or not np.array_equal(np.sort(classes), classes):
            raise ValueError(f"{fn}: labels must be unique and sorted, got {classes.tolist()}")
        if len(np.setdiff1d(yt, classes)):
            raise ValueError(f"{fn}: y_true contains labels not in labels={classes.tolist()}")
    if len(classes) != ys.shape[1]:
        raise ValueError(
            f"{fn}: {len(classes)} classes but y_score has {ys.shape[1]} columns; pass "
            "labels=[...] with the class of every column"
        )
    return _average_over_classes(_binary_roc_auc, _one_hot(yt, classes), ys, average)


def average_precision_score(
    y_true: Any, y_score: Any, *, average: str | None = "macro", pos_label: Any = 1
) -> Any:
    """Average precision: ``AP = sum_n (R_n - R_{n-1}) P_n`` over the thresholds of the
    precision-recall curve (a step-wise area, no interpolation).

    Args:
        y_true: labels, shape (N,).
        y_score: binary: scores of the positive class, shape (N,). Multi-class (three or
            more classes in ``y_true``): scores of shape (N, C), column j for the j-th
            sorted class.
        average: multi-class only: ``'macro'`` (default), ``'weighted'``, ``'micro'`` or
            ``None`` (per class).
        pos_label: the positive class for binary targets (default: 1).

    Example:
        >>> average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.8333333333333333
    """
    fn = "average_precision_score"
    _check_average(average, fn, ("micro", "macro", "weighted", None))
    yt = _label_vector(y_true, fn, "y_true", scores_ok=False)
    present = np.unique(yt)
    if len(present) <= 2:
        if len(present) == 2 and not _contains(present, pos_label):
            raise ValueError(
                f"{fn}: pos_label={pos_label!r} is not a valid label; it should be one of "
                f"{present.tolist()}"
            )
        score = _score_vector(y_score, fn)
        _check_lengths(fn, yt, score, ("y_true", "y_score"))
        return _binary_average_precision((yt == pos_label).astype(np.int64), score)
    if pos_label != 1:
        raise ValueError(f"{fn}: pos_label must be 1 for multi-class y_true, got {pos_label!r}")
    ys = _as_array(y_score, fn, "y_score").astype(np.float64)
    if ys.shape != (len(yt), len(present)):
        raise ValueError(
            f"{fn}: y_true has {len(present)} classes, so y_score must have shape "
            f"({len(yt)}, {len(present)}), got {ys.shape}"
        )
    return _average_over_classes(_binary_average_precision, _one_hot(yt, present), ys, average)
