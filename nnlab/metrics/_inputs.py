"""Input checks and label encoding shared by the metrics, and their warning.

**Inputs.** ``y_true`` is a 1-D sequence of class labels (ints, or strings). ``y_pred`` is
labels too, or an (N, C) array of per-class scores (logits or probabilities), whose
row-wise argmax is taken. Lists, NumPy arrays and nnlab Tensors are all accepted
(:func:`_as_array`); a bad input is an error that names the function and the argument.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.tensor import Tensor

__all__ = ["UndefinedMetricWarning"]

_AVERAGES = (None, "binary", "micro", "macro", "weighted")


class UndefinedMetricWarning(UserWarning):
    """A metric had a zero denominator and was replaced by ``zero_division``."""


def _as_array(x: Any, fn: str, name: str) -> np.ndarray:
    a = x.array if isinstance(x, Tensor) else np.asarray(x)
    if a.dtype == object:
        raise TypeError(f"{fn}: {name} must be numbers or strings, got Python objects")
    if a.dtype.kind == "b":
        a = a.astype(np.int64)
    return a


def _label_vector(y: Any, fn: str, name: str, scores_ok: bool) -> np.ndarray:
    """1-D class labels from labels, a column of labels, or (N, C) scores (argmax)."""
    a = _as_array(y, fn, name)
    if a.ndim == 2 and a.shape[1] > 1:
        if not scores_ok:
            raise ValueError(
                f"{fn}: {name} must be 1-D class labels, got shape {a.shape}; "
                f"for one-hot targets pass {name}.argmax(1)"
            )
        return a.argmax(axis=1)
    if a.ndim == 2:
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"{fn}: {name} must be 1-D class labels of shape (N,), got {a.shape}")
    if a.dtype.kind == "f":
        bad = ~np.isfinite(a) | (a != np.round(a))
        if bad.any():
            raise ValueError(
                f"{fn}: {name} holds non-integer values such as {a[bad][0]!r}, so it looks "
                "like scores or probabilities. Pass class labels, (N, C) scores (their "
                "argmax is used), or threshold binary scores yourself, e.g. (p > 0.5)"
            )
    return a


def _check_lengths(fn: str, a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> None:
    if len(a) != len(b):
        raise ValueError(
            f"{fn}: {names[0]} and {names[1]} have different lengths ({len(a)} and {len(b)})"
        )
    if len(a) == 0:
        raise ValueError(f"{fn}: {names[0]} and {names[1]} are empty; need at least 1 sample")


def _targets(y_true: Any, y_pred: Any, fn: str) -> tuple[np.ndarray, np.ndarray]:
    yt = _label_vector(y_true, fn, "y_true", scores_ok=False)
    yp = _label_vector(y_pred, fn, "y_pred", scores_ok=True)
    _check_lengths(fn, yt, yp, ("y_true", "y_pred"))
    if (yt.dtype.kind in "US") != (yp.dtype.kind in "US"):
        raise ValueError(f"{fn}: y_true and y_pred mix string and numeric labels")
    return yt, yp


def _encode(y: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each ``y`` in ``labels`` and whether it was found there at all."""
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    pos = np.clip(np.searchsorted(sorted_labels, y), 0, len(labels) - 1)
    return order[pos], sorted_labels[pos] == y


def _contains(values: np.ndarray, item: Any) -> bool:
    return any(v == item for v in values.tolist())


def _check_zero_division(zero_division: Any, fn: str) -> float:
    if isinstance(zero_division, str):
        if zero_division == "warn":
            return 0.0
    elif isinstance(zero_division, (int, float)) and (
        zero_division in (0, 1) or np.isnan(zero_division)
    ):
        return float(zero_division)
    raise ValueError(f"{fn}: zero_division={zero_division!r} is not one of 'warn', 0, 1 or np.nan")


def _check_average(average: Any, fn: str, allowed: tuple = _AVERAGES) -> None:
    if average not in allowed:
        names = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{fn}: average={average!r} is not one of {names}")
