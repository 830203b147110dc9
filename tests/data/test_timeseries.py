"""Seasonal series, sliding windows and the seasonal naive baseline."""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.data.datasets import (
    forecast_errors,
    make_seasonal_series,
    make_windows,
    naive_forecast,
)


def test_series_shape_determinism_and_components():
    y = make_seasonal_series(480, period=24, trend=0.05, noise=0.2, seed=0)
    assert y.shape == (480,) and y.dtype == np.float32
    np.testing.assert_array_equal(y, make_seasonal_series(480, 24, 0.05, 0.2, seed=0))
    assert not np.array_equal(y, make_seasonal_series(480, 24, 0.05, 0.2, seed=1))
    clean = make_seasonal_series(480, period=24, trend=0.05, noise=0.0, seed=0)
    detrended = clean - 0.05 * np.arange(480)
    np.testing.assert_allclose(detrended[24:], detrended[:-24], atol=1e-4)  # one period
    assert np.std(y - clean) == pytest.approx(0.2, rel=0.1)


def test_windows_shapes_and_alignment():
    series = np.arange(20, dtype=np.float32)
    X, y = make_windows(series, input_len=5, horizon=3)
    assert X.shape == (13, 5) and y.shape == (13, 3)
    np.testing.assert_array_equal(X[4], np.arange(4, 9))
    np.testing.assert_array_equal(y[4], np.arange(9, 12))
    Xs, ys = make_windows(series, input_len=5, horizon=3, stride=4)
    assert Xs.shape == (4, 5) and (Xs[:, 0] == [0, 4, 8, 12]).all()
    multi = np.stack([series, -series], axis=1)
    Xm, ym = make_windows(multi, input_len=4, horizon=2)
    assert Xm.shape == (15, 4, 2) and ym.shape == (15, 2, 2)
    with pytest.raises(ValueError, match="shorter"):
        make_windows(series, input_len=18, horizon=3)


def test_seasonal_naive_is_exact_on_a_pure_season_and_beats_naive_with_noise():
    pure = make_seasonal_series(200, period=12, trend=0.0, noise=0.0, seed=0)
    X, y = make_windows(pure, input_len=24, horizon=18)
    np.testing.assert_allclose(naive_forecast(X, 18, period=12), y, atol=1e-5)
    noisy = make_seasonal_series(400, period=12, trend=0.0, noise=0.1, seed=0)
    X, y = make_windows(noisy, input_len=24, horizon=6)
    seasonal = forecast_errors(y, naive_forecast(X, 6, period=12))
    last_value = forecast_errors(y, naive_forecast(X, 6, period=1))
    assert seasonal["mae"] < 0.5 * last_value["mae"]
    assert seasonal["rmse"] >= seasonal["mae"]
    scaled = forecast_errors(y, naive_forecast(X, 6, period=12), scale=seasonal["mae"])
    assert scaled["mase"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="input_len >= period"):
        naive_forecast(X, 6, period=30)
