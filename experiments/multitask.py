"""Multi-task learning: one shared trunk with a head per task against a network per task.

Two regression targets are read off the same inputs. In the *related* setting both
targets are different linear read-outs of one hidden non-linear feature map of the input,
so a trunk that learns that map serves both; in the *unrelated* setting the second target
reads a different, independent feature map. A shared trunk trained on both losses is
compared with two separate networks of the same shape, each trained on its own task,
at several training-set sizes. All arms of a seed start from the same weights (the
separate trunks are copies of the shared one) and take the same full-batch Adam steps.
"""

from __future__ import annotations

import copy

import numpy as np

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import nn

INPUTS, LATENT, NOISE = 20, 4, 0.1


def feature_map(rng: np.random.Generator) -> np.ndarray:
    """A random projection to the hidden features, ``tanh(x @ A)``; A is (INPUTS, LATENT)."""
    return rng.standard_normal((INPUTS, LATENT)) / np.sqrt(INPUTS / 2)


def make_tasks(
    rng: np.random.Generator, n: int, maps: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (n, INPUTS) and two targets (n, 2): target t is a random linear read-out of
    ``tanh(x @ maps[t])`` plus noise, each scaled to unit variance."""
    x = rng.standard_normal((n, INPUTS))
    ys = []
    for a, w in zip(maps, (np.ones(LATENT), np.linspace(-1.0, 1.5, LATENT))):
        y = np.tanh(x @ a) @ w
        ys.append(y / y.std() + NOISE * rng.standard_normal(n))
    return x.astype(np.float32), np.stack(ys, axis=1).astype(np.float32)


class TwoHeads(nn.Module):
    """A trunk ``Linear → Tanh`` and one linear head per task; outputs (N, heads)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(INPUTS, width), nn.Tanh())
        self.heads = nn.Linear(width, heads)

    def forward(self, x: nnlab.Tensor) -> nnlab.Tensor:
        return self.heads(self.trunk(x))


def separate_copies(shared: TwoHeads) -> list[TwoHeads]:
    """One single-task network per head of ``shared``, each starting from its trunk and
    from that head's row of weights, so every arm starts from the same function."""
    nets = []
    for t in range(shared.heads.out_features):
        net = TwoHeads(shared.heads.in_features, 1)
        net.trunk = copy.deepcopy(shared.trunk)
        with nnlab.no_grad():
            net.heads.weight.array[...] = shared.heads.weight.array[t : t + 1]
            net.heads.bias.array[...] = shared.heads.bias.array[t : t + 1]
        nets.append(net)
    return nets


def fit_full_batch(model: nn.Module, x: np.ndarray, y: np.ndarray, steps: int) -> None:
    """Full-batch Adam on the sum of the per-task mean squared errors."""
    opt = nnlab.optim.Adam(model.parameters(), lr=0.01)
    xs, ys = nnlab.tensor(x), nnlab.tensor(y)
    for _ in range(steps):
        loss = F.mse_loss(model(xs), ys) * y.shape[1]
        opt.zero_grad()
        loss.backward()
        opt.step()


