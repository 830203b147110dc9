"""A state-vector simulator of n qubits on NumPy: the state, the gates, the measurement.

Convention, stated once. A batch of N pure states of n qubits is a complex array of shape
(N, 2, 2, ..., 2) with n axes of size 2: axis 1 + q holds qubit (wire) q, so the amplitude
of the basis state |b₀ b₁ ... bₙ₋₁⟩ is ``state[:, b₀, b₁, ..., bₙ₋₁]``. Flattened, wire 0 is
the most significant bit, which is PennyLane's ordering. The leading batch axis lets one
call simulate many circuits that differ only in their angles (one per sample, one per
shifted parameter), which is where NumPy's speed comes from.

A single-qubit gate U acts on wire q as ψ'[..., a, ...] = Σ_b U[a, b] ψ[..., b, ...] along
axis 1 + q; it may be one (2, 2) matrix for the whole batch or one (N, 2, 2) matrix per
state. Every gate touches all 2ⁿ amplitudes, which is why the cost of simulation doubles
with each added qubit.

The rotations are R_P(θ) = exp(-i θ P / 2) for the Pauli matrices P ∈ {X, Y, Z}:

    RX(θ) = [[cos θ/2, -i sin θ/2], [-i sin θ/2, cos θ/2]]
    RY(θ) = [[cos θ/2, -sin θ/2], [sin θ/2, cos θ/2]]
    RZ(θ) = diag(e^{-iθ/2}, e^{iθ/2})
    Rot(φ, θ, ω) = RZ(ω) RY(θ) RZ(φ)            (PennyLane's general rotation)

and the measurement is the Pauli-Z expectation ⟨Z_q⟩ = P(b_q = 0) − P(b_q = 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "MAX_QUBITS", "check_n_qubits", "zero_state", "rx", "ry", "rz", "rot",
    "apply_gate", "apply_cnot", "apply_cz", "probabilities", "expval_z",
]  # fmt: skip

#: The largest register the simulator accepts: a state of n qubits holds 2ⁿ complex128
#: amplitudes (16·2ⁿ bytes per sample), 16 MiB at 20 qubits, before any batching.
MAX_QUBITS = 20


def check_n_qubits(n_qubits: Any, where: str = "n_qubits") -> int:
    """Validate a qubit count: a positive int no larger than :data:`MAX_QUBITS`."""
    if isinstance(n_qubits, bool) or not isinstance(n_qubits, (int, np.integer)):
        raise TypeError(f"{where} must be an int, got {type(n_qubits).__name__}")
    if n_qubits < 1:
        raise ValueError(f"{where} must be at least 1, got {n_qubits}")
    if n_qubits > MAX_QUBITS:
        mib = 16 * 2.0**n_qubits / 2**20
        raise ValueError(
            f"{where}={n_qubits} exceeds the simulator's cap of {MAX_QUBITS} qubits: a state "
            f"vector holds 2^{n_qubits} complex amplitudes ({mib:,.0f} MiB per sample, times "
            "the batch and the parameter-shift circuits); memory and time double per qubit."
        )
    return int(n_qubits)


def zero_state(n_qubits: int, batch_size: int = 1) -> np.ndarray:
    """|0…0⟩ for each of ``batch_size`` states: shape (batch_size, 2, ..., 2), complex128."""
    n_qubits = check_n_qubits(n_qubits)
    state = np.zeros((batch_size,) + (2,) * n_qubits, dtype=np.complex128)
    state[(slice(None),) + (0,) * n_qubits] = 1.0
    return state


def rx(theta: Any) -> np.ndarray:
    """RX(θ) = exp(-iθX/2) for each angle: shape theta.shape + (2, 2)."""
    half = np.asarray(theta, dtype=np.float64) / 2
    c, s = np.cos(half), -1j * np.sin(half)
    return np.stack([np.stack([c, s], -1), np.stack([s, c], -1)], -2).astype(np.complex128)


def ry(theta: Any) -> np.ndarray:
    """RY(θ) = exp(-iθY/2) for each angle: shape theta.shape + (2, 2)."""
    half = np.asarray(theta, dtype=np.float64) / 2
    c, s = np.cos(half), np.sin(half)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2).astype(np.complex128)


def rz(theta: Any) -> np.ndarray:
    """RZ(θ) = exp(-iθZ/2) = diag(e^{-iθ/2}, e^{iθ/2}) for each angle: theta.shape + (2, 2)."""
    phase = np.exp(-0.5j * np.asarray(theta, dtype=np.float64))
    zero = np.zeros_like(phase)
    return np.stack([np.stack([phase, zero], -1), np.stack([zero, phase.conj()], -1)], -2)


def rot(phi: Any, theta: Any, omega: Any) -> np.ndarray:
    """Rot(φ, θ, ω) = RZ(ω) RY(θ) RZ(φ): RZ(φ) acts first. Shapes broadcast; + (2, 2)."""
    return rz(omega) @ ry(theta) @ rz(phi)


def _n_qubits_of(state: np.ndarray) -> int:
    return state.ndim - 1


def _check_wire(state: np.ndarray, wire: int, name: str = "wire") -> None:
    n = _n_qubits_of(state)
    if not 0 <= wire < n:
        raise ValueError(f"{name}={wire} is not a wire of this {n}-qubit state (0..{n - 1})")


def apply_gate(state: np.ndarray, matrix: np.ndarray, wire: int) -> np.ndarray:
    """ψ' = U ψ on one wire; ``matrix`` is (2, 2) for all states or (N, 2, 2), one per state.

    Moves the wire's axis next to the batch axis so that the gate is one (batched) matrix
    product on a (N, 2, 2ⁿ⁻¹) view: ψ'[n, a, r] = Σ_b U[n, a, b] ψ[n, b, r].
    """
    _check_wire(state, wire)
    if matrix.shape not in ((2, 2), (state.shape[0], 2, 2)):
        raise ValueError(
            f"apply_gate: matrix must be (2, 2) or ({state.shape[0]}, 2, 2) for a batch of "
            f"{state.shape[0]} states, got {matrix.shape}"
        )
    moved = np.moveaxis(state, 1 + wire, 1)
    flat = moved.reshape(state.shape[0], 2, -1)
    out = np.matmul(matrix, flat).reshape(moved.shape)
    return np.moveaxis(out, 1, 1 + wire)


def _control_target_view(state: np.ndarray, control: int, target: int) -> np.ndarray:
    _check_wire(state, control, "control")
    _check_wire(state, target, "target")
    if control == target:
        raise ValueError(f"control and target must be different wires, got {control} twice")
    return np.moveaxis(state, (1 + control, 1 + target), (1, 2))


def apply_cnot(state: np.ndarray, control: int, target: int) -> np.ndarray:
    """CNOT: flip the target wire in the half of the amplitudes whose control bit is 1."""
    view = _control_target_view(state.copy(), control, target)
    view[:, 1] = view[:, 1, ::-1].copy()
    return np.moveaxis(view, (1, 2), (1 + control, 1 + target))


def apply_cz(state: np.ndarray, control: int, target: int) -> np.ndarray:
    """CZ: negate the amplitudes where both wires are 1 (symmetric in the two wires)."""
    view = _control_target_view(state.copy(), control, target)
    view[:, 1, 1] *= -1
    return np.moveaxis(view, (1, 2), (1 + control, 1 + target))


def probabilities(state: np.ndarray) -> np.ndarray:
    """Born rule: |ψ|² per basis state, shape (N, 2ⁿ) with wire 0 as the most significant bit."""
    return (np.abs(state) ** 2).reshape(state.shape[0], -1)


def expval_z(state: np.ndarray) -> np.ndarray:
    """⟨Z_q⟩ = P(b_q = 0) − P(b_q = 1) for every wire q: shape (N, n), float64."""
    p = np.abs(state) ** 2
    n = _n_qubits_of(state)
    out = np.empty((state.shape[0], n))
    for q in range(n):
        others = tuple(1 + w for w in range(n) if w != q)
        marginal = p.sum(axis=others)  # (N, 2): P(b_q = 0), P(b_q = 1)
        out[:, q] = marginal[:, 0] - marginal[:, 1]
    return out
