"""Classification metrics computed from predicted labels: precision, recall, F-beta and the
classification report (accuracy, top-k accuracy and the confusion matrix are in
:mod:`nnlab.metrics.confusion`, and re-exported here).

Everything starts from the counts of one class ``c`` (the *positive* class):

* true positives ``TP`` (predicted c, truly c), false positives ``FP`` (predicted c, truly
  not), false negatives ``FN`` (truly c, predicted not);
* ``precision = TP / (TP + FP)``: of what we flagged, how much was right;
* ``recall = TP / (TP + FN)``: of what was there, how much we found;
* ``F_beta = (1 + beta²) TP / ((1 + beta²) TP + beta² FN + FP)``, whose beta = 1 case is
  ``F1``, the harmonic mean of precision and recall.

For several classes, ``average`` says how the per-class numbers become one:
``'macro'`` (plain mean over classes), ``'weighted'`` (mean weighted by each class's
support), ``'micro'`` (pool the counts of all classes first; for single-label data this is
the accuracy), ``'binary'`` (only ``pos_label``) or ``None`` (one number per class).
A ratio with a zero denominator (a class never predicted, say) is *ill-defined*; it takes
the value ``zero_division`` (0, 1 or ``nan``, which leaves it out of averages) and, when
that is ``'warn'``, it is 0 and an :class:`UndefinedMetricWarning` says so.

**Inputs.** ``y_true`` is a 1-D sequence of class labels (ints, or strings). ``y_pred`` is
labels too, or an (N, C) array of per-class scores (logits or probabilities), whose
row-wise argmax is taken. Lists, NumPy arrays and nnlab Tensors are all accepted; results
are Python floats or NumPy arrays. Every function matches its scikit-learn namesake
(``accuracy`` is ``accuracy_score``, ``precision`` is ``precision_score``, ...), which the
tests use as the oracle.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from nnlab.metrics._inputs import (
    UndefinedMetricWarning,
    _check_average,
    _check_zero_division,
    _contains,
    _encode,
    _targets,
)
from nnlab.metrics.confusion import accuracy, confusion_matrix, top_k_accuracy

# The classification metrics of labels, as before the split: accuracy, top-k accuracy and
# the confusion matrix live in nnlab.metrics.confusion and are re-exported here.
__all__ = [
    "UndefinedMetricWarning",
    "accuracy",
    "top_k_accuracy",
    "confusion_matrix",
    "precision_recall_fscore_support",
    "precision",
    "recall",
    "f1_score",
    "classification_report",
]


def _prf_divide(
    num: np.ndarray,
    den: np.ndarray,
    metric: str,
    modifier: str,
    warn: bool,
    zero_division: Any,
    zd_value: float,
) -> np.ndarray:
    """``num / den`` with ``zd_value`` where ``den`` is 0, warning when asked to."""
    mask = den == 0
    result = num / np.where(mask, 1, den).astype(np.float64)
    if mask.any():
        result[mask] = zd_value
        if warn and zero_division == "warn":
            where = "due to" if result.size == 1 else "in labels with"
            warnings.warn(
                f"{metric.capitalize()} is ill-defined and being set to 0.0 {where} no "
                f"{modifier} samples. Use the zero_division argument to control this.",
                UndefinedMetricWarning,
                stacklevel=4,
            )
    return result


def _nanaverage(values: np.ndarray, weights: np.ndarray | None) -> float:
    """Weighted mean ignoring NaNs (classes set to ``zero_division=nan``); all zero
    weights fall back to the plain mean."""
    keep = ~np.isnan(values)
    if not keep.any():
        return float("nan")
    if weights is None or weights[keep].sum() == 0:
        return float(values[keep].mean())
    return float(np.average(values[keep], weights=weights[keep]))


def _prf(
    y_true: Any,
    y_pred: Any,
    *,
    beta: float,
    labels: Any,
    pos_label: Any,
    average: str | None,
    zero_division: Any,
    warn_for: tuple[str, ...],
    fn: str,
) -> tuple[Any, Any, Any, Any]:
    _check_average(average, fn)
    zd_value = _check_zero_division(zero_division, fn)
    if not beta >= 0:
        raise ValueError(f"{fn}: beta must be >= 0, got {beta}")
    yt, yp = _targets(y_true, y_pred, fn)
    present = np.union1d(yt, yp)
    if average == "binary":
        if len(present) > 2:
            raise ValueError(
                f"{fn}: the targets have {len(present)} classes but average='binary'; choose "
                "average from None, 'micro', 'macro', 'weighted'"
            )
        if len(present) == 2 and not _contains(present, pos_label):
            raise ValueError(
                f"{fn}: pos_label={pos_label!r} is not a valid label; it should be one of "
                f"{present.tolist()}"
            )
        labels = np.asarray([pos_label])
    else:
        if pos_label not in (None, 1):
            warnings.warn(
                f"{fn}: pos_label={pos_label!r} is ignored when average={average!r}; use "
                "labels=[pos_label] to score a single class",
                UserWarning,
                stacklevel=3,
            )
        labels = present if labels is None else np.asarray(labels)

    # Per-label counts: a sample counts for a label in y_true and y_pred separately.
    n = len(labels)
    ti, t_found = _encode(yt, labels)
    pi, p_found = _encode(yp, labels)
    true_sum = np.bincount(ti[t_found], minlength=n)
    pred_sum = np.bincount(pi[p_found], minlength=n)
    tp_sum = np.bincount(ti[t_found & p_found & (yt == yp)], minlength=n)
    if average == "micro":
        tp_sum, pred_sum, true_sum = (
            tp_sum.sum(keepdims=True),
            pred_sum.sum(keepdims=True),
            true_sum.sum(keepdims=True),
        )

    prec = _prf_divide(
        tp_sum, pred_sum, "precision", "predicted", "precision" in warn_for, zero_division, zd_value
    )
    rec = _prf_divide(
        tp_sum, true_sum, "recall", "true", "recall" in warn_for, zero_division, zd_value
    )
    if np.isposinf(beta):
        f = rec
    elif beta == 0:
        f = prec
    else:
        b2 = beta**2
        f = _prf_divide(
            (1 + b2) * tp_sum.astype(np.float64),
            b2 * true_sum + pred_sum.astype(np.float64),
            "f-score",
            "true nor predicted",
            "f-score" in warn_for,
            zero_division,
            zd_value,
        )
    if average is None:
        return prec, rec, f, true_sum
    weights = true_sum.astype(np.float64) if average == "weighted" else None
    return _nanaverage(prec, weights), _nanaverage(rec, weights), _nanaverage(f, weights), None


def precision_recall_fscore_support(
    y_true: Any,
    y_pred: Any,
    *,
    beta: float = 1.0,
    labels: Any = None,
    pos_label: Any = 1,
    average: str | None = None,
    zero_division: Any = "warn",
) -> tuple[Any, Any, Any, Any]:
    """Precision, recall, F-beta and support (the number of true samples) per class, or
    averaged.

    Args:
        y_true: true labels, shape (N,).
        y_pred: predicted labels (N,) or class scores (N, C) (argmax taken).
        beta: weight of recall in the F-score (default: 1, the F1 score).
        labels: the classes to report, in order (default: every label seen, sorted).
        pos_label: the positive class when ``average='binary'`` (default: 1).
        average: ``None`` (per class, the default), ``'binary'``, ``'micro'``, ``'macro'``
            or ``'weighted'``; see the module docstring.
        zero_division: the value of an ill-defined ratio: ``'warn'`` (0 and a warning),
            0, 1 or ``np.nan`` (left out of averages).

    Returns:
        ``(precision, recall, fbeta, support)``: arrays of shape (len(labels),) when
        ``average`` is None, else three floats and ``None``.

    Example:
        >>> p, r, f, s = precision_recall_fscore_support([0, 1, 1, 2], [0, 1, 2, 2])
        >>> p.tolist(), r.tolist(), s.tolist()
        ([1.0, 1.0, 0.5], [1.0, 0.5, 1.0], [1, 2, 1])
    """
    return _prf(
        y_true,
        y_pred,
        beta=beta,
        labels=labels,
        pos_label=pos_label,
        average=average,
        zero_division=zero_division,
        warn_for=("precision", "recall", "f-score"),
        fn="precision_recall_fscore_support",
    )


def precision(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    pos_label: Any = 1,
    average: str | None = "binary",
    zero_division: Any = "warn",
) -> Any:
    """Precision ``TP / (TP + FP)``: the fraction of positive predictions that are right.

    Arguments as :func:`precision_recall_fscore_support`; the default ``average='binary'``
    scores the class ``pos_label`` only.

    Example:
        >>> precision([0, 1, 1, 0], [1, 1, 1, 0])
        0.6666666666666666
        >>> precision([0, 1, 2], [0, 2, 2], average="macro", zero_division=0)
        0.5
    """
    p, _, _, _ = _prf(
        y_true, y_pred, beta=1.0, labels=labels, pos_label=pos_label, average=average,
        zero_division=zero_division, warn_for=("precision",), fn="precision",
    )  # fmt: skip
    return p


def recall(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    pos_label: Any = 1,
    average: str | None = "binary",
    zero_division: Any = "warn",
) -> Any:
    """Recall ``TP / (TP + FN)`` (sensitivity, true positive rate): the fraction of the
    positives that were found.

    Arguments as :func:`precision_recall_fscore_support`.

    Example:
        >>> recall([0, 1, 1, 0], [1, 1, 0, 0])
        0.5
    """
    _, r, _, _ = _prf(
        y_true, y_pred, beta=1.0, labels=labels, pos_label=pos_label, average=average,
        zero_division=zero_division, warn_for=("recall",), fn="recall",
    )  # fmt: skip
    return r


def f1_score(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    pos_label: Any = 1,
    average: str | None = "binary",
    zero_division: Any = "warn",
) -> Any:
    """F1 ``2 TP / (2 TP + FP + FN)``, the harmonic mean of precision and recall.

    Arguments as :func:`precision_recall_fscore_support`.

    Example:
        >>> f1_score([0, 1, 1, 0], [1, 1, 0, 0])
        0.5
        >>> f1_score([0, 1, 2, 2], [0, 2, 2, 2], average=None, zero_division=0)
        array([1. , 0. , 0.8])
    """
    _, _, f, _ = _prf(
        y_true, y_pred, beta=1.0, labels=labels, pos_label=pos_label, average=average,
        zero_division=zero_division, warn_for=("f-score",), fn="f1_score",
    )  # fmt: skip
    return f


def classification_report(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    target_names: list[str] | None = None,
    zero_division: Any = "warn",
) -> dict[str, Any]:
    """Precision, recall, F1 and support of every class, plus their averages, as a dict.

    The layout is scikit-learn's ``classification_report(..., output_dict=True)``: one
    entry per class (keyed by its name), then ``'accuracy'`` (a float; ``'micro avg'`` when
    ``labels`` leaves classes out), ``'macro avg'`` and ``'weighted avg'``. Each entry is
    ``{'precision', 'recall', 'f1-score', 'support'}``.

    Args:
        y_true: true labels, shape (N,).
        y_pred: predicted labels (N,) or class scores (N, C) (argmax taken).
        labels: the classes to report (default: every label seen, sorted).
        target_names: display names for ``labels``, in the same order.
        zero_division: as in :func:`precision_recall_fscore_support`.

    Example:
        >>> report = classification_report([0, 1, 1, 2], [0, 1, 2, 2], target_names=["a", "b", "c"])
        >>> report["b"]
        {'precision': 1.0, 'recall': 0.5, 'f1-score': 0.6666666666666666, 'support': 2}
        >>> report["accuracy"]
        0.75
    """
    fn = "classification_report"
    yt, yp = _targets(y_true, y_pred, fn)
    present = np.union1d(yt, yp)
    labels_given = labels is not None
    labels = np.asarray(labels) if labels_given else present
    if target_names is None:
        target_names = [str(label) for label in labels.tolist()]
    elif len(target_names) != len(labels):
        raise ValueError(
            f"{fn}: {len(target_names)} target_names for {len(labels)} labels; pass labels=[...] "
            "to say which classes the names belong to"
        )
    kwargs = dict(beta=1.0, labels=labels, pos_label=None, zero_division=zero_division)
    warn_for = ("precision", "recall", "f-score")
    p, r, f, s = _prf(yt, yp, average=None, warn_for=warn_for, fn=fn, **kwargs)
    report: dict[str, Any] = {}
    for name, pi, ri, fi, si in zip(target_names, p, r, f, s):
        report[name] = {"precision": float(pi), "recall": float(ri), "f1-score": float(fi),
                        "support": int(si)}  # fmt: skip
    micro_is_accuracy = not labels_given or set(labels.tolist()) >= set(present.tolist())
    total = int(s.sum())
    for average in ("micro", "macro", "weighted"):
        ap, ar, af, _ = _prf(yt, yp, average=average, warn_for=warn_for, fn=fn, **kwargs)
        if average == "micro" and micro_is_accuracy:
            report["accuracy"] = ap
        else:
            report[f"{average} avg"] = {"precision": ap, "recall": ar, "f1-score": af,
                                        "support": total}  # fmt: skip
    return report
