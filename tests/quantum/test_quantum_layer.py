"""The parameter-shift layer: gradients equal float64 central finite differences (and
gradcheck), a batch equals its samples one by one, float32 follows float64, the layer trains
inside an ordinary model, bad shapes and qubit counts raise clear errors, and the cost model
counts the circuits the backward pass really simulates."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.autograd import gradcheck
from nnlab.nn.module import ShapeError
from nnlab.quantum import layer as layer_module
from nnlab.quantum.cost import circuit_cost
from nnlab.quantum.layer import QuantumLayer, variational_circuit
from nnlab.quantum.templates import qnn_expvals

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def _data(n_qubits, n_layers, k, batch, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, math.pi, (batch, k)), rng.uniform(0, 2 * math.pi, (n_layers, n_qubits, 3))


def _central_differences(f, value: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """∂f/∂value by (f(v + h) − f(v − h)) / 2h, one entry at a time (f returns a scalar)."""
    grad = np.zeros_like(value)
    for i in np.ndindex(value.shape):
        up, down = value.copy(), value.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up) - f(down)) / (2 * h)
    return grad


@pytest.mark.parametrize("n_qubits, n_layers, k", [(1, 1, 1), (2, 2, 2), (3, 2, 2), (4, 1, 4)])
def test_parameter_shift_equals_central_finite_differences(n_qubits, n_layers, k):
    features, weights = _data(n_qubits, n_layers, k, batch=3, seed=n_qubits)
    upstream = np.random.default_rng(99).standard_normal((3, n_qubits))

    def loss(x, w):
        return float((qnn_expvals(x, w, n_qubits) * upstream).sum())

    x = nnlab.tensor(features, dtype=nnlab.float64, requires_grad=True)
    w = nnlab.tensor(weights, dtype=nnlab.float64, requires_grad=True)
    (variational_circuit(x, w) * nnlab.tensor(upstream, dtype=nnlab.float64)).sum().backward()
    fd_w = _central_differences(lambda v: loss(features, v), weights)
    fd_x = _central_differences(lambda v: loss(v, weights), features)
    # central differences are off by h²/6 · f''' ≈ 1e-11 here, plus rounding ε/h ≈ 1e-11
    np.testing.assert_allclose(w.grad.numpy(), fd_w, rtol=0, atol=1e-8)
    np.testing.assert_allclose(x.grad.numpy(), fd_x, rtol=0, atol=1e-8)


def test_gradcheck_float64():
    features, weights = _data(3, 2, 3, batch=2, seed=3)
    x = nnlab.tensor(features, dtype=nnlab.float64, requires_grad=True)
    w = nnlab.tensor(weights, dtype=nnlab.float64, requires_grad=True)
    assert gradcheck(lambda a, b: variational_circuit(a, b, rotation="Y"), (x, w))


def test_a_batch_equals_its_samples_one_by_one():
    features, weights = _data(3, 2, 3, batch=5, seed=4)
    upstream = np.random.default_rng(5).standard_normal((5, 3))
    w = nnlab.tensor(weights, dtype=nnlab.float64, requires_grad=True)
    x = nnlab.tensor(features, dtype=nnlab.float64, requires_grad=True)
    y = variational_circuit(x, w)
    (y * nnlab.tensor(upstream, dtype=nnlab.float64)).sum().backward()
    batch_w_grad, w.grad = w.grad.numpy().copy(), None
    total = np.zeros_like(weights)
    for b in range(5):
        xb = nnlab.tensor(features[b : b + 1], dtype=nnlab.float64, requires_grad=True)
        yb = variational_circuit(xb, w)
        (yb * nnlab.tensor(upstream[b : b + 1], dtype=nnlab.float64)).sum().backward()
        np.testing.assert_allclose(yb.detach().numpy(), y.detach().numpy()[b : b + 1], atol=1e-14)
        np.testing.assert_allclose(xb.grad.numpy(), x.grad.numpy()[b : b + 1], atol=1e-14)
        total += w.grad.numpy()
        w.grad = None
    np.testing.assert_allclose(batch_w_grad, total, atol=1e-13)


def test_chunking_does_not_change_the_result(monkeypatch):
    features, weights = _data(3, 1, 3, batch=4, seed=6)
    x = nnlab.tensor(features, dtype=nnlab.float64, requires_grad=True)
    w = nnlab.tensor(weights, dtype=nnlab.float64, requires_grad=True)
    variational_circuit(x, w).sum().backward()
    expected = (x.grad.numpy().copy(), w.grad.numpy().copy())
    x.grad = w.grad = None
    monkeypatch.setattr(layer_module, "_AMPLITUDES_PER_CHUNK", 2**3)  # one circuit at a time
    variational_circuit(x, w).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), expected[0], atol=1e-15)
    np.testing.assert_allclose(w.grad.numpy(), expected[1], atol=1e-15)


def test_float32_follows_float64():
    features, weights = _data(2, 2, 2, batch=4, seed=7)
    grads = {}
    for dtype in (nnlab.float32, nnlab.float64):
        x = nnlab.tensor(features, dtype=dtype, requires_grad=True)
        w = nnlab.tensor(weights, dtype=dtype, requires_grad=True)
        y = variational_circuit(x, w)
        y.sum().backward()
        assert y.dtype == dtype and x.grad.dtype == dtype and w.grad.dtype == dtype
        grads[dtype] = (y.detach().numpy(), x.grad.numpy(), w.grad.numpy())
    for a, b in zip(grads[nnlab.float32], grads[nnlab.float64]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


def test_layer_shapes_state_dict_and_init():
    nnlab.manual_seed(0)
    layer = QuantumLayer(n_qubits=4, n_layers=3, in_features=2)
    assert list(layer.state_dict()) == ["weights"]
    assert layer.weights.shape == (3, 4, 3) and layer.num_parameters() == 36
    w = layer.weights.detach().numpy()
    assert w.min() >= 0 and w.max() < 2 * math.pi
    assert layer(nnlab.rand(5, 2)).shape == (5, 4)
    single = nnlab.rand(2)
    out = layer(single)
    assert out.shape == (4,)
    np.testing.assert_allclose(out.detach().numpy(), layer(single.unsqueeze(0))[0].detach().numpy())
    assert "ranges=(1, 2, 3)" in repr(layer)


def test_no_gradient_is_computed_for_inputs_that_need_none(monkeypatch):
    layer = QuantumLayer(3, 1, dtype=nnlab.float64)
    calls = []
    real = layer_module.qnn_expvals
    monkeypatch.setattr(
        layer_module, "qnn_expvals", lambda x, *a: calls.append(len(x)) or real(x, *a)
    )
    layer(nnlab.rand(2, 3, dtype=nnlab.float64)).sum().backward()
    cost = circuit_cost(3, 1, batch_size=2, input_grad=False)
    assert sum(calls) == cost.forward_circuits + cost.backward_circuits == 2 + 2 * 9 * 2


def test_the_cost_model_counts_the_simulated_circuits(monkeypatch):
    calls = []
    real = layer_module.qnn_expvals
    monkeypatch.setattr(
        layer_module, "qnn_expvals", lambda x, *a: calls.append(len(x)) or real(x, *a)
    )
    x = nnlab.rand(3, 2, dtype=nnlab.float64, requires_grad=True)
    w = nnlab.rand(2, 4, 3, dtype=nnlab.float64, requires_grad=True)
    variational_circuit(x, w).sum().backward()
    cost = circuit_cost(4, 2, in_features=2, batch_size=3)
    assert sum(calls) == cost.forward_circuits + cost.backward_circuits
    assert cost.backward_circuits == 2 * (24 + 2) * 3
    assert cost.gates_per_circuit == 2 + 8 + 8
    assert cost.amplitudes == 16 and cost.state_bytes == 256
    bigger = circuit_cost(5, 2, in_features=2, batch_size=3)
    ratio = bigger.backward_amplitude_updates / cost.backward_amplitude_updates
    assert ratio == pytest.approx(2 * (32 / 26) * (22 / 18))  # 2ⁿ, angles, gates


def test_the_layer_trains_inside_a_classical_model():
    """A tiny two-class task (sign of x₀·x₁): Linear → QuantumLayer → Linear, Adam."""
    rng = np.random.default_rng(0)
    points = rng.uniform(-1, 1, (32, 2))
    labels = (points[:, 0] * points[:, 1] > 0).astype(np.int64)
    x, y = nnlab.tensor(points, dtype=nnlab.float32), nnlab.tensor(labels)
    nnlab.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), QuantumLayer(2, 2), nn.Linear(2, 2))
    opt = nnlab.optim.Adam(model.parameters(), lr=0.1)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert model[0].weight.grad is not None  # gradients reached the layer in front
    assert losses[-1] < 0.7 * losses[0], losses


def test_errors_name_the_layer_and_the_shapes():
    layer = QuantumLayer(3, 2, in_features=2)
    with pytest.raises(ShapeError, match=r"QuantumLayer.*expected input of shape \(N, 2\).*"
                       r"got \(4, 3\)"):  # fmt: skip
        layer(nnlab.rand(4, 3))
    with pytest.raises(ShapeError, match="QuantumLayer"):
        layer(nnlab.rand(2, 4, 2))
    with pytest.raises(ValueError, match=r"cap of 20 qubits.*2\^24.*memory"):
        QuantumLayer(24, 1)
    with pytest.raises(ValueError, match="n_qubits must be at least 1"):
        QuantumLayer(0, 1)
    with pytest.raises(ValueError, match="in_features must be in 1 … n_qubits=3"):
        QuantumLayer(3, 1, in_features=4)
    with pytest.raises(ValueError, match="n_layers must be a positive int"):
        QuantumLayer(3, 0)
    with pytest.raises(ValueError, match="rotation must be 'X', 'Y' or 'Z'"):
        QuantumLayer(3, 1, rotation="W")
    with pytest.raises(ValueError, match=r"ranges must hold one range per layer \(2\)"):
        QuantumLayer(3, 2, ranges=(1,))
    with pytest.raises(ValueError, match=r"each range must be in 1 … 2"):
        QuantumLayer(3, 1, ranges=(3,))
    w = nnlab.rand(2, 3, 3)
    with pytest.raises(ValueError, match=r"variational_circuit: weights must be \(n_layers, "):
        variational_circuit(nnlab.rand(4, 3), nnlab.rand(2, 3, 2))
    with pytest.raises(ValueError, match=r"input must be \(N, k\) with k ≤ n_qubits=3"):
        variational_circuit(nnlab.rand(4, 5), w)
