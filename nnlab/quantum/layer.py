"""A variational quantum circuit as a differentiable layer, with parameter-shift gradients.

Forward: for each sample x (k ≤ n angles) the circuit |0…0⟩ → AngleEmbedding(x) →
StronglyEntanglingLayers(w) is simulated and y = (⟨Z₀⟩, …, ⟨Zₙ₋₁⟩) is returned.

Backward: the parameter-shift rule. Every angle θ (a weight or an encoded input) enters the
circuit through exactly one gate exp(−iθP/2), P a Pauli matrix with eigenvalues ±1, so an
expectation is a sinusoid a + b cos θ + c sin θ in that angle and its derivative is exact
from two evaluations of the same circuit:

    ∂⟨Z_j⟩/∂θ = [⟨Z_j⟩(θ + π/2) − ⟨Z_j⟩(θ − π/2)] / 2.

This is how gradients are taken on quantum hardware, where the amplitudes cannot be read
and backpropagation through the simulation is unavailable: it costs 2 circuits per angle
(2 · (L·n·3 + k) circuits per sample), against 1 for the forward pass. The chain rule then
gives dL/dθ = Σ_j (dL/dy_j) ∂y_j/∂θ, for the weights and for the inputs, so gradients flow
into the classical layers in front of the circuit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from nnlab import dtypes
from nnlab.autograd.function import Function
from nnlab.nn import init
from nnlab.nn.module import Module
from nnlab.nn.parameter import Parameter
from nnlab.quantum.statevector import check_n_qubits
from nnlab.quantum.templates import ROTATIONS, check_ranges, qnn_expvals
from nnlab.tensor import Tensor

__all__ = ["VariationalCircuit", "variational_circuit", "QuantumLayer"]

#: Amplitudes simulated at once (32 MiB of complex128); bigger batches of circuits are split
#: so that the parameter-shift circuits of a large register do not exhaust memory.
_AMPLITUDES_PER_CHUNK = 2**21


def _expvals_in_chunks(
    features: np.ndarray, weights: np.ndarray, n_qubits: int, config: tuple
) -> np.ndarray:
    """``qnn_expvals`` over M circuits (features (M, k), weights (M, L, n, 3)) in chunks."""
    rows = max(1, _AMPLITUDES_PER_CHUNK >> n_qubits)
    parts = [
        qnn_expvals(features[i : i + rows], weights[i : i + rows], n_qubits, *config)
        for i in range(0, features.shape[0], rows)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, n_qubits))


def _shifted(values: np.ndarray) -> np.ndarray:
    """Every single-entry shift of ``values`` by +π/2 then −π/2: shape (2, P) + values.shape,
    where P = values.size and entry p of the second axis moves only element p."""
    eye = np.eye(values.size).reshape((values.size,) + values.shape)
    return values + (math.pi / 2) * np.stack([eye, -eye])


class VariationalCircuit(Function):
    """y = (⟨Z_j⟩)_j of AngleEmbedding(x) then StronglyEntanglingLayers(w), per sample;
    ∂y/∂θ = [y(θ + π/2) − y(θ − π/2)] / 2 for every weight and input angle θ."""

    double_backward = False  # the shifted circuits are NumPy simulations, not a graph

    @staticmethod
    def forward(ctx, inputs, weights, ranges, rotation, imprimitive):
        ctx.save_for_backward(inputs, weights)
        ctx.config = (ranges, rotation, imprimitive)
        x = inputs.astype(np.float64)
        w = np.broadcast_to(weights.astype(np.float64), (len(x),) + weights.shape)
        y = _expvals_in_chunks(x, w, weights.shape[1], ctx.config)
        return y.astype(np.result_type(inputs.dtype, weights.dtype))

    @staticmethod
    def backward(ctx, g):
        inputs, weights = ctx.saved_tensors
        x, w, g = (a.astype(np.float64) for a in (inputs, weights, g))
        n_samples, n_qubits = x.shape[0], w.shape[1]
        gx = gw = None
        if ctx.needs_input_grad[0]:
            # (2, k, N, k): every sample with its feature i shifted; samples are separate
            # circuits, so one shift of feature i serves the whole batch
            eye = np.eye(x.shape[1])[:, None, :]
            xs = x + (math.pi / 2) * np.stack([eye, -eye])
            ws = np.broadcast_to(w, xs.shape[:3] + w.shape)
            f = _expvals_in_chunks(
                xs.reshape(-1, x.shape[1]), ws.reshape((-1,) + w.shape), n_qubits, ctx.config
            ).reshape(xs.shape[:3] + (n_qubits,))
            dy_dx = (f[0] - f[1]) / 2  # (k, N, n)
            gx = np.einsum("inj,nj->ni", dy_dx, g).astype(inputs.dtype)
        if ctx.needs_input_grad[1]:
            ws = np.repeat(_shifted(w).reshape((-1,) + w.shape), n_samples, axis=0)
            xs = np.tile(x, (ws.shape[0] // n_samples, 1))
            f = _expvals_in_chunks(xs, ws, n_qubits, ctx.config)
            f = f.reshape(2, w.size, n_samples, n_qubits)
            dy_dw = (f[0] - f[1]) / 2  # (P, N, n)
            gw = np.einsum("pnj,nj->p", dy_dw, g).reshape(w.shape).astype(weights.dtype)
        return gx, gw, None, None, None


def _check_circuit_args(
    where: str, inputs: Tensor, weights: Tensor, rotation: str, imprimitive: str
) -> int:
    if weights.ndim != 3 or weights.shape[2] != 3:
        raise ValueError(
            f"{where}: weights must be (n_layers, n_qubits, 3), got shape {tuple(weights.shape)}"
        )
    n_qubits = check_n_qubits(weights.shape[1], f"{where}: n_qubits (weights.shape[1])")
    if inputs.ndim != 2 or inputs.shape[1] > n_qubits:
        raise ValueError(
            f"{where}: input must be (N, k) with k ≤ n_qubits={n_qubits} (one angle per wire), "
            f"got shape {tuple(inputs.shape)}"
        )
    if rotation not in ROTATIONS:
        raise ValueError(f"{where}: rotation must be 'X', 'Y' or 'Z', got {rotation!r}")
    if imprimitive not in ("CNOT", "CZ"):
        raise ValueError(f"{where}: imprimitive must be 'CNOT' or 'CZ', got {imprimitive!r}")
    return n_qubits


def variational_circuit(
    input: Tensor,
    weights: Tensor,
    ranges: Sequence[int] | None = None,
    rotation: str = "X",
    imprimitive: str = "CNOT",
) -> Tensor:
    """The Pauli-Z expectations of AngleEmbedding(input) → StronglyEntanglingLayers(weights).

    Args:
        input: (N, k) angles, k ≤ n_qubits.
        weights: (n_layers, n_qubits, 3) rotation angles.
        ranges: CNOT range per layer (default: PennyLane's, (l mod (n − 1)) + 1).
        rotation: the embedding's rotation, 'X' (default), 'Y' or 'Z'.
        imprimitive: the entangling gate, 'CNOT' (default) or 'CZ'.

    Returns:
        (N, n_qubits): ⟨Z_j⟩ for each sample, differentiable by the parameter-shift rule.
    """
    n_qubits = _check_circuit_args("variational_circuit", input, weights, rotation, imprimitive)
    ranges = check_ranges(ranges, weights.shape[0], n_qubits)
    return VariationalCircuit.apply(input, weights, ranges, rotation, imprimitive)


class QuantumLayer(Module):
    """A simulated variational quantum circuit as a layer: y = (⟨Z₀⟩, …, ⟨Zₙ₋₁⟩) after
    AngleEmbedding(x) and ``n_layers`` StronglyEntanglingLayers on ``n_qubits`` wires, the
    model of PennyLane's ``qml.qnn.TorchLayer`` around those two templates.

    Each input feature is a rotation angle on one wire (scale features into a range such as
    [0, π] first); the outputs lie in [−1, 1]. Gradients for the weights and the inputs come
    from the parameter-shift rule (two circuit runs per angle), so the layer trains inside
    an ordinary model with classical layers before and after it.

    Default initialisation (TorchLayer's): weights ~ U(0, 2π).

    Args:
        n_qubits: number of wires (and of outputs); at most ``MAX_QUBITS``.
        n_layers: number of strongly entangling layers.
        in_features: number of input angles, at most n_qubits (default: n_qubits).
        ranges: CNOT range per layer (default: PennyLane's).
        rotation: the embedding's rotation, 'X' (default), 'Y' or 'Z'.
        imprimitive: the entangling gate, 'CNOT' (default) or 'CZ'.
        dtype: parameter dtype (default: the default dtype, float32).

    Shape:
        - Input: (N, in_features) or (in_features,).
        - Output: (N, n_qubits) or (n_qubits,).

    Attributes:
        weights: (n_layers, n_qubits, 3), the angles (φ, θ, ω) of each Rot gate.

    Example:
        >>> import nnlab
        >>> from nnlab.quantum.layer import QuantumLayer
        >>> layer = QuantumLayer(n_qubits=3, n_layers=2)
        >>> layer(nnlab.rand(4, 3)).shape
        nnlab.Size([4, 3])
        >>> layer
        QuantumLayer(n_qubits=3, n_layers=2, in_features=3, ranges=(1, 2), rotation='X')
    """

    def __init__(
        self,
        n_qubits: int,
        n_layers: int,
        in_features: int | None = None,
        ranges: Sequence[int] | None = None,
        rotation: str = "X",
        imprimitive: str = "CNOT",
        dtype: Any = None,
    ) -> None:
        super().__init__()
        n_qubits = check_n_qubits(n_qubits, "QuantumLayer: n_qubits")
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
            raise ValueError(f"QuantumLayer: n_layers must be a positive int, got {n_layers!r}")
        in_features = n_qubits if in_features is None else in_features
        if not 1 <= in_features <= n_qubits:
            raise ValueError(
                f"QuantumLayer: in_features must be in 1 … n_qubits={n_qubits} (one angle per "
                f"wire), got {in_features}"
            )
        if rotation not in ROTATIONS:
            raise ValueError(f"QuantumLayer: rotation must be 'X', 'Y' or 'Z', got {rotation!r}")
        if imprimitive not in ("CNOT", "CZ"):
            raise ValueError(
                f"QuantumLayer: imprimitive must be 'CNOT' or 'CZ', got {imprimitive!r}"
            )
        self.n_qubits = n_qubits
        self.n_layers = n_layers
        self.in_features = in_features
        self.ranges = check_ranges(ranges, n_layers, n_qubits)
        self.rotation = rotation
        self.imprimitive = imprimitive
        d = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
        self.weights = Parameter(np.empty((n_layers, n_qubits, 3), dtype=d))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.uniform_(self.weights, 0.0, 2 * math.pi)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (1, 2) or input.shape[-1] != self.in_features:
            raise self.shape_error(
                f"(N, {self.in_features}) or ({self.in_features},)", input.shape,
                f"each sample needs in_features={self.in_features} angles, one per wire "
                f"(at most n_qubits={self.n_qubits}); put a Linear layer in front to map "
                "other feature counts.",
            )  # fmt: skip
        batch = input if input.ndim == 2 else input.unsqueeze(0)
        out = VariationalCircuit.apply(
            batch, self.weights, self.ranges, self.rotation, self.imprimitive
        )
        return out if input.ndim == 2 else out.squeeze(0)

    def extra_repr(self) -> str:
        extra = "" if self.imprimitive == "CNOT" else f", imprimitive={self.imprimitive!r}"
        return (
            f"n_qubits={self.n_qubits}, n_layers={self.n_layers}, "
            f"in_features={self.in_features}, ranges={self.ranges}, "
            f"rotation={self.rotation!r}{extra}"
        )
