"""What a quantum neural network is and what it offers, measured on a simulator.

A quantum neural network here is a variational circuit: the inputs are written into qubits
as rotation angles (angle encoding), trainable rotations and CNOTs act on them (strongly
entangling layers), and the outputs are Pauli-Z expectations; its gradients come from the
parameter-shift rule, two extra circuit runs per angle, as they would on hardware.

The hybrid model (encoding → 4-qubit circuit → linear readout) and a classical MLP with
exactly the same number of trainable parameters learn the two moons from the same angles,
the same initial seed and the same mini-batches, over several seeds. Then the circuit alone
is timed, forward plus parameter-shift backward, as the register grows, since a state of n
qubits is 2ⁿ amplitudes that every gate rewrites.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import make_moons

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.quantum.cost import circuit_cost
from nnlab.quantum.layer import QuantumLayer

N_QUBITS = 4  # each of the two features is encoded twice (x₀, x₁, x₀, x₁)
N_LAYERS = 2
HIDDEN = 7  # 2·7 + 7 + 7 + 1 = 29 = 3·2·4 + 4 + 1: the two models' parameter counts match


class RepeatFeatures(nn.Module):
    """(x₀, x₁) → (x₀, x₁, x₀, x₁): encoding each feature on two wires lets the circuit's
    output hold frequencies up to 2 in each angle instead of 1 (data re-uploading in
    parallel); it has no parameters."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times

    def forward(self, input: nnlab.Tensor) -> nnlab.Tensor:
        return nnlab.cat([input] * self.times, dim=1)


def hybrid_model() -> nn.Sequential:
    return nn.Sequential(
        RepeatFeatures(N_QUBITS // 2),
        QuantumLayer(N_QUBITS, N_LAYERS),
        nn.Linear(N_QUBITS, 1),
    )


def classical_model() -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, 1))


