"""Regression metrics: how far predictions are from real-valued targets.

With residuals ``e_i = y_i - ŷ_i`` over N samples:

* ``MSE = (1/N) sum e_i²`` (the loss most regressions minimise; squares punish outliers),
* ``RMSE = sqrt(MSE)`` (in the units of ``y``),
* ``MAE = (1/N) sum |e_i|`` (robust to outliers),
* ``R² = 1 - sum e_i² / sum (y_i - ȳ)²``: the fraction of the variance of ``y`` explained.
  1 is perfect, 0 is no better than always predicting the mean, and it can be negative.

**Inputs.** ``y_true`` and ``y_pred`` are lists, NumPy arrays or nnlab Tensors of shape
(N,) or (N, K) for K outputs; (N,) and (N, 1) are the same thing. Metrics are computed in
float64 and returned as Python floats, or per-output arrays with
``multioutput='raw_values'``. They match scikit-learn's, the tests' oracle.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from nnlab.metrics._inputs import UndefinedMetricWarning, _as_array

__all__ = ["mean_squared_error", "root_mean_squared_error", "mean_absolute_error", "r2_score"]


def _check(
    fn: str, y_true: Any, y_pred: Any, multioutput: Any, allowed: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Both targets as float64 (N, K) arrays, after checking lengths and ``multioutput``."""
    arrays = []
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        a = _as_array(y, fn, name)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{fn}: {name} must be numbers, got dtype {a.dtype}")
        if a.ndim == 1:
            a = a.reshape(-1, 1)
        if a.ndim != 2:
            raise ValueError(f"{fn}: {name} must have shape (N,) or (N, K), got {a.shape}")
        arrays.append(a.astype(np.float64))
    yt, yp = arrays
    if len(yt) != len(yp):
        raise ValueError(
            f"{fn}: y_true and y_pred have different lengths ({len(yt)} and {len(yp)})"
        )
    if len(yt) == 0:
        raise ValueError(f"{fn}: y_true and y_pred are empty; need at least 1 sample")
    if yt.shape[1] != yp.shape[1]:
        raise ValueError(f"{fn}: y_true has {yt.shape[1]} outputs but y_pred has {yp.shape[1]}")
    if isinstance(multioutput, str):
        if multioutput not in allowed:
            raise ValueError(
                f"{fn}: multioutput={multioutput!r} is not one of "
                f"{', '.join(repr(a) for a in allowed)} or an array of weights"
            )
    elif np.shape(multioutput) != (yt.shape[1],):
        raise ValueError(
            f"{fn}: multioutput weights must have one entry per output ({yt.shape[1]}), got "
            f"shape {np.shape(multioutput)}"
        )
    return yt, yp


def _reduce(per_output: np.ndarray, multioutput: Any) -> Any:
    if isinstance(multioutput, str):
        if multioutput == "raw_values":
            return per_output
        return float(per_output.mean())
    return float(np.average(per_output, weights=np.asarray(multioutput, dtype=np.float64)))


_ALLOWED = ("raw_values", "uniform_average")


def mean_squared_error(y_true: Any, y_pred: Any, *, multioutput: Any = "uniform_average") -> Any:
    """Mean squared error ``(1/N) sum_i (y_i - ŷ_i)²``.

    Args:
        y_true: targets, shape (N,) or (N, K).
        y_pred: predictions, same shape.
        multioutput: ``'uniform_average'`` (mean over outputs, default), ``'raw_values'``
            (one value per output) or an array of K weights.

    Example:
        >>> mean_squared_error([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
        0.375
    """
    yt, yp = _check("mean_squared_error", y_true, y_pred, multioutput, _ALLOWED)
    return _reduce(((yt - yp) ** 2).mean(axis=0), multioutput)


def root_mean_squared_error(
    y_true: Any, y_pred: Any, *, multioutput: Any = "uniform_average"
) -> Any:
    """Root mean squared error ``sqrt((1/N) sum_i (y_i - ŷ_i)²)``, per output, then averaged.

    Arguments as :func:`mean_squared_error`.

    Example:
        >>> root_mean_squared_error([0.0, 0.0], [3.0, 4.0])
        3.5355339059327378
    """
    yt, yp = _check("root_mean_squared_error", y_true, y_pred, multioutput, _ALLOWED)
    return _reduce(np.sqrt(((yt - yp) ** 2).mean(axis=0)), multioutput)


def mean_absolute_error(y_true: Any, y_pred: Any, *, multioutput: Any = "uniform_average") -> Any:
    """Mean absolute error ``(1/N) sum_i |y_i - ŷ_i|``.

    Arguments as :func:`mean_squared_error`.

    Example:
        >>> mean_absolute_error([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
        0.5
    """
    yt, yp = _check("mean_absolute_error", y_true, y_pred, multioutput, _ALLOWED)
    return _reduce(np.abs(yt - yp).mean(axis=0), multioutput)


def r2_score(y_true: Any, y_pred: Any, *, multioutput: Any = "uniform_average") -> Any:
    """Coefficient of determination ``R² = 1 - SS_res / SS_tot`` with
    ``SS_res = sum (y_i - ŷ_i)²`` and ``SS_tot = sum (y_i - ȳ)²``.

    As scikit-learn: a constant ``y_true`` (``SS_tot = 0``) scores 1 if predicted exactly
    and 0 otherwise, and fewer than two samples give ``nan`` with a warning.

    Args:
        y_true: targets, shape (N,) or (N, K).
        y_pred: predictions, same shape.
        multioutput: ``'uniform_average'`` (default), ``'raw_values'``,
            ``'variance_weighted'`` (outputs weighted by their ``SS_tot``) or K weights.

    Example:
        >>> r2_score([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
        0.9486081370449679
    """
    allowed = (*_ALLOWED, "variance_weighted")
    yt, yp = _check("r2_score", y_true, y_pred, multioutput, allowed)
    if len(yt) < 2:
        warnings.warn(
            "r2_score: R² is not well-defined with fewer than two samples",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return float("nan")
    ss_res = ((yt - yp) ** 2).sum(axis=0)
    ss_tot = ((yt - yt.mean(axis=0)) ** 2).sum(axis=0)
    scores = np.ones(yt.shape[1])
    valid = (ss_tot != 0) & (ss_res != 0)
    scores[valid] = 1 - ss_res[valid] / ss_tot[valid]
    scores[(ss_res != 0) & (ss_tot == 0)] = 0.0
    if isinstance(multioutput, str) and multioutput == "variance_weighted":
        if not (ss_tot != 0).any():
            return float(scores.mean())
        return float(np.average(scores, weights=ss_tot))
    return _reduce(scores, multioutput)
