"""Memory in sequence models: what a recurrent network remembers, and for how long.

The task: a sequence of ``length`` random symbols whose *first* symbol (one of
``classes``) is the label; everything after it is noise. A model must carry that one
symbol through every later step. The arms are a window MLP that sees only the last
``window`` steps, a tanh RNN with its hidden-to-hidden weights frozen at zero (no
recurrence), a tanh RNN, an LSTM, an LSTM whose forget-gate bias starts at 1 instead of
0, and a GRU, all with the same hidden size, the same batches, and per seed the same data.
"""

from __future__ import annotations

import numpy as np

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import nn

SYMBOLS = 8  # input alphabet; the first ``classes`` symbols are also the labels


def first_symbol_task(
    rng: np.random.Generator, n: int, length: int, classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """One-hot sequences (n, length, SYMBOLS) whose label is the class of the first symbol."""
    labels = rng.integers(0, classes, size=n)
    symbols = rng.integers(0, SYMBOLS, size=(n, length))
    symbols[:, 0] = labels
    return np.eye(SYMBOLS, dtype=np.float32)[symbols], labels.astype(np.int64)


class Recurrent(nn.Module):
    """A recurrent layer read out at its last step: logits = W·h_T + b."""

    def __init__(
        self,
        cell: str,
        hidden: int,
        classes: int,
        recurrence: bool = True,
        forget_bias: float | None = None,
    ) -> None:
        super().__init__()
        layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.rnn = layer(SYMBOLS, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)
        if not recurrence:
            with nnlab.no_grad():
                self.rnn.weight_hh_l0.zero_()
            self.rnn.weight_hh_l0.requires_grad_(False)
        if forget_bias is not None:
            # The gates are stacked (input, forget, cell, output); a forget gate that
            # starts open (sigmoid(1) ≈ 0.73 instead of 0.5) keeps memories from the start.
            with nnlab.no_grad():
                self.rnn.bias_ih_l0[hidden : 2 * hidden] = forget_bias

    def forward(self, x: nnlab.Tensor) -> nnlab.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


class WindowMLP(nn.Module):
    """An MLP over the last ``window`` steps only, flattened: a fixed-size input."""

    def __init__(self, window: int, hidden: int, classes: int) -> None:
        super().__init__()
        self.window = window
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(window * SYMBOLS, hidden), nn.ReLU(), nn.Linear(hidden, classes)
        )

    def forward(self, x: nnlab.Tensor) -> nnlab.Tensor:
        short = self.window - x.shape[1]
        if short > 0:  # fewer steps than the window: zeros stand for the missing past
            x = F.pad(x, (0, 0, short, 0))
        return self.net(x[:, -self.window :])


def make_arm(arm: str, hidden: int, classes: int, window: int) -> nn.Module:
    if arm == "window-mlp":
        return WindowMLP(window, hidden, classes)
    if arm == "rnn-no-recurrence":
        return Recurrent("rnn", hidden, classes, recurrence=False)
    if arm == "lstm-forget-bias-1":
        return Recurrent("lstm", hidden, classes, forget_bias=1.0)
    return Recurrent(arm, hidden, classes)


ARMS = ("window-mlp", "rnn-no-recurrence", "rnn", "lstm", "lstm-forget-bias-1", "gru")


def train_and_test(
    model: nn.Module, data: tuple[np.ndarray, ...], order: np.ndarray, lr: float
) -> float:
    """Adam on the mini-batches indexed by the rows of ``order`` (gradient norm clipped
    at 1); accuracy on the test split."""
    x, y, x_test, y_test = (nnlab.tensor(a) for a in data)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = nnlab.optim.Adam(params, lr=lr)
    for idx in order:
        i = nnlab.tensor(idx)
        loss = F.cross_entropy(model(x[i]), y[i])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    model.eval()
    with nnlab.no_grad():
        return float((model(x_test).argmax(1) == y_test).float().mean())


