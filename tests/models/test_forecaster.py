"""LSTMForecaster: shapes, and beating the seasonal naive forecast on a held-out future."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
from experiments.forecasting import train_forecaster
from nnlab.models import LSTMForecaster

# Small GEMMs: see the fixture in tests/conftest.py.
pytestmark = pytest.mark.usefixtures("one_blas_thread")


def test_shapes():
    nnlab.manual_seed(0)
    assert LSTMForecaster(hidden_size=8, horizon=5)(nnlab.randn(3, 20)).shape == (3, 5)
    model = LSTMForecaster(input_size=2, hidden_size=8, num_layers=2, horizon=4)
    assert model(nnlab.randn(3, 20, 2)).shape == (3, 4, 2)
    with pytest.raises(ValueError):
        model(nnlab.randn(3, 20, 3))
    with pytest.raises(ValueError, match="horizon"):
        LSTMForecaster(horizon=0)


def test_beats_the_naive_forecasts_on_held_out_future():
    result = train_forecaster(n_steps=800, epochs=15, horizon=6, seed=0)
    lstm, seasonal, naive = result["lstm"], result["seasonal_naive"], result["naive"]
    assert lstm["mse"] < 0.5 * seasonal["mse"]
    assert lstm["mae"] < seasonal["mae"] < naive["mae"]
    assert np.isfinite(result["history"]["loss"]).all()
