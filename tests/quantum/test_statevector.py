"""The state-vector simulator against closed forms and dense matrices: the gates are unitary,
one rotation gives ⟨Z⟩ = cos θ, CNOT and RY(π/2) make a Bell state, and a gate on one wire
equals the Kronecker product I ⊗ U ⊗ I acting on the flattened state (wire 0 the most
significant bit, PennyLane's order)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnlab.quantum.statevector import (
    MAX_QUBITS,
    apply_cnot,
    apply_cz,
    apply_gate,
    expval_z,
    probabilities,
    rot,
    rx,
    ry,
    rz,
    zero_state,
)

ANGLES = np.linspace(-2 * math.pi, 2 * math.pi, 17)


@pytest.mark.parametrize("gate", [rx, ry, rz])
def test_rotations_are_unitary(gate):
    u = gate(ANGLES)
    assert u.shape == (17, 2, 2)
    eye = np.broadcast_to(np.eye(2), u.shape)
    np.testing.assert_allclose(u.conj().transpose(0, 2, 1) @ u, eye, atol=1e-14)


def test_rot_is_unitary_and_is_rz_ry_rz():
    rng = np.random.default_rng(0)
    phi, theta, omega = rng.uniform(-math.pi, math.pi, (3, 5))
    u = rot(phi, theta, omega)
    eye = np.broadcast_to(np.eye(2), u.shape)
    np.testing.assert_allclose(u.conj().transpose(0, 2, 1) @ u, eye, atol=1e-14)
    for i in range(5):
        expected = rz(omega[i]) @ ry(theta[i]) @ rz(phi[i])
        np.testing.assert_allclose(u[i], expected, atol=1e-15)


def test_rotations_are_exponentials_of_paulis():
    # R_P(θ) = cos(θ/2) I − i sin(θ/2) P
    paulis = {rx: [[0, 1], [1, 0]], ry: [[0, -1j], [1j, 0]], rz: [[1, 0], [0, -1]]}
    for gate, p in paulis.items():
        for theta in ANGLES:
            expected = math.cos(theta / 2) * np.eye(2) - 1j * math.sin(theta / 2) * np.array(p)
            np.testing.assert_allclose(gate(theta), expected, atol=1e-15)


@pytest.mark.parametrize("gate", [rx, ry])
def test_one_rotation_gives_cos_theta(gate):
    state = apply_gate(zero_state(1, len(ANGLES)), gate(ANGLES), 0)
    np.testing.assert_allclose(expval_z(state)[:, 0], np.cos(ANGLES), atol=1e-15)


def test_rz_leaves_z_unchanged():
    state = apply_gate(zero_state(1, len(ANGLES)), rz(ANGLES), 0)
    np.testing.assert_allclose(expval_z(state)[:, 0], 1.0, atol=1e-15)


def test_bell_state():
    state = apply_cnot(apply_gate(zero_state(2), ry(math.pi / 2), 0), 0, 1)
    amplitudes = state.reshape(-1)
    np.testing.assert_allclose(amplitudes, [1 / math.sqrt(2), 0, 0, 1 / math.sqrt(2)], atol=1e-15)
    np.testing.assert_allclose(expval_z(state), [[0.0, 0.0]], atol=1e-15)
    # perfectly correlated: ⟨Z₀Z₁⟩ = P(00) + P(11) − P(01) − P(10) = 1
    p = probabilities(state)[0]
    assert p[0] + p[3] - p[1] - p[2] == pytest.approx(1.0, abs=1e-15)


def _dense_one_qubit(u: np.ndarray, wire: int, n: int) -> np.ndarray:
    ops = [u if w == wire else np.eye(2) for w in range(n)]
    out = ops[0]
    for op in ops[1:]:
        out = np.kron(out, op)
    return out


def _dense_controlled(control: int, target: int, n: int, gate: np.ndarray) -> np.ndarray:
    """|0⟩⟨0|_c ⊗ I + |1⟩⟨1|_c ⊗ gate_t as a 2ⁿ × 2ⁿ matrix."""
    p0, p1 = np.diag([1.0, 0.0]), np.diag([0.0, 1.0])
    idle = [p0 if w == control else np.eye(2) for w in range(n)]
    act = [p1 if w == control else gate if w == target else np.eye(2) for w in range(n)]
    total = []
    for ops in (idle, act):
        out = ops[0]
        for op in ops[1:]:
            out = np.kron(out, op)
        total.append(out)
    return total[0] + total[1]


def _random_states(n: int, batch: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    psi = rng.standard_normal((batch, 2**n)) + 1j * rng.standard_normal((batch, 2**n))
    psi /= np.linalg.norm(psi, axis=1, keepdims=True)
    return psi.reshape((batch,) + (2,) * n)


@pytest.mark.parametrize("wire", [0, 1, 2])
def test_gate_on_a_wire_equals_the_kronecker_product(wire):
    n, batch = 3, 4
    psi = _random_states(n, batch, wire)
    u = rot(0.3, -1.1, 2.0)
    dense = _dense_one_qubit(u, wire, n)
    out = apply_gate(psi, u, wire).reshape(batch, -1)
    np.testing.assert_allclose(out, psi.reshape(batch, -1) @ dense.T, atol=1e-14)
    # one matrix per state
    us = rx(np.array([0.1, 0.7, -2.0, 3.0]))
    out = apply_gate(psi, us, wire).reshape(batch, -1)
    for b in range(batch):
        expected = _dense_one_qubit(us[b], wire, n) @ psi[b].reshape(-1)
        np.testing.assert_allclose(out[b], expected, atol=1e-14)


@pytest.mark.parametrize("control, target", [(0, 1), (1, 0), (0, 2), (2, 1)])
def test_cnot_and_cz_equal_their_dense_matrices(control, target):
    n = 3
    psi = _random_states(n, 2, 10 + control)
    x, z = np.array([[0, 1], [1, 0]]), np.diag([1, -1])
    for apply, g in ((apply_cnot, x), (apply_cz, z)):
        out = apply(psi, control, target).reshape(2, -1)
        dense = _dense_controlled(control, target, n, g)
        np.testing.assert_allclose(out, psi.reshape(2, -1) @ dense.T, atol=1e-15)


def test_norm_is_preserved_and_expectations_in_range():
    psi = _random_states(4, 3, 7)
    for wire in range(4):
        psi = apply_gate(psi, rot(0.2 * wire, 1.0, -0.4), wire)
        psi = apply_cnot(psi, wire, (wire + 1) % 4)
    np.testing.assert_allclose(probabilities(psi).sum(1), 1.0, atol=1e-14)
    assert np.all(np.abs(expval_z(psi)) <= 1 + 1e-14)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"cap of 20 qubits.*2\^21.*MiB"):
        zero_state(MAX_QUBITS + 1)
    with pytest.raises(ValueError, match="at least 1"):
        zero_state(0)
    with pytest.raises(TypeError, match="must be an int"):
        zero_state(2.0)
    with pytest.raises(ValueError, match="wire=3 is not a wire of this 2-qubit state"):
        apply_gate(zero_state(2), rx(0.1), 3)
    with pytest.raises(ValueError, match=r"matrix must be \(2, 2\) or \(1, 2, 2\)"):
        apply_gate(zero_state(2), rx(np.zeros(3)), 0)
    with pytest.raises(ValueError, match="different wires"):
        apply_cnot(zero_state(2), 1, 1)