@experiment(
    "sequence-memory",
    answers=[
        "recurrent-networks",
        "feedforward-versus-recurrent",
        "recurrent-connections",
        "lstm-and-gru",
    ],
    quick=dict(lengths=(4, 12), steps=150, hidden=24, n_seeds=2),
    full=dict(lengths=(4, 12, 30, 60), steps=1000, hidden=32, n_seeds=3),
)
def sequence_memory(
    run: Run, lengths: tuple[int, ...], steps: int, hidden: int, n_seeds: int
) -> None:
    """How far back can a window MLP, an RNN, an LSTM and a GRU remember one symbol?"""
    classes, window, batch, n_train, n_test = 4, 6, 32, 1024, 512
    chance = 1 / classes
    acc = {(arm, t): [] for arm in ARMS for t in lengths}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        for t in lengths:
            data = (
                *first_symbol_task(rng, n_train, t, classes),
                *first_symbol_task(rng, n_test, t, classes),
            )
            order = rng.integers(0, n_train, size=(steps, batch))
            for arm in ARMS:
                nnlab.manual_seed(seed)
                model = make_arm(arm, hidden, classes, window)
                acc[arm, t].append(train_and_test(model, data, order, lr=1e-2))

    mean = {k: float(np.mean(v)) for k, v in acc.items()}
    rows = [
        (arm, t, round(mean[arm, t], 3), round(min(acc[arm, t]), 3), round(max(acc[arm, t]), 3))
        for arm in ARMS
        for t in lengths
    ]
    run.table(
        f"Test accuracy recalling the first symbol ({n_seeds} seeds; chance {chance:.2f})",
        ("model", "length", "mean", "min", "max"),
        rows,
    )
    for (arm, t), value in mean.items():
        run.number(f"{arm}_len{t}_accuracy", round(value, 4))

    fig = run.figure("accuracy-by-length", "Mean test accuracy against sequence length")
    ax = fig.subplots()
    for arm in ARMS:
        ax.plot(lengths, [mean[arm, t] for t in lengths], marker="o", label=arm)
    ax.axhline(chance, color="grey", linestyle=":", label="chance")
    ax.axvline(window, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("sequence length (the label is the first symbol)")
    ax.set_ylabel("test accuracy")
    ax.legend()

    longest = max(lengths)
    beyond = [t for t in lengths if t > window]
    mlp_beyond = max(mean["window-mlp", t] for t in beyond)
    mlp_within = min(mean["window-mlp", t] for t in lengths if t <= window)
    frozen = max(mean["rnn-no-recurrence", t] for t in beyond)
    gated = min(min(mean["lstm", t], mean["gru", t]) for t in lengths)
    gap = min(mean["lstm", longest], mean["gru", longest]) - mean["rnn", longest]
    run.claim(
        "The window MLP recalls the symbol (≥ 90%) while it lies inside its window",
        mlp_within >= 0.9,
        f"worst mean accuracy with the symbol inside the window {mlp_within:.3f}",
    )
    run.claim(
        "Beyond its window the MLP is at chance (within 10 points)",
        mlp_beyond <= chance + 0.1,
        f"best mean accuracy beyond the window {mlp_beyond:.3f}",
    )
    run.claim(
        "An RNN with the recurrent weights frozen at zero is at chance (within 10 points) "
        "for every length above its window",
        frozen <= chance + 0.1,
        f"best mean accuracy without recurrence {frozen:.3f}",
    )
    run.claim(
        "The LSTM and the GRU recall the symbol (≥ 90%) at every length",
        gated >= 0.9,
        f"worst mean accuracy of LSTM/GRU {gated:.3f}",
        quick=False,
    )
    run.claim(
        f"At length {longest} the plain RNN is at least 20 points behind both gated cells",
        gap >= 0.2,
        f"gated minus RNN accuracy {gap:+.3f}",
        quick=False,
    )
    opened = min(mean["lstm-forget-bias-1", t] for t in lengths)
    run.claim(
        "Starting the LSTM's forget-gate bias at 1 lets it recall the symbol (≥ 90%) at "
        "every length",
        opened >= 0.9,
        f"worst mean accuracy {opened:.3f}",
        quick=False,
    )
    run.answer(
        f"Only recurrence carries the symbol past a fixed window: the window MLP scored "
        f"{mlp_within:.0%} with the symbol in view and at most {mlp_beyond:.0%} beyond it, and "
        f"the RNN without recurrent weights at most {frozen:.0%} (chance {chance:.0%}). At "
        f"length {longest} the LSTM scored {mean['lstm', longest]:.0%} (with its forget-gate "
        f"bias started at 1, {mean['lstm-forget-bias-1', longest]:.0%}), the GRU "
        f"{mean['gru', longest]:.0%} and the plain RNN {mean['rnn', longest]:.0%}."
    )


def input_gradient_by_lag(cell: str, length: int, hidden: int, n: int) -> np.ndarray:
    """Mean norm of ∂(Σ h_T)/∂x_t over a batch of random inputs, for lag T - t = 0..length-1."""
    layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](SYMBOLS, hidden, batch_first=True)
    x = nnlab.randn(n, length, SYMBOLS, requires_grad=True)
    out, _ = layer(x)
    out[:, -1].sum().backward()
    norms = np.linalg.norm(x.grad.numpy(), axis=2).mean(axis=0)  # (length,) by time step
    return norms[::-1]  # index = lag


