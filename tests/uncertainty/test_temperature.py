"""Temperature scaling: it recovers the temperature that made calibrated logits
over-confident, agrees with a scipy minimisation of the same NLL, and never changes the
argmax."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

import nnlab
from nnlab.uncertainty import TemperatureScaling


def _calibrated_logits(n: int, t_true: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits z whose softmax is the labels' true distribution (labels are drawn from it),
    returned multiplied by ``t_true``: dividing them by T = t_true calibrates them again."""
    rng = np.random.default_rng(seed)
    z = 2.0 * rng.standard_normal((n, 5))
    p = np.exp(log_softmax(z, axis=1))
    y = (rng.uniform(size=(n, 1)) > p.cumsum(axis=1)).sum(axis=1)
    return z * t_true, y


def _nll(logits: np.ndarray, y: np.ndarray, t: float) -> float:
    return float(-log_softmax(logits / t, axis=1)[np.arange(len(y)), y].mean())


def test_recovers_the_known_temperature() -> None:
    logits, y = _calibrated_logits(20_000, 2.5, seed=0)
    scaler = TemperatureScaling().fit(logits, y)
    # the NLL's minimiser is a consistent estimate of 2.5; at N = 20000 its spread over
    # seeds is about 0.015 (0.04 at N = 8000)
    assert scaler.temperature.item() == pytest.approx(2.5, abs=0.1)


def test_matches_scipy_minimisation() -> None:
    logits, y = _calibrated_logits(2000, 0.6, seed=1)
    scaler = TemperatureScaling().fit(nnlab.tensor(logits), nnlab.tensor(y))
    best = minimize_scalar(
        lambda t: _nll(logits, y, t), bounds=(0.05, 20.0), method="bounded", options={"xatol": 1e-8}
    )
    assert scaler.temperature.item() == pytest.approx(best.x, rel=1e-5)
    assert _nll(logits, y, scaler.temperature.item()) <= best.fun + 1e-10


def test_forward_divides_and_keeps_argmax() -> None:
    logits, y = _calibrated_logits(500, 3.0, seed=2)
    scaler = TemperatureScaling().fit(logits, y)
    scaled = scaler(nnlab.tensor(logits)).detach().numpy()
    np.testing.assert_allclose(scaled, logits / scaler.temperature.item(), rtol=1e-6)
    assert (scaled.argmax(1) == logits.argmax(1)).all()


def test_gradient_reaches_the_temperature() -> None:
    scaler = TemperatureScaling(2.0)
    (scaler(nnlab.tensor([[1.0, 3.0]])).sum()).backward()
    # d/dT Σ z/T = −Σ z / T² = −4 / 4
    assert scaler.temperature.grad.item() == pytest.approx(-1.0)


@pytest.mark.parametrize(
    ("logits", "labels", "message"),
    [
        (np.zeros((3, 2)), np.array([0, 1, 2]), r"labels must lie in \[0, 2\)"),
        (np.zeros((3, 2)), np.array([0, 1]), r"labels must be \(N,\)"),
        (np.zeros(3), np.array([0, 1, 1]), r"logits must be \(N, C\)"),
        (np.zeros((2, 2)), np.array([0.5, 1.0]), "labels must be integers"),
    ],
)
def test_bad_input_is_a_clear_error(logits, labels, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TemperatureScaling().fit(logits, labels)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        TemperatureScaling(0.0)
