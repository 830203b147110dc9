"""Forecasting a seasonal series with a trend: does an LSTM beat the naive forecasts?

An :class:`~nnlab.models.LSTMForecaster` is fitted on the past of a series from
:func:`~nnlab.data.datasets.make_seasonal_series` and scored on its held-out future
against the seasonal naive forecast (the value one period earlier) and the naive one (the
last value). Each window is fed minus its own last value, which is added back to the
forecast, so the network predicts changes and a trend that leaves the training levels
does not leave what it learned (see :mod:`nnlab.models.forecasting`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from experiments.lab.core import Run, experiment
from nnlab import Tensor, manual_seed, no_grad, optim
from nnlab.data.datasets import (
    forecast_errors,
    make_seasonal_series,
    make_windows,
    naive_forecast,
)
from nnlab.models import LSTMForecaster
from nnlab.train import fit

__all__ = ["train_forecaster"]


def train_forecaster(
    n_steps: int = 1200,
    period: int = 24,
    input_len: int = 48,
    horizon: int = 12,
    test_fraction: float = 0.2,
    hidden_size: int = 32,
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 1e-2,
    noise: float = 0.1,
    trend: float = 0.01,
    seed: int = 0,
    verbose: bool = False,
) -> dict[str, Any]:
    """Fit an :class:`LSTMForecaster` on the past of a seasonal series and compare it
    with the naive forecasts on the held-out future.

    The series (:func:`~nnlab.data.datasets.make_seasonal_series`) is split in time; the
    test windows' inputs may reach back into the training part, their targets never do.
    Each window is shifted by its last value (see the module docstring) and scaled by the
    training part's standard deviation.

    Args:
        n_steps, period, noise, trend: the series (defaults: 1200, 24, 0.1, 0.01).
        input_len, horizon: window and forecast lengths (defaults: 48, 12).
        test_fraction: the held-out tail (default: 0.2).
        hidden_size, epochs, batch_size, lr: the model and Adam (defaults: 32, 30, 32,
            1e-2; the rate is cosine-annealed to zero).
        seed: seeds the series, the initialisation and the shuffling (default: 0).
        verbose: print training progress.

    Returns:
        A dict of test errors (each ``{"mae", "rmse", "mse"}``): ``lstm``,
        ``seasonal_naive`` (the value one period earlier) and ``naive`` (the last value),
        plus ``train_seconds``, ``history`` and ``model`` (the trained forecaster).

    Example:
        >>> r = train_forecaster(n_steps=400, epochs=2)  # doctest: +SKIP
        >>> r["lstm"]["mse"] < r["seasonal_naive"]["mse"]  # doctest: +SKIP
        True
    """
    manual_seed(seed)
    series = make_seasonal_series(n_steps, period=period, trend=trend, noise=noise, seed=seed)
    split = int(n_steps * (1 - test_fraction))
    x_train, y_train = make_windows(series[:split], input_len, horizon)
    x_test, y_test = make_windows(series[split - input_len :], input_len, horizon)
    scale = float(series[:split].std())

    def inputs(x: np.ndarray) -> np.ndarray:
        return ((x - x[:, -1:]) / scale).astype(np.float32)

    def targets(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return ((y - x[:, -1:]) / scale).astype(np.float32)

    model = LSTMForecaster(1, hidden_size, horizon=horizon)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    steps = epochs * -(-len(x_train) // batch_size)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    start = time.perf_counter()
    history = fit(
        model, "mse", optimizer, (inputs(x_train), targets(x_train, y_train)), epochs=epochs,
        batch_size=batch_size, scheduler=scheduler, scheduler_interval="step", grad_clip=1.0,
        verbose=verbose,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    model.eval()
    with no_grad():
        pred = model(Tensor(inputs(x_test))).numpy() * scale + x_test[:, -1:]

    def errors(p: np.ndarray) -> dict[str, float]:
        e = forecast_errors(y_test, p)
        e["mse"] = e["rmse"] ** 2
        return e

    return {
        "lstm": errors(pred),
        "seasonal_naive": errors(naive_forecast(x_test, horizon, period)),
        "naive": errors(naive_forecast(x_test, horizon, 1)),
        "train_seconds": seconds,
        "history": history,
        "model": model,
    }


@experiment(
    "lstm-forecast",
    answers=["recurrent-networks"],
    quick=dict(n_steps=500, epochs=6, n_seeds=1),
    full=dict(n_steps=1200, epochs=30, n_seeds=3),
)
def lstm_forecast(run: Run, n_steps: int, epochs: int, n_seeds: int) -> None:
    """Does an LSTM forecast a trending seasonal series better than the naive forecasts?"""
    names = ("lstm", "seasonal_naive", "naive")
    mse = {name: [] for name in names}
    for seed in run.seeds(n_seeds):
        result = train_forecaster(n_steps=n_steps, epochs=epochs, seed=seed)
        for name in names:
            mse[name].append(result[name]["mse"])
    mean = {name: float(np.mean(v)) for name, v in mse.items()}
    run.table(
        f"Held-out mean squared error ({n_seeds} seeds)",
        ("forecast", "mean MSE", "min", "max"),
        [(n, round(mean[n], 4), round(min(mse[n]), 4), round(max(mse[n]), 4)) for n in names],
    )
    for name in names:
        run.number(f"{name}_mse", round(mean[name], 5))
    fig = run.figure("errors", "Held-out MSE of each forecast, per seed")
    ax = fig.subplots()
    for i, name in enumerate(names):
        ax.scatter([i] * len(mse[name]), mse[name])
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("mean squared error")
    ratio = mean["lstm"] / mean["seasonal_naive"]
    run.claim(
        "The LSTM's held-out MSE is below the seasonal naive forecast's",
        ratio < 1.0,
        f"LSTM / seasonal naive MSE {ratio:.3f}",
        quick=False,
    )
    run.claim(
        "The LSTM's held-out MSE is below the last-value forecast's",
        mean["lstm"] < mean["naive"],
        f"LSTM {mean['lstm']:.4f} vs last value {mean['naive']:.4f}",
    )
    run.answer(
        f"On the held-out future of a trending seasonal series the LSTM's mean squared "
        f"error was {mean['lstm']:.3f}, against {mean['seasonal_naive']:.3f} for repeating "
        f"the last period and {mean['naive']:.3f} for repeating the last value "
        f"({n_seeds} seeds)."
    )