@experiment(
    "rnn-gradient-lag",
    answers=["rnn-vanishing-gradients"],
    quick=dict(length=40, hidden=32, n_seeds=3),
    full=dict(length=100, hidden=64, n_seeds=10),
)
def rnn_gradient_lag(run: Run, length: int, hidden: int, n_seeds: int) -> None:
    """How fast does the gradient reaching an input fade with its distance from the output?"""
    cells = ("rnn", "lstm", "gru")
    curves = {c: [] for c in cells}
    for seed in run.seeds(n_seeds):
        for cell in cells:
            nnlab.manual_seed(seed)
            curves[cell].append(input_gradient_by_lag(cell, length, hidden, n=32))
    mean = {c: np.mean(curves[c], axis=0) for c in cells}
    relative = {c: mean[c] / mean[c][0] for c in cells}

    lags = [lag for lag in (1, 5, 10, 20, 40, 80) if lag < length]
    run.table(
        "Input-gradient norm at each lag relative to lag 0 (freshly initialised layers, "
        f"mean over {n_seeds} seeds)",
        ("cell", *[f"lag {lag}" for lag in lags]),
        [(c, *[float(f"{relative[c][lag]:.3g}") for lag in lags]) for c in cells],
    )
    fig = run.figure("gradient-by-lag", "Input-gradient norm against lag, relative to lag 0")
    ax = fig.subplots()
    for c in cells:
        ax.semilogy(np.arange(length), relative[c], label=c)
    ax.set_xlabel("lag T - t (steps between input and output)")
    ax.set_ylabel("‖∂h_T/∂x_t‖ / ‖∂h_T/∂x_T‖")
    ax.legend()

    probe = lags[-1] if lags[-1] <= 20 else 20
    for c in cells:
        run.number(f"{c}_relative_gradient_lag{probe}", float(f"{relative[c][probe]:.4g}"))
    # The lag at which the gradient has fallen a thousandfold, a length scale of memory.
    reach = {c: int(np.argmax(relative[c] < 1e-3)) if (relative[c] < 1e-3).any() else length
             for c in cells}  # fmt: skip
    for c in cells:
        run.number(f"{c}_lag_to_1e-3", reach[c])
    run.claim(
        f"In a tanh RNN the gradient reaching an input {probe} steps back is below 1% of the "
        "gradient at lag 0",
        relative["rnn"][probe] < 1e-2,
        f"relative norm {relative['rnn'][probe]:.3g}",
    )
    run.claim(
        f"At lag {probe} a freshly initialised LSTM passes at least 10× more gradient than "
        "the tanh RNN",
        relative["lstm"][probe] >= 10 * relative["rnn"][probe],
        f"LSTM {relative['lstm'][probe]:.3g} vs RNN {relative['rnn'][probe]:.3g}",
        quick=False,
    )
    run.answer(
        f"At initialisation the gradient fades geometrically with the lag: {probe} steps back "
        f"it is {relative['rnn'][probe]:.2g} of its lag-0 size in a tanh RNN, "
        f"{relative['lstm'][probe]:.2g} in an LSTM and {relative['gru'][probe]:.2g} in a GRU; "
        f"it falls a thousandfold after {reach['rnn']}, {reach['lstm']} and {reach['gru']} "
        "steps respectively."
    )
