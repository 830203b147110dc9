"""Forecasting a time series with an LSTM, and the baseline it has to beat.

An :class:`LSTMForecaster` reads a window of the last L values and predicts the next
``horizon`` values at once ("direct multi-step" forecasting): the LSTM's last hidden
state summarises the window and a linear head maps it to the H future values::

    h_L = LSTM(x₁ … x_L)[last],     ŷ_{L+1 … L+H} = W h_L + b

Two details decide whether it works on a series with a trend:

- **Per-window level.** A network trained on the past never saw the levels a trending
  series reaches in the future. Feed it each window minus its own last value and add that
  value back to the forecast, so that it predicts *changes*, which look the same at every
  level (what RevIN and DeepAR's scaling do, in their simplest form).
- **The baseline.** On seasonal data the seasonal naive forecast ("the value one period
  ago", :func:`~nnlab.data.datasets.naive_forecast`) is hard to beat; a model is only
  useful if its error on the held-out *future* is lower. Windows are cut after the split
  in time, never across it.

The repository's ``experiments/forecasting.py`` does both on a seasonal series with a trend.
"""

from __future__ import annotations

import numpy as np

from nnlab import nn
from nnlab.nn.module import Module
from nnlab.tensor import Tensor

__all__ = ["LSTMForecaster"]


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
