"""Circuit templates with PennyLane's conventions: angle embedding, strongly entangling layers,
and the circuit of a quantum neural network built from them.

They act on the batched states of :mod:`nnlab.quantum.statevector` (shape (N, 2, ..., 2)).
Angles may be shared by the batch or given per state (a leading N axis), so one call runs
N circuits with different inputs or different (e.g. shifted) weights.

* ``angle_embedding`` is ``qml.AngleEmbedding(features, wires, rotation)``: feature i is the
  angle of one rotation on wire i; fewer features than wires leave the last wires alone.
* ``strongly_entangling_layers`` is ``qml.StronglyEntanglingLayers(weights, wires, ranges)``:
  layer l applies Rot(w[l, i, 0], w[l, i, 1], w[l, i, 2]) to every wire i, then (for n > 1)
  CNOT(i, (i + r_l) mod n) for i = 0 … n−1, with PennyLane's default ranges
  r_l = (l mod (n − 1)) + 1, so successive layers entangle wires further apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nnlab.quantum.statevector import (
    apply_cnot,
    apply_cz,
    apply_gate,
    check_n_qubits,
    expval_z,
    rot,
    rx,
    ry,
    rz,
    zero_state,
)

__all__ = [
    "ROTATIONS", "angle_embedding", "default_ranges", "check_ranges",
    "strongly_entangling_layers", "qnn_expvals",
]  # fmt: skip

#: The rotation gates ``angle_embedding`` may use, by PennyLane's names.
ROTATIONS = {"X": rx, "Y": ry, "Z": rz}

_ENTANGLERS = {"CNOT": apply_cnot, "CZ": apply_cz}


def angle_embedding(state: np.ndarray, features: np.ndarray, rotation: str = "X") -> np.ndarray:
    """Encode feature i as R_rotation(xᵢ) on wire i; ``features`` is (k,) or (N, k), k ≤ n."""
    if rotation not in ROTATIONS:
        raise ValueError(
            f"angle_embedding: rotation must be one of 'X', 'Y', 'Z', got {rotation!r}"
        )
    n = state.ndim - 1
    if features.shape[-1] > n:
        raise ValueError(
            f"angle_embedding: {features.shape[-1]} features do not fit on {n} qubits "
            "(one feature per wire at most)"
        )
    gates = ROTATIONS[rotation](features)
    for wire in range(features.shape[-1]):
        state = apply_gate(state, gates[..., wire, :, :], wire)
    return state


def default_ranges(n_layers: int, n_qubits: int) -> tuple[int, ...]:
    """PennyLane's CNOT ranges: r_l = (l mod (n − 1)) + 1, or 0 for a single qubit."""
    if n_qubits == 1:
        return (0,) * n_layers
    return tuple(layer % (n_qubits - 1) + 1 for layer in range(n_layers))


def check_ranges(ranges: Sequence[int] | None, n_layers: int, n_qubits: int) -> tuple[int, ...]:
    """``ranges`` as a tuple, or the default; one range per layer, each in 1 … n − 1."""
    if ranges is None:
        return default_ranges(n_layers, n_qubits)
    ranges = tuple(int(r) for r in ranges)
    if len(ranges) != n_layers:
        raise ValueError(f"ranges must hold one range per layer ({n_layers}), got {len(ranges)}")
    if n_qubits > 1 and any(not 0 < r < n_qubits for r in ranges):
        raise ValueError(
            f"each range must be in 1 … {n_qubits - 1} for {n_qubits} qubits, got {ranges}"
        )
    return ranges


def strongly_entangling_layers(
    state: np.ndarray,
    weights: np.ndarray,
    ranges: Sequence[int] | None = None,
    imprimitive: str = "CNOT",
) -> np.ndarray:
    """Apply L strongly entangling layers; ``weights`` is (L, n, 3) or (N, L, n, 3)."""
    n = state.ndim - 1
    if weights.ndim not in (3, 4) or weights.shape[-2:] != (n, 3):
        raise ValueError(
            f"strongly_entangling_layers: weights must be (n_layers, {n}, 3) or "
            f"(N, n_layers, {n}, 3) for {n} qubits, got {weights.shape}"
        )
    if imprimitive not in _ENTANGLERS:
        raise ValueError(f"imprimitive must be 'CNOT' or 'CZ', got {imprimitive!r}")
    n_layers = weights.shape[-3]
    ranges = check_ranges(ranges, n_layers, n)
    gates = rot(weights[..., 0], weights[..., 1], weights[..., 2])  # (..., L, n, 2, 2)
    entangle = _ENTANGLERS[imprimitive]
    for layer in range(n_layers):
        for wire in range(n):
            state = apply_gate(state, gates[..., layer, wire, :, :], wire)
        if n > 1:
            for wire in range(n):
                state = entangle(state, wire, (wire + ranges[layer]) % n)
    return state


def qnn_expvals(
    features: Any,
    weights: Any,
    n_qubits: int,
    ranges: Sequence[int] | None = None,
    rotation: str = "X",
    imprimitive: str = "CNOT",
) -> np.ndarray:
    """The quantum neural network's circuit, f(x, w) = (⟨Z₀⟩, …, ⟨Zₙ₋₁⟩) after
    |0…0⟩ → AngleEmbedding(x) → StronglyEntanglingLayers(w).

    Args:
        features: (N, k) angles, k ≤ n_qubits.
        weights: (L, n_qubits, 3) shared by the batch, or (N, L, n_qubits, 3) per circuit.
        n_qubits, ranges, rotation, imprimitive: as in the templates above.

    Returns:
        (N, n_qubits) float64 expectations in [−1, 1].
    """
    n_qubits = check_n_qubits(n_qubits)
    features = np.asarray(features, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    state = zero_state(n_qubits, features.shape[0])
    state = angle_embedding(state, features, rotation)
    state = strongly_entangling_layers(state, weights, ranges, imprimitive)
    return expval_z(state)
