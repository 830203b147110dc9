"""Why a network needs a non-linearity: stacked linear layers are one linear map.

Two tasks no straight line separates (XOR and two interleaved spirals) are given to MLPs
of the same shape, once with ReLU between the layers and once with nothing (the identity).
Both arms of a seed start from the same weights and see the same batches.
"""

from __future__ import annotations

import numpy as np

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import nn


def xor_points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Points around the four corners of the unit square; the label is x1 XOR x2."""
    corners = rng.integers(0, 2, size=(n, 2))
    x = corners + 0.1 * rng.standard_normal((n, 2))
    return (x - 0.5).astype(np.float32), (corners[:, 0] ^ corners[:, 1]).astype(np.int64)


def spiral_points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two spirals winding one and a half turns around each other."""
    label = rng.integers(0, 2, size=n)
    t = rng.uniform(0.25, 1.0, size=n)
    angle = 3 * np.pi * t + np.pi * label
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    x += 0.02 * rng.standard_normal((n, 2))
    return x.astype(np.float32), label.astype(np.int64)


def mlp(width: int, depth: int, activation: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    sizes = [2] + [width] * depth
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), activation()]
    layers.append(nn.Linear(width, 2))
    return nn.Sequential(*layers)


def train_accuracy(
    model: nn.Module, x: np.ndarray, y: np.ndarray, steps: int, order: np.ndarray
) -> float:
    """Adam on the mini-batches whose indices are the rows of ``order``; the final
    training accuracy."""
    opt = nnlab.optim.Adam(model.parameters(), lr=0.01)
    xs, ys = nnlab.tensor(x), nnlab.tensor(y)
    for step in range(steps):
        idx = nnlab.tensor(order[step])
        loss = F.cross_entropy(model(xs[idx]), ys[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with nnlab.no_grad():
        return float((model(xs).argmax(1) == ys).float().mean())


@experiment(
    "linear-stack",
    answers=["why-non-linearity"],
    quick=dict(n=256, width=32, depth=2, steps=300, n_seeds=2),
    full=dict(n=1024, width=64, depth=3, steps=2000, n_seeds=5),
)
def linear_stack(run: Run, n: int, width: int, depth: int, steps: int, n_seeds: int) -> None:
    """Can a deep network without non-linearities learn XOR or two spirals?"""
    tasks = {"xor": xor_points, "spirals": spiral_points}
    arms = {"relu": nn.ReLU, "identity": nn.Identity}
    acc = {(t, a): [] for t in tasks for a in arms}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        for task, make in tasks.items():
            x, y = make(rng, n)
            order = rng.integers(0, n, size=(steps, 64))
            for arm, activation in arms.items():
                nnlab.manual_seed(seed)  # both arms start from the same weights
                model = mlp(width, depth, activation)
                acc[task, arm].append(train_accuracy(model, x, y, steps, order))

    rows = []
    for (task, arm), values in acc.items():
        mean, std = float(np.mean(values)), float(np.std(values))
        run.number(f"{task}_{arm}_accuracy", round(mean, 4))
        rows.append((task, arm, round(mean, 4), round(std, 4), n_seeds))
    run.table("Training accuracy over seeds", ("task", "activation", "mean", "std", "seeds"), rows)

    fig = run.figure("accuracy", "Training accuracy per seed: ReLU against no non-linearity")
    ax = fig.subplots()
    for i, (key, values) in enumerate(acc.items()):
        ax.scatter([i] * len(values), values, color="C0" if key[1] == "relu" else "C3")
    ax.set_xticks(range(len(acc)), [f"{t}\n{a}" for t, a in acc])
    ax.axhline(0.5, color="grey", linestyle=":", label="chance")
    ax.set_ylabel("training accuracy")
    ax.set_ylim(0.3, 1.02)
    ax.legend()

    linear_best = max(max(acc["xor", "identity"]), max(acc["spirals", "identity"]))
    relu_worst = min(min(acc["xor", "relu"]), min(acc["spirals", "relu"]))
    run.claim(
        "Without a non-linearity no seed exceeds 80% training accuracy on XOR or the spirals",
        linear_best <= 0.80,
        f"best identity-network accuracy {linear_best:.3f}",
    )
    run.claim(
        "With ReLU every seed exceeds 95% training accuracy on both tasks",
        relu_worst >= 0.95,
        f"worst ReLU-network accuracy {relu_worst:.3f}",
        quick=False,
    )
    run.answer(
        f"A {depth}-hidden-layer network with no activation is a single linear map: its best "
        f"training accuracy over {n_seeds} seeds was {linear_best:.1%}, close to what one "
        f"line can do, while the same network with ReLU reached at least {relu_worst:.1%} "
        "on both XOR and the spirals."
    )
