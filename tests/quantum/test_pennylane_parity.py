"""The simulator and the parameter-shift layer against PennyLane's ``default.qubit``: the
same circuit built from ``qml.AngleEmbedding`` and ``qml.StronglyEntanglingLayers`` gives the
same Pauli-Z expectations, and PennyLane's backpropagated gradients (through torch, float64)
equal nnlab's parameter-shift gradients for the weights and the encoded inputs, to 1e-10."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
from nnlab.quantum.layer import variational_circuit
from nnlab.quantum.templates import qnn_expvals

qml = pytest.importorskip("pennylane")
torch = pytest.importorskip("torch")

# (n_qubits, n_layers, in_features, ranges, rotation, imprimitive)
CASES = [
    (1, 2, 1, None, "X", "CNOT"),
    (2, 1, 2, None, "X", "CNOT"),
    (3, 2, 3, None, "X", "CNOT"),
    (4, 3, 4, None, "Y", "CNOT"),
    (4, 2, 2, (2, 3), "Z", "CZ"),
    (5, 2, 5, None, "X", "CNOT"),
]


def _pennylane_circuit(n_qubits, ranges, rotation, imprimitive):
    """A QNode returning ⟨Z_j⟩ for every wire, differentiated by backprop through torch."""
    dev = qml.device("default.qubit", wires=n_qubits)
    gate = {"CNOT": qml.CNOT, "CZ": qml.CZ}[imprimitive]

    @qml.qnode(dev, interface="torch", diff_method="backprop")
    def circuit(features, weights):
        qml.AngleEmbedding(features, wires=range(n_qubits), rotation=rotation)
        qml.StronglyEntanglingLayers(
            weights, wires=range(n_qubits), ranges=ranges, imprimitive=gate
        )  # noqa: E501
        return [qml.expval(qml.PauliZ(w)) for w in range(n_qubits)]

    return circuit


def _case_data(n_qubits, n_layers, in_features, seed, batch=3):
    rng = np.random.default_rng(seed)
    features = rng.uniform(0, np.pi, (batch, in_features))
    weights = rng.uniform(0, 2 * np.pi, (n_layers, n_qubits, 3))
    upstream = rng.standard_normal((batch, n_qubits))
    return features, weights, upstream


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"n{c[0]}-L{c[1]}-k{c[2]}-{c[4]}-{c[5]}")
def test_values_and_gradients_equal_pennylane(case):
    n_qubits, n_layers, in_features, ranges, rotation, imprimitive = case
    features, weights, upstream = _case_data(n_qubits, n_layers, in_features, seed=n_qubits)
    circuit = _pennylane_circuit(n_qubits, ranges, rotation, imprimitive)

    # PennyLane, one sample at a time: values and the gradient of Σ_j g_j ⟨Z_j⟩
    w_t = torch.tensor(weights, requires_grad=True)
    x_t = torch.tensor(features, requires_grad=True)
    values = torch.stack([torch.stack(circuit(x_t[b], w_t)) for b in range(len(features))])
    (values * torch.tensor(upstream)).sum().backward()

    # nnlab: the whole batch, parameter-shift backward
    x = nnlab.tensor(features, dtype=nnlab.float64, requires_grad=True)
    w = nnlab.tensor(weights, dtype=nnlab.float64, requires_grad=True)
    y = variational_circuit(x, w, ranges, rotation, imprimitive)
    (y * nnlab.tensor(upstream, dtype=nnlab.float64)).sum().backward()

    np.testing.assert_allclose(y.detach().numpy(), values.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(w.grad.numpy(), w_t.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(x.grad.numpy(), x_t.grad.numpy(), rtol=0, atol=1e-10)


def test_pennylane_parameter_shift_agrees_too():
    """PennyLane's own parameter-shift differentiation of the same circuit (numpy interface)."""
    pnp = qml.numpy
    n_qubits, n_layers = 3, 2
    features, weights, _ = _case_data(n_qubits, n_layers, n_qubits, seed=42, batch=1)
    dev = qml.device("default.qubit", wires=n_qubits)

    @qml.qnode(dev, interface="autograd", diff_method="parameter-shift")
    def first_wire(feats, w):
        qml.AngleEmbedding(feats, wires=range(n_qubits))
        qml.StronglyEntanglingLayers(w, wires=range(n_qubits))
        return qml.expval(qml.PauliZ(0))

    grad_x, grad_w = qml.grad(first_wire)(
        pnp.array(features[0], requires_grad=True), pnp.array(weights, requires_grad=True)
    )
    x = nnlab.tensor(features, dtype=nnlab.float64, requires_grad=True)
    w = nnlab.tensor(weights, dtype=nnlab.float64, requires_grad=True)
    variational_circuit(x, w)[0, 0].backward()
    np.testing.assert_allclose(w.grad.numpy(), grad_w, rtol=0, atol=1e-10)
    np.testing.assert_allclose(x.grad.numpy()[0], grad_x, rtol=0, atol=1e-10)


def test_the_state_after_the_templates_equals_pennylane_state():
    n_qubits, n_layers = 3, 2
    features, weights, _ = _case_data(n_qubits, n_layers, n_qubits, seed=5, batch=1)
    dev = qml.device("default.qubit", wires=n_qubits)

    @qml.qnode(dev)
    def state():
        qml.AngleEmbedding(features[0], wires=range(n_qubits))
        qml.StronglyEntanglingLayers(weights, wires=range(n_qubits))
        return qml.state()

    from nnlab.quantum.statevector import zero_state
    from nnlab.quantum.templates import angle_embedding, strongly_entangling_layers

    psi = strongly_entangling_layers(angle_embedding(zero_state(n_qubits), features), weights)
    np.testing.assert_allclose(psi.reshape(-1), np.asarray(state()), rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        qnn_expvals(features, weights, n_qubits)[0],
        [np.vdot(psi.reshape(-1), _z_on(w, n_qubits) @ psi.reshape(-1)).real for w in range(3)],
        atol=1e-14,
    )


def _z_on(wire, n):
    ops = [np.diag([1.0, -1.0]) if w == wire else np.eye(2) for w in range(n)]
    out = ops[0]
    for op in ops[1:]:
        out = np.kron(out, op)
    return out
