"""What simulating a quantum layer costs, counted rather than timed.

A state of n qubits is 2ⁿ complex amplitudes, and every gate rewrites all of them, so one
circuit costs (gates) · 2ⁿ amplitude updates and 16 · 2ⁿ bytes per state. The forward pass
runs one circuit per sample; the parameter-shift backward runs two more per angle (every
weight, and every input when the gradient flows on into earlier layers):

    circuits(forward)  = N
    circuits(backward) = 2 · (3·L·n + k) · N
    gates per circuit  = k + L·n + L·n·[n > 1]      (embedding, Rot, entanglers)

so the time of a training step grows like n · 2ⁿ: it doubles (a little more) per qubit.
On hardware the amplitudes are never stored; the shots needed per expectation are what
grows there, which a simulation does not model.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnlab.quantum.statevector import check_n_qubits

__all__ = ["CircuitCost", "circuit_cost"]


@dataclass(frozen=True)
class CircuitCost:
    """The counts of one forward and one parameter-shift backward over a batch."""

    n_qubits: int
    n_layers: int
    in_features: int
    batch_size: int
    amplitudes: int  # 2ⁿ per state
    state_bytes: int  # complex128: 16 · 2ⁿ
    gates_per_circuit: int
    n_parameters: int  # 3·L·n trainable angles
    forward_circuits: int
    backward_circuits: int

    @property
    def forward_amplitude_updates(self) -> int:
        """Amplitudes rewritten by the forward pass: circuits · gates · 2ⁿ."""
        return self.forward_circuits * self.gates_per_circuit * self.amplitudes

    @property
    def backward_amplitude_updates(self) -> int:
        """Amplitudes rewritten by the parameter-shift backward pass."""
        return self.backward_circuits * self.gates_per_circuit * self.amplitudes


def circuit_cost(
    n_qubits: int,
    n_layers: int,
    in_features: int | None = None,
    batch_size: int = 1,
    input_grad: bool = True,
) -> CircuitCost:
    """Count the simulation work of ``QuantumLayer(n_qubits, n_layers, in_features)`` on a
    batch of ``batch_size``; ``input_grad``: the backward also shifts the k inputs."""
    n_qubits = check_n_qubits(n_qubits)
    k = n_qubits if in_features is None else in_features
    n_parameters = 3 * n_layers * n_qubits
    entanglers = n_layers * n_qubits if n_qubits > 1 else 0
    shifted_angles = n_parameters + (k if input_grad else 0)
    return CircuitCost(
        n_qubits=n_qubits,
        n_layers=n_layers,
        in_features=k,
        batch_size=batch_size,
        amplitudes=2**n_qubits,
        state_bytes=16 * 2**n_qubits,
        gates_per_circuit=k + n_layers * n_qubits + entanglers,
        n_parameters=n_parameters,
        forward_circuits=batch_size,
        backward_circuits=2 * shifted_angles * batch_size,
    )
