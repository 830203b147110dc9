"""Forecasting a time series with an LSTM, and the baseline it has to beat.

An :class:`LSTMForecaster` reads a window of the last L values and predicts the next
``horizon`` values at once ("direct multi-step" forecasting): the LSTM's last hidden
state summarises the window and a linear head maps it to the H future values::

    h_L = LSTM(x₁ … x_L)[last],     ŷ_{L+1 … L+H} = W h_L + b

Two details decide whether it works on a series with a trend:

- **Per-window level.** A network trained on the past never saw the levels a trending
  series reaches in the future. :func:`train_forecaster` therefore feeds each window
  minus its own last value and adds that value back to the forecast, so the network
  predicts *changes*, which look the same at every level (what RevIN and DeepAR's scaling
  do, in their simplest form).
- **The baseline.** On seasonal data the seasonal naive forecast ("the value one period
  ago", :func:`~nnlab.data.datasets.naive_forecast`) is hard to beat; a model is only
  useful if its error on the held-out *future* is lower. Windows are cut after the split
  in time, never across it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from nnlab import nn, optim
from nnlab.autograd.grad_mode import no_grad
from nnlab.data.datasets.timeseries import (
    forecast_errors,
    make_seasonal_series,
    make_windows,
    naive_forecast,
)
from nnlab.nn.module import Module
from nnlab.random import manual_seed
from nnlab.tensor import Tensor
from nnlab.train.trainer import fit

__all__ = ["LSTMForecaster", "train_forecaster"]


class LSTMForecaster(Module):
    """LSTM over the window, then a linear head from the last hidden state to ``horizon``
    future values of every channel.

    Children: ``lstm`` (:class:`~nnlab.nn.LSTM`, batch first) and ``head``
    (Linear(hidden_size, horizon · input_size)).

    Args:
        input_size: channels C of the series (default: 1).
        hidden_size: LSTM state size (default: 64).
        num_layers: stacked LSTM layers (default: 1).
        horizon: future steps H predicted at once (default: 1).
        dropout: dropout between stacked layers (default: 0.0).

    Shape:
        - Input: (N, L) for a single channel, or (N, L, C).
        - Output: (N, H) for a (N, L) input, else (N, H, C).

    Example:
        >>> import nnlab
        >>> model = LSTMForecaster(hidden_size=8, horizon=3)
        >>> model(nnlab.randn(4, 24)).shape
        nnlab.Size([4, 3])
        >>> LSTMForecaster(input_size=2, hidden_size=8, horizon=3)(nnlab.randn(4, 24, 2)).shape
        nnlab.Size([4, 3, 2])
    """

    def __init__(
        self,
        input_size: int = 1,
        hidden_size: int = 64,
        num_layers: int = 1,
        horizon: int = 1,
        dropout: float = 0.0,
    ) -> None:
        if horizon < 1:
            raise ValueError(f"LSTMForecaster: horizon must be >= 1, got {horizon}")
        super().__init__()
        self.input_size, self.hidden_size, self.horizon = input_size, hidden_size, horizon
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True,
                            dropout=dropout)  # fmt: skip
        self.head = nn.Linear(hidden_size, horizon * input_size)

    def forward(self, x: Tensor) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.float32))
        squeeze = x.ndim == 2 and self.input_size == 1
        if squeeze:
            x = x.unsqueeze(-1)
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise self.shape_error(f"x (N, L, {self.input_size}) or (N, L)", x.shape)
        _, (h_n, _) = self.lstm(x)
        y = self.head(h_n[-1])
        return y if squeeze else y.reshape(x.shape[0], self.horizon, self.input_size)

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, horizon={self.horizon}"


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
