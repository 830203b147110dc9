"""Quantum neural networks, simulated: a NumPy state-vector simulator
(:mod:`~nnlab.quantum.statevector`), PennyLane-style circuit templates
(:mod:`~nnlab.quantum.templates`), a variational circuit layer trained by the parameter-shift
rule (:mod:`~nnlab.quantum.layer`), and the counted cost of simulating it as the register
grows (:mod:`~nnlab.quantum.cost`)."""

from nnlab.quantum.cost import CircuitCost, circuit_cost
from nnlab.quantum.layer import QuantumLayer, VariationalCircuit, variational_circuit
from nnlab.quantum.statevector import MAX_QUBITS

__all__ = [
    "MAX_QUBITS", "CircuitCost", "QuantumLayer", "VariationalCircuit", "circuit_cost",
    "variational_circuit",
]  # fmt: skip
