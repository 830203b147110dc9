"""Metrics that count right and wrong labels: accuracy, top-k accuracy and the confusion
matrix.

``accuracy = (1/N) sum_i [y_pred_i == y_true_i]`` is the trace of the confusion matrix
over N; top-k accuracy counts a sample as right when its true class is among its k highest
scores. Inputs are as in :mod:`nnlab.metrics.classification`; every function matches its
scikit-learn namesake (``accuracy`` is ``accuracy_score``), which the tests use as the
oracle.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from nnlab.metrics._inputs import (
    UndefinedMetricWarning,
    _as_array,
    _check_lengths,
    _encode,
    _label_vector,
    _targets,
)

__all__ = ["accuracy", "top_k_accuracy", "confusion_matrix"]


def accuracy(y_true: Any, y_pred: Any, *, normalize: bool = True) -> float:
    """The fraction of samples whose predicted label equals the true one.

    ``accuracy = (1/N) sum_i [y_pred_i == y_true_i]``; with ``normalize=False`` the count
    of correct samples instead.

    Args:
        y_true: true labels, shape (N,).
        y_pred: predicted labels (N,) or class scores (N, C) (argmax taken).
        normalize: return the fraction (default) or the count.

    Example:
        >>> accuracy([0, 1, 2, 2], [0, 2, 2, 2])
        0.75
        >>> accuracy([1, 0], [[0.2, 0.8], [0.9, 0.1]])   # logits or probabilities
        1.0
    """
    yt, yp = _targets(y_true, y_pred, "accuracy")
    hits = yt == yp
    return float(hits.mean()) if normalize else float(hits.sum())


def top_k_accuracy(
    y_true: Any, y_score: Any, *, k: int = 2, normalize: bool = True, labels: Any = None
) -> float:
    """The fraction of samples whose true class is among the ``k`` highest scores.

    Ties are broken as scikit-learn does (of equal scores, the higher class index ranks
    first). For binary targets ``y_score`` may be 1-D scores of the positive class.

    Args:
        y_true: true labels, shape (N,).
        y_score: scores, shape (N, C), column j for the j-th of the sorted classes (or of
            ``labels``); logits or probabilities.
        k: how many top classes count as a hit (default: 2, as scikit-learn).
        normalize: return the fraction (default) or the count.
        labels: all the classes, sorted, when ``y_true`` does not contain every column's.

    Example:
        >>> scores = [[0.5, 0.3, 0.2], [0.1, 0.3, 0.6], [0.4, 0.5, 0.1]]
        >>> top_k_accuracy([1, 0, 2], scores, k=2)
        0.3333333333333333
    """
    fn = "top_k_accuracy"
    yt = _label_vector(y_true, fn, "y_true", scores_ok=False)
    ys = _as_array(y_score, fn, "y_score").astype(np.float64)
    if ys.ndim == 2 and ys.shape[1] == 1:
        ys = ys[:, 0]
    _check_lengths(fn, yt, ys, ("y_true", "y_score"))
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{fn}: k must be a positive int, got {k!r}")
    n_cols = ys.shape[1] if ys.ndim == 2 else 2
    if labels is None:
        classes = np.unique(yt)
        if len(classes) != n_cols:
            raise ValueError(
                f"{fn}: y_true has {len(classes)} classes but y_score has {n_cols} columns; "
                "pass labels=[...] with every class"
            )
    else:
        classes = np.asarray(labels)
        if len(np.unique(classes)) != len(classes) or not np.array_equal(np.sort(classes), classes):
            raise ValueError(f"{fn}: labels must be unique and sorted, got {classes.tolist()}")
        if len(classes) != n_cols:
            raise ValueError(f"{fn}: {len(classes)} labels given but y_score has {n_cols} columns")
        if len(np.setdiff1d(yt, classes)):
            raise ValueError(f"{fn}: y_true contains labels not in labels={classes.tolist()}")
    if k >= n_cols:
        warnings.warn(
            f"{fn}: k ({k}) >= the number of classes ({n_cols}) gives a perfect score",
            UndefinedMetricWarning,
            stacklevel=2,
        )
    yt_idx, _ = _encode(yt, classes)
    if ys.ndim == 1:
        if n_cols != 2:
            raise ValueError(f"{fn}: 1-D y_score needs binary targets; pass (N, C) scores")
        if k == 1:
            threshold = 0.5 if ys.min() >= 0 and ys.max() <= 1 else 0.0
            hits = (ys > threshold).astype(np.int64) == yt_idx
        else:
            hits = np.ones(len(yt), dtype=bool)
    else:
        top = np.argsort(ys, axis=1, kind="mergesort")[:, ::-1][:, :k]
        hits = (top == yt_idx[:, None]).any(axis=1)
    return float(hits.mean()) if normalize else float(hits.sum())


def confusion_matrix(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    num_classes: int | None = None,
    normalize: str | None = None,
) -> np.ndarray:
    """Counts of (true class, predicted class) pairs: ``C[i, j]`` is the number of samples
    of class ``i`` predicted as class ``j``. The diagonal holds the correct predictions.

    Args:
        y_true: true labels, shape (N,).
        y_pred: predicted labels (N,) or class scores (N, C) (argmax taken).
        labels: the classes, in the order of the rows (default: every label seen, sorted);
            samples with other labels are left out.
        num_classes: shorthand for ``labels=range(num_classes)``; labels outside it are
            an error.
        normalize: ``None`` (counts), ``'true'`` (rows sum to 1, i.e. per-class recall on
            the diagonal), ``'pred'`` (columns sum to 1) or ``'all'``.

    Returns:
        int64 counts, or float64 fractions when normalised, shape (C, C).

    Example:
        >>> confusion_matrix([0, 1, 2, 2], [0, 2, 2, 2], num_classes=3)
        array([[1, 0, 0],
               [0, 0, 1],
               [0, 0, 2]])
    """
    fn = "confusion_matrix"
    yt, yp = _targets(y_true, y_pred, fn)
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"{fn}: normalize={normalize!r} is not one of None, 'true', 'pred', 'all'")
    if labels is not None and num_classes is not None:
        raise ValueError(f"{fn}: pass labels or num_classes, not both")
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
            raise TypeError(f"{fn}: num_classes must be an int, got {num_classes!r}")
        if num_classes < 1:
            raise ValueError(f"{fn}: num_classes must be >= 1, got {num_classes}")
        for name, y in (("y_true", yt), ("y_pred", yp)):
            if y.dtype.kind in "US" or y.min() < 0 or y.max() >= num_classes:
                raise ValueError(
                    f"{fn}: {name} has labels outside range(num_classes={num_classes}): "
                    f"{np.setdiff1d(y, np.arange(num_classes))[:5].tolist()}"
                )
        labels = np.arange(num_classes)
    elif labels is not None:
        labels = np.asarray(labels)
        if labels.size == 0:
            raise ValueError(f"{fn}: labels must contain at least one label")
        if len(np.intersect1d(yt, labels)) == 0:
            raise ValueError(f"{fn}: at least one of labels={labels.tolist()} must be in y_true")
    else:
        labels = np.union1d(yt, yp)
        if len(labels) == 1:
            warnings.warn(
                f"{fn}: a single label was found in y_true and y_pred; pass labels=[...] "
                "or num_classes=... for the matrix of every class",
                UserWarning,
                stacklevel=2,
            )
    n = len(labels)
    ti, t_found = _encode(yt, labels)
    pi, p_found = _encode(yp, labels)
    keep = t_found & p_found
    cm = np.bincount(ti[keep] * n + pi[keep], minlength=n * n).reshape(n, n).astype(np.int64)
    if normalize is None:
        return cm
    with np.errstate(all="ignore"):
        if normalize == "true":
            out = cm / cm.sum(axis=1, keepdims=True)
        elif normalize == "pred":
            out = cm / cm.sum(axis=0, keepdims=True)
        else:
            out = cm / cm.sum()
    return np.nan_to_num(out)
