"""Forecasting: a seasonal series, sliding windows over it, and the baseline to beat.

A forecasting model reads the last ``input_len`` values of a series and predicts the next
``horizon`` ones. Before trusting any model, compare it with the **seasonal naive**
forecast, "the future repeats the last season": ``ŷ[t + h] = y[t + h - m·k]`` with ``m``
the period and ``k`` the smallest whole number of periods that reaches back into the
known past. On strongly seasonal data it is hard to beat, and a network that does not beat
it has learned nothing useful (Hyndman & Athanasopoulos, *Forecasting: Principles and
Practice*, §5.2).

Windows must be cut *after* splitting the series in time (train on the past, test on the
future), never shuffled across the split: neighbouring windows share values.
"""

from __future__ import annotations

import math

import numpy as np

from nnlab.data.preprocessing import _seeded_rng
from nnlab.random import Generator

__all__ = ["make_seasonal_series", "make_windows", "naive_forecast", "forecast_errors"]


def _check_int(fn: str, name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{fn}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def make_seasonal_series(
    n_steps: int = 1000,
    period: int = 24,
    trend: float = 0.01,
    noise: float = 0.1,
    *,
    amplitude: float = 1.0,
    seed: int | None = None,
    generator: Generator | None = None,
) -> np.ndarray:
    """A trend plus a season plus noise:

    ``y[t] = trend · t + amplitude · (sin(2πt/m) + 0.5 sin(4πt/m + 1)) + noise · ε[t]``

    with ``m = period`` and ε standard normal (the second harmonic makes the season's
    shape not a plain sine, so a model has to learn it).

    Args:
        n_steps: length of the series (default: 1000).
        period: the season's length m in steps, >= 2 (default: 24, "hourly data, daily
            cycle").
        trend: the slope per step (default: 0.01).
        noise: the standard deviation of the noise (default: 0.1).
        amplitude: the season's scale (default: 1).
        seed, generator: an int seed, or a Generator to draw from (default: the global
            generator).

    Returns:
        float32 array of shape (n_steps,).

    Example:
        >>> y = make_seasonal_series(48, period=12, trend=0.0, noise=0.0, seed=0)
        >>> y.shape, bool(np.allclose(y[:12], y[12:24], atol=1e-6))
        ((48,), True)
    """
    fn = "make_seasonal_series"
    n_steps = _check_int(fn, "n_steps", n_steps, 1)
    period = _check_int(fn, "period", period, 2)
    if not noise >= 0:
        raise ValueError(f"{fn}: noise must be >= 0, got {noise}")
    rng = _seeded_rng(fn, seed, generator)
    t = np.arange(n_steps, dtype=np.float64)
    phase = 2 * math.pi * t / period
    season = amplitude * (np.sin(phase) + 0.5 * np.sin(2 * phase + 1.0))
    y = trend * t + season + noise * rng.standard_normal(n_steps)
    return y.astype(np.float32)


def make_windows(
    series: np.ndarray, input_len: int, horizon: int = 1, stride: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Sliding (input, target) windows: window i reads ``series[s : s + input_len]`` and
    targets ``series[s + input_len : s + input_len + horizon]``, with ``s = i · stride``.

    Args:
        series: shape (T,) or (T, C) for C channels.
        input_len: steps the model reads, >= 1.
        horizon: steps it predicts, >= 1 (default: 1).
        stride: steps between window starts (default: 1).

    Returns:
        ``(X, y)``: X (N, input_len[, C]) and y (N, horizon[, C]) in the series' dtype, with
        ``N = (T - input_len - horizon) // stride + 1``.

    Example:
        >>> X, y = make_windows(np.arange(6), input_len=3, horizon=2)
        >>> X.tolist(), y.tolist()
        ([[0, 1, 2], [1, 2, 3]], [[3, 4], [4, 5]])
    """
    s = np.asarray(series)
    if s.ndim not in (1, 2):
        raise ValueError(f"make_windows: series must be (T,) or (T, C), got shape {s.shape}")
    input_len = _check_int("make_windows", "input_len", input_len, 1)
    horizon = _check_int("make_windows", "horizon", horizon, 1)
    stride = _check_int("make_windows", "stride", stride, 1)
    span = input_len + horizon
    if len(s) < span:
        raise ValueError(
            f"make_windows: a series of {len(s)} steps is shorter than input_len + horizon = {span}"
        )
    starts = np.arange(0, len(s) - span + 1, stride)
    X = s[starts[:, None] + np.arange(input_len)]
    y = s[starts[:, None] + input_len + np.arange(horizon)]
    return X, y


def naive_forecast(X: np.ndarray, horizon: int, period: int = 1) -> np.ndarray:
    """The seasonal naive forecast from input windows: step h (0-based) of the forecast is
    the value one whole number of periods earlier, ``X[:, L - m + (h mod m)]`` with
    ``L = input_len`` and ``m = period``. ``period=1`` repeats the last value (the plain
    naive forecast, a random walk's best guess).

    Args:
        X: input windows (N, input_len[, C]).
        horizon: steps to forecast.
        period: the season's length m, at most input_len (default: 1).

    Returns:
        Forecasts of shape (N, horizon[, C]).

    Example:
        >>> X = np.array([[1.0, 2.0, 3.0, 1.0, 2.0, 3.0]])
        >>> naive_forecast(X, horizon=4, period=3).tolist()
        [[1.0, 2.0, 3.0, 1.0]]
    """
    X = np.asarray(X)
    horizon = _check_int("naive_forecast", "horizon", horizon, 1)
    period = _check_int("naive_forecast", "period", period, 1)
    if X.ndim < 2 or X.shape[1] < period:
        raise ValueError(
            f"naive_forecast: X must be (N, input_len[, C]) with input_len >= period "
            f"= {period}, got shape {X.shape}"
        )
    length = X.shape[1]
    cols = length - period + np.arange(horizon) % period
    return X[:, cols]


def forecast_errors(
    y_true: np.ndarray, y_pred: np.ndarray, scale: float | None = None
) -> dict[str, float]:
    """MAE, RMSE and, given a ``scale``, MASE = MAE / scale (Hyndman's mean absolute
    scaled error; pass the seasonal naive MAE, so MASE < 1 means "beats the baseline").

    Example:
        >>> forecast_errors(np.array([1.0, 2.0]), np.array([1.0, 4.0]), scale=2.0)
        {'mae': 1.0, 'rmse': 1.4142135623730951, 'mase': 0.5}
    """
    err = np.asarray(y_pred, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)
    out = {"mae": float(np.abs(err).mean()), "rmse": float(np.sqrt((err**2).mean()))}
    if scale is not None:
        out["mase"] = out["mae"] / float(scale)
    return out