def moons_as_angles(
    seed: int, n_train: int, n_test: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two noisy moons, standardised on the training set, then mapped linearly so that the
    training range of each feature is [0, π] (test points clipped to it): angles a
    rotation can encode without wrapping around."""
    x, y = make_moons(n_train + n_test, noise=0.2, random_state=seed)
    x_train, x_test = x[:n_train], x[n_train:]
    mean, std = x_train.mean(0), x_train.std(0)
    z_train, z_test = (x_train - mean) / std, (x_test - mean) / std
    lo, hi = z_train.min(0), z_train.max(0)
    angles = [np.clip((z - lo) / (hi - lo), 0, 1) * np.pi for z in (z_train, z_test)]
    labels = [y[:n_train], y[n_train:]]
    return (
        angles[0].astype(np.float32),
        labels[0].astype(np.float32),
        angles[1].astype(np.float32),
        labels[1].astype(np.float32),
    )


def train(
    model: nn.Module, x: np.ndarray, y: np.ndarray, order: np.ndarray, lr: float
) -> tuple[list[float], float]:
    """Adam on the logistic loss over the mini-batches in the rows of ``order``; returns the
    loss of every step and the median wall time of a step (forward, backward, update)."""
    opt = nnlab.optim.Adam(model.parameters(), lr=lr)
    xs, ys = nnlab.tensor(x), nnlab.tensor(y)
    losses, seconds = [], []
    for rows in order:
        idx = nnlab.tensor(rows)
        start = time.perf_counter()
        loss = F.binary_cross_entropy_with_logits(model(xs[idx]).squeeze(1), ys[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        seconds.append(time.perf_counter() - start)
        losses.append(loss.item())
    return losses, float(np.median(seconds))


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with nnlab.no_grad():
        logits = model(nnlab.tensor(x)).squeeze(1).numpy()
    return float(((logits > 0) == (y > 0.5)).mean())


def shift_gradient_error(seed: int) -> float:
    """Largest |parameter-shift − central difference| over the circuit weights of a fresh
    float64 hybrid model at 3 moons points (h = 1e-5, so the difference is good to ~1e-9)."""
    nnlab.manual_seed(seed)
    layer = QuantumLayer(N_QUBITS, N_LAYERS, dtype=nnlab.float64)
    x = nnlab.tensor(np.random.default_rng(seed).uniform(0, np.pi, (3, N_QUBITS)))
    layer(x).sum().backward()
    weights = layer.weights.detach().numpy().copy()  # copy_ below writes into the parameter
    numeric = np.zeros_like(weights)
    h = 1e-5
    for i in np.ndindex(weights.shape):
        values = []
        for sign in (1, -1):
            shifted = weights.copy()
            shifted[i] += sign * h
            with nnlab.no_grad():
                layer.weights.copy_(nnlab.tensor(shifted))
                values.append(layer(x).sum().item())
        numeric[i] = (values[0] - values[1]) / (2 * h)
    return float(np.abs(layer.weights.grad.numpy() - numeric).max())


def time_circuit(n_qubits: int, batch: int, repeats: int, seed: int) -> float:
    """Median seconds of one forward and parameter-shift backward (weights and inputs) of
    a ``N_LAYERS``-layer circuit on ``n_qubits`` wires for a batch of ``batch`` samples."""
    nnlab.manual_seed(seed)
    layer = QuantumLayer(n_qubits, N_LAYERS)
    angles = np.random.default_rng(seed).uniform(0, np.pi, (batch, n_qubits))
    x = nnlab.tensor(angles.astype(np.float32), requires_grad=True)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        layer(x).sum().backward()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def growth_per_qubit(qubits: np.ndarray, seconds: np.ndarray) -> float:
    """The factor per added qubit of the least-squares line through log₂(time) against n."""
    slope = np.polyfit(qubits, np.log2(seconds), 1)[0]
    return float(2**slope)


@experiment(
    "quantum-layer",
    answers=["quantum-neural-networks"],
    quick=dict(n_train=96, n_test=200, steps=40, n_seeds=2, max_qubits=5, repeats=1),
    full=dict(n_train=300, n_test=1000, steps=300, n_seeds=5, max_qubits=10, repeats=3),
)
def quantum_layer(
    run: Run, n_train: int, n_test: int, steps: int, n_seeds: int, max_qubits: int, repeats: int
) -> None:
    """Does a simulated variational quantum circuit learn as well as a classical network of
    the same size, and what does simulating it cost as qubits are added?"""
    batch, lr = 32, 0.05
    arms = {"hybrid": hybrid_model, "classical": classical_model}
    n_params = {arm: make().num_parameters() for arm, make in arms.items()}
    test_acc = {arm: [] for arm in arms}
    curves = {arm: [] for arm in arms}
    step_seconds = {arm: [] for arm in arms}
    gradient_errors = []
    for seed in run.seeds(n_seeds):
        x_train, y_train, x_test, y_test = moons_as_angles(seed, n_train, n_test)
        order = np.random.default_rng(seed).integers(0, n_train, size=(steps, batch))
        for arm, make in arms.items():
            nnlab.manual_seed(seed)
            model = make()
            losses, seconds = train(model, x_train, y_train, order, lr)
            curves[arm].append(losses)
            step_seconds[arm].append(seconds)
            test_acc[arm].append(accuracy(model, x_test, y_test))
        gradient_errors.append(shift_gradient_error(seed))

    rows = []
    for arm in arms:
        acc = np.array(test_acc[arm])
        step_ms = 1e3 * float(np.median(step_seconds[arm]))
        run.number(f"{arm}_test_accuracy", round(float(acc.mean()), 4))
        run.number(f"{arm}_test_accuracy_std", round(float(acc.std()), 4))
        run.number(f"{arm}_step_ms", round(step_ms, 3))
        run.number(f"{arm}_parameters", n_params[arm])
        tail = np.array(curves[arm])[:, -max(1, steps // 10) :]
        run.number(f"{arm}_final_train_loss", round(float(tail.mean()), 4))
        rows.append(
            (arm, n_params[arm], round(float(acc.mean()), 4), round(float(acc.std()), 4),
             round(float(acc.min()), 4), round(float(acc.max()), 4), round(step_ms, 3))
        )  # fmt: skip
    run.table(
        f"Moons, test accuracy over {n_seeds} seeds and time per training step (batch {batch})",
        ("model", "parameters", "mean", "std", "min", "max", "ms per step"),
        rows,
    )

    qubits = np.arange(2, max_qubits + 1)
    cost_batch = 8
    seconds = np.array([time_circuit(int(n), cost_batch, repeats, run.seed) for n in qubits])
    counted = [circuit_cost(int(n), N_LAYERS, batch_size=cost_batch) for n in qubits]
    cost_rows = [
        (int(n), c.amplitudes, c.forward_circuits + c.backward_circuits,
         c.forward_amplitude_updates + c.backward_amplitude_updates, round(1e3 * s, 2))
        for n, c, s in zip(qubits, counted, seconds)
    ]  # fmt: skip
    run.table(
        f"Forward + parameter-shift backward of a {N_LAYERS}-layer circuit, batch {cost_batch}",
        ("qubits", "amplitudes 2^n", "circuits", "amplitude updates", "ms"),
        cost_rows,
    )
    beyond = qubits >= 6
    measured_growth = (
        growth_per_qubit(qubits[beyond], seconds[beyond]) if beyond.sum() >= 2 else None
    )
    updates = np.array([row[3] for row in cost_rows], dtype=np.float64)
    counted_growth = growth_per_qubit(qubits, updates)
    run.number("counted_growth_per_qubit", round(counted_growth, 3))
    if measured_growth is not None:
        run.number("measured_growth_per_qubit_beyond_6", round(measured_growth, 3))
    run.number(f"circuit_ms_at_{max_qubits}_qubits", round(1e3 * float(seconds[-1]), 2))

    fig = run.figure("training", "Mini-batch loss per step, mean over seeds (band: min to max)")
    ax = fig.subplots()
    for arm, color in zip(arms, ("C0", "C1")):
        curve = np.array(curves[arm])
        ax.plot(curve.mean(0), color=color, label=f"{arm} ({n_params[arm]} parameters)")
        ax.fill_between(np.arange(steps), curve.min(0), curve.max(0), color=color, alpha=0.2)
    ax.set_xlabel("training step")
    ax.set_ylabel("logistic loss")
    ax.legend()

    fig = run.figure("accuracy", "Test accuracy per seed on the moons")
    ax = fig.subplots()
    for i, arm in enumerate(arms):
        ax.scatter([i] * n_seeds, test_acc[arm], color=f"C{i}")
    ax.set_xticks(range(len(arms)), list(arms))
    ax.set_ylabel("test accuracy")

    fig = run.figure("cost", "Simulation time of forward + parameter-shift backward against qubits")
    ax = fig.subplots()
    ax.semilogy(qubits, 1e3 * seconds, "o-", label="measured (ms)")
    scale = 1e3 * seconds[-1] / updates[-1]
    ax.semilogy(qubits, scale * updates, "--", label="amplitude updates (counted, scaled)")
    ax.set_xlabel("qubits")
    ax.set_ylabel("milliseconds")
    ax.legend()

    gap = 100 * (np.mean(test_acc["classical"]) - np.mean(test_acc["hybrid"]))
    hybrid_mean = float(np.mean(test_acc["hybrid"]))
    slowdown = np.median(step_seconds["hybrid"]) / np.median(step_seconds["classical"])
    worst_gradient_error = max(gradient_errors)
    run.number("accuracy_gap_points", round(float(gap), 2))
    run.number("step_slowdown", round(float(slowdown), 1))
    run.number("worst_shift_vs_finite_difference", float(worst_gradient_error))
    run.claim(
        "Parameter-shift gradients of the circuit equal float64 central finite differences "
        "within 1e-6 (every seed, at initialisation)",
        worst_gradient_error < 1e-6,
        f"largest difference {worst_gradient_error:.1e}",
    )
    run.claim(
        "The hybrid model's mean test accuracy is within 3 points of the MLP with the same "
        "number of parameters",
        abs(gap) <= 3,
        f"MLP minus hybrid: {gap:+.1f} points",
        quick=False,
    )
    run.claim(
        "The hybrid model reaches at least 85% mean test accuracy on the moons",
        hybrid_mean >= 0.85,
        f"hybrid mean test accuracy {hybrid_mean:.3f}",
        quick=False,
    )
    run.claim(
        "A training step of the simulated hybrid model is at least 5x slower than one of the "
        "equal-size MLP",
        slowdown >= 5,
        f"{slowdown:.1f}x slower",
        quick=False,
    )
    run.claim(
        "Simulation time of forward + parameter-shift backward grows at least 1.6x per added "
        "qubit beyond 6 qubits (least-squares fit)",
        measured_growth is not None and measured_growth >= 1.6,
        f"{measured_growth:.2f}x per qubit" if measured_growth else "fewer than 2 sizes ≥ 6",
        quick=False,
    )
    classical_mean = float(np.mean(test_acc["classical"]))
    if abs(gap) <= 3:
        verdict = "came within 3 points of the equal-size MLP"
    else:
        side = "above" if gap < 0 else "below"
        verdict = f"ended {abs(gap):.1f} points {side} the equal-size MLP"
    final_loss = {arm: run.numbers[f"{arm}_final_train_loss"] for arm in arms}
    growth_text = (
        f"the measured time grew {measured_growth:.2f}x per qubit from 6 to {max_qubits} "
        if measured_growth is not None
        else f"the circuit was timed up to {max_qubits} qubits "
    )
    run.answer(
        "A quantum neural network is a parameterised quantum circuit used as a layer: inputs "
        "become rotation angles, trainable rotations and entangling gates act on the qubits, "
        "and measured expectations are the outputs, differentiated by the parameter-shift rule. "
        f"On the moons over {n_seeds} seeds, the hybrid model ({n_params['hybrid']} parameters) "
        f"reached {hybrid_mean:.1%} mean test accuracy against {classical_mean:.1%} for an MLP "
        f"with {n_params['classical']} parameters ({gap:+.1f} points MLP minus hybrid), while "
        f"each training step was {slowdown:.0f}x slower in simulation. Both were trained for "
        f"the same {steps} Adam steps at one untuned learning rate, ending at training losses "
        f"{final_loss['hybrid']:.3f} (hybrid) and {final_loss['classical']:.3f} (MLP): a "
        "comparison at a fixed budget, not of the best each model can do. The counted work "
        f"grows {counted_growth:.2f}x per added qubit (fit over 2 to {max_qubits}) and "
        f"{growth_text}"
        f"({1e3 * seconds[-1]:.0f} ms per batch of {cost_batch} at {max_qubits} qubits). "
        f"What this shows: the layer trains inside an ordinary model and {verdict} on a toy "
        "task. What it cannot show: any quantum advantage. A simulation is a classical "
        "computation whose state doubles in size with every qubit; any benefit would have to "
        "come from hardware, on problems that are hard to simulate, which a run like this one "
        "cannot reach."
    )
