"""Loss-landscape slices against closed forms on a quadratic loss, filter normalisation by
its definition (each filter's norm equals the weights'), and the model restored bit for bit
after every slice, even when the loss raises."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.analysis.landscape import (
    filter_normalize,
    filter_normalized_direction,
    linear_interpolation,
    loss_barrier,
    loss_slice_1d,
    loss_surface_2d,
    random_direction,
)

A = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, -0.3], [0.0, -0.3, 3.0]])
THETA = np.array([0.3, -1.0, 0.7])
DATA = (np.zeros((1, 1)), np.zeros(1))


class Point(nn.Module):
    """A model that is its parameter, so that the loss is a function of θ alone."""

    def __init__(self, theta: np.ndarray) -> None:
        super().__init__()
        self.theta = nn.Parameter(nnlab.tensor(theta))

    def forward(self, x: nnlab.Tensor) -> nnlab.Tensor:
        return self.theta


def quadratic(out: nnlab.Tensor, _: nnlab.Tensor) -> nnlab.Tensor:
    """½ θᵀAθ."""
    return 0.5 * (out * (nnlab.tensor(A) @ out)).sum()


def half_quadratic(theta: np.ndarray) -> float:
    return 0.5 * theta @ A @ theta


def test_1d_slice_of_a_quadratic() -> None:
    d = np.array([1.0, 2.0, -0.5])
    alphas = np.linspace(-2, 2, 9)
    found = loss_slice_1d(Point(THETA), quadratic, DATA, [d], alphas)
    np.testing.assert_allclose(found, [half_quadratic(THETA + a * d) for a in alphas], rtol=1e-13)


def test_2d_surface_of_a_quadratic() -> None:
    d1, d2 = np.array([1.0, 0.0, 1.0]), np.array([0.0, -1.0, 0.5])
    alphas, betas = np.linspace(-1, 1, 5), np.linspace(-2, 2, 3)
    found = loss_surface_2d(Point(THETA), quadratic, DATA, [d1], [d2], alphas, betas)
    expected = [[half_quadratic(THETA + a * d1 + b * d2) for b in betas] for a in alphas]
    assert found.shape == (5, 3)
    np.testing.assert_allclose(found, expected, rtol=1e-13)


def test_interpolation_of_a_quadratic_and_its_barrier() -> None:
    """On a convex loss the path lies under the chord: the barrier is 0 (at the ends)."""
    other = np.array([-1.0, 0.5, 0.2])
    ts = np.linspace(-0.5, 1.5, 9)
    model = Point(THETA)
    result = linear_interpolation(
        model, quadratic, DATA, {"theta": THETA}, {"theta": nnlab.tensor(other)}, ts
    )
    expected = [half_quadratic((1 - t) * THETA + t * other) for t in ts]
    np.testing.assert_allclose(result.losses, expected, rtol=1e-13)
    assert result.accuracies is None
    assert loss_barrier(ts, result.losses) == 0.0
    assert loss_barrier([0, 0.25, 0.5, 1], [1.0, 2.0, 3.0, 0.0]) == pytest.approx(2.5)


def conv_net() -> nn.Module:
    nnlab.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 5)
    )


def test_each_filter_has_the_norm_of_the_weights_filter() -> None:
    model = conv_net()
    direction = filter_normalized_direction(model, generator=nnlab.random.Generator(0))
    for d, p in zip(direction, model.parameters()):
        w = p.detach().numpy()
        assert d.shape == w.shape and d.dtype == w.dtype
        if w.ndim == 1:  # biases and BatchNorm's scale and shift are not moved
            np.testing.assert_array_equal(d, 0)
            continue
        axes = tuple(range(1, w.ndim))
        np.testing.assert_allclose(np.sqrt((d**2).sum(axes)), np.sqrt((w**2).sum(axes)), rtol=1e-5)
    kept = filter_normalize(random_direction(model), model, ignore=None)
    for d, p in zip(kept, model.parameters()):
        if p.ndim == 1:
            np.testing.assert_array_equal(d, p.detach().numpy())


def test_filter_normalisation_keeps_the_direction_of_each_filter() -> None:
    w = np.array([[3.0, 4.0], [0.0, 1.0]])
    d = np.array([[1.0, 0.0], [2.0, 2.0]])
    (found,) = filter_normalize([d], [w])
    np.testing.assert_allclose(found, [[5.0, 0.0], [np.sqrt(0.5), np.sqrt(0.5)]])


def classifier_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((16, 2, 4, 4)).astype(np.float32), rng.integers(0, 5, 16)


def snapshot(model: nn.Module) -> list[tuple[str, np.ndarray, np.ndarray]]:
    return [(k, t.array, t.array.copy()) for k, t in model.state_dict().items()]


def assert_restored(model: nn.Module, before: list) -> None:
    for (key, array, copy), (k2, t) in zip(before, model.state_dict().items()):
        assert key == k2 and t.array is array  # the same storage...
        np.testing.assert_array_equal(t.array, copy, strict=True)  # ...with the same bits
    assert all(m.training for m in model.modules())


def test_weights_buffers_and_modes_are_restored_bit_for_bit() -> None:
    model = conv_net()
    model.train()
    x, y = classifier_data()
    before = snapshot(model)
    d1 = filter_normalized_direction(model)
    d2 = filter_normalized_direction(model)
    loss_slice_1d(model, F.cross_entropy, (x, y), d1, np.linspace(-1, 1, 3) / 3)
    assert_restored(model, before)
    loss_surface_2d(model, F.cross_entropy, [(x[:5], y[:5]), (x[5:], y[5:])], d1, d2,
                    [-0.1, 0.3], [0.7])  # fmt: skip
    assert_restored(model, before)
    state_a = {k: t.array.copy() for k, t in model.state_dict().items()}
    state_b = {k: v + 0.1 if v.dtype.kind == "f" else v for k, v in state_a.items()}
    result = linear_interpolation(
        model, F.cross_entropy, (x, y), state_a, state_b, [0.0, 1 / 3, 1.0], accuracy=True
    )
    assert_restored(model, before)

    def failing(out: nnlab.Tensor, target: nnlab.Tensor) -> nnlab.Tensor:
        raise ArithmeticError("boom")

    with pytest.raises(ArithmeticError):
        loss_slice_1d(model, failing, (x, y), d1, [0.5])
    assert_restored(model, before)
    # t = 0 is model a itself: its accuracy, measured directly
    model.eval()
    with nnlab.no_grad():
        direct = float((model(nnlab.tensor(x)).numpy().argmax(1) == y).mean())
    assert result.accuracies[0] == direct


def test_errors_name_the_problem() -> None:
    model = conv_net()
    x, y = classifier_data()
    direction = random_direction(model)
    with pytest.raises(ValueError, match=r"direction\[4\] has shape \(2,\) but parameter 4"):
        loss_slice_1d(model, F.cross_entropy, (x, y),
                      direction[:4] + [np.zeros(2)] + direction[5:], [0.0])  # fmt: skip
    with pytest.raises(ValueError, match="d2 has 1 arrays but the model has 6 parameters"):
        loss_surface_2d(model, F.cross_entropy, (x, y), direction, direction[:1], [0], [0])
    with pytest.raises(ValueError, match=r"one-element \(mean\) loss, got shape \(16,\)"):
        loss_slice_1d(model, lambda o, t: F.cross_entropy(o, t, reduction="none"), (x, y),
                      direction, [0.0])  # fmt: skip
    state = {k: t.array.copy() for k, t in model.state_dict().items()}
    partial = {k: v for k, v in state.items() if k != "4.bias"}
    with pytest.raises(ValueError, match=r"state_b does not match .*missing keys \['4.bias'\]"):
        linear_interpolation(model, F.cross_entropy, (x, y), state, partial, [0.5])
    with pytest.raises(ValueError, match="ts must contain both 0 and 1"):
        loss_barrier([0.0, 0.5], [1.0, 2.0])