def task_mse(model: nn.Module, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean squared error per task, shape (tasks,)."""
    with nnlab.no_grad():
        return ((model(nnlab.tensor(x)).numpy() - y) ** 2).mean(axis=0)


def compare(
    x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
    width: int, steps: int, seed: int,
) -> tuple[float, float]:  # fmt: skip
    """Test MSE (mean over the two tasks) of the shared trunk and of the separate nets."""
    nnlab.manual_seed(seed)
    shared = TwoHeads(width, 2)
    separate = separate_copies(shared)
    fit_full_batch(shared, x, y, steps)
    shared_mse = task_mse(shared, x_test, y_test).mean()
    separate_mse = []
    for t, net in enumerate(separate):
        fit_full_batch(net, x, y[:, t : t + 1], steps)
        separate_mse.append(task_mse(net, x_test, y_test[:, t : t + 1])[0])
    return float(shared_mse), float(np.mean(separate_mse))


@experiment(
    "shared-trunk",
    answers=["multi-task-learning"],
    quick=dict(sizes=(20, 200), width=32, steps=200, n_seeds=2),
    full=dict(sizes=(20, 50, 200, 1000), width=64, steps=800, n_seeds=6),
)
def shared_trunk(run: Run, sizes: tuple[int, ...], width: int, steps: int, n_seeds: int) -> None:
    """When does one network with two heads learn two tasks better than two networks?"""
    settings = ("related", "unrelated")
    # gain[setting][n]: 1 - shared MSE / separate MSE per seed (positive: sharing helps)
    gain = {s: {n: [] for n in sizes} for s in settings}
    mse = {(s, arm, n): [] for s in settings for arm in ("shared", "separate") for n in sizes}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        a, b = feature_map(rng), feature_map(rng)
        for k, (setting, maps) in enumerate((("related", (a, a)), ("unrelated", (a, b)))):
            data_rng = np.random.default_rng([seed, k])
            x_test, y_test = make_tasks(data_rng, 2000, maps)
            x_all, y_all = make_tasks(data_rng, max(sizes), maps)
            for n in sizes:
                shared, separate = compare(x_all[:n], y_all[:n], x_test, y_test, width, steps, seed)
                mse[setting, "shared", n].append(shared)
                mse[setting, "separate", n].append(separate)
                gain[setting][n].append(1.0 - shared / separate)

    rows = []
    for s in settings:
        for n in sizes:
            g = gain[s][n]
            run.number(f"{s}_n{n}_gain_mean", round(float(np.mean(g)), 4))
            shared, separate = np.mean(mse[s, "shared", n]), np.mean(mse[s, "separate", n])
            row = (s, n, shared, separate, np.mean(g), min(g), max(g))
            rows.append(tuple(round(float(v), 4) if i > 1 else v for i, v in enumerate(row)))
    run.table(
        f"Test MSE (mean of the two tasks; targets have unit variance) over {n_seeds} seeds",
        ("tasks", "training examples", "shared trunk", "separate nets",
         "gain mean", "gain min", "gain max"),
        rows,
    )  # fmt: skip
    shared_params = sum(p.numel() for p in TwoHeads(width, 2).parameters())
    separate_params = 2 * sum(p.numel() for p in TwoHeads(width, 1).parameters())
    run.number("shared_parameters", shared_params)
    run.number("separate_parameters", separate_params)
    _plot(run, gain, sizes)

    small, large = min(sizes), max(sizes)
    related_small = float(np.mean(gain["related"][small]))
    related_large = float(np.mean(gain["related"][large]))
    unrelated_small = float(np.mean(gain["unrelated"][small]))
    run.claim(
        "One trunk with two heads needs fewer parameters than two separate networks",
        shared_params < separate_params,
        f"{shared_params} against {separate_params}",
    )
    run.claim(
        f"With few examples ({small}) and related tasks the shared trunk's test MSE is at least "
        "10% lower than the separate networks' (mean gain over seeds)",
        related_small >= 0.10,
        f"gain {related_small:+.3f}",
        quick=False,
    )
    run.claim(
        "Sharing helps related tasks more than unrelated ones at the smallest size",
        related_small > unrelated_small,
        f"related {related_small:+.3f}, unrelated {unrelated_small:+.3f}",
        quick=False,
    )
    run.claim(
        f"The benefit of sharing shrinks with data: the related-task gain at {large} examples is "
        f"below the gain at {small}",
        related_large < related_small,
        f"{small}: {related_small:+.3f}, {large}: {related_large:+.3f}",
        quick=False,
    )

    def changes(setting: str) -> str:
        return ", ".join(f"{-float(np.mean(gain[setting][n])):+.1%} at {n}" for n in sizes)

    run.answer(
        "Multi-task learning trains one network on several tasks at once, usually a shared "
        "trunk with a head per task, so each task's data also shapes the features the others "
        "use. Here a shared trunk with two heads was compared with two separate networks "
        f"(same initial weights and steps, {n_seeds} seeds). Its test error relative to the "
        f"separate networks' was {changes('related')} training examples when both targets "
        f"read the same hidden features, and {changes('unrelated')} when they read "
        f"independent ones. The shared model has fewer parameters ({shared_params} against "
        f"{separate_params})."
    )


def _plot(run: Run, gain: dict[str, dict[int, list[float]]], sizes: tuple[int, ...]) -> None:
    """Relative gain of the shared trunk against training-set size, every seed."""
    fig = run.figure(
        "gain", "1 - (shared test MSE / separate test MSE) against training examples; dots "
        "are seeds, lines their means. Above zero, sharing helps.",
    )  # fmt: skip
    ax = fig.subplots()
    for i, (setting, by_size) in enumerate(gain.items()):
        means = [np.mean(by_size[n]) for n in sizes]
        ax.plot(sizes, means, color=f"C{i}", marker="o", label=f"{setting} tasks")
        for n in sizes:
            ax.scatter([n] * len(by_size[n]), by_size[n], color=f"C{i}", s=10, alpha=0.5)
    ax.axhline(0.0, color="grey", linestyle=":")
    ax.set_xscale("log")
    ax.set_xlabel("training examples")
    ax.set_ylabel("relative reduction of test MSE")
    ax.legend()
