"""The curse of dimensionality: distances stop discriminating, and data runs out.

``distance-concentration`` measures how the pairwise distances of uniform random points
bunch together as the dimension grows. ``irrelevant-dimensions`` buries a two-dimensional
task among growing numbers of useless coordinates and measures how k-nearest neighbours
and a small nnlab MLP cope at fixed sample sizes.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist, pdist

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import nn


def relative_contrast(distances: np.ndarray) -> float:
    """(max - min) / min of a set of distances: how much farther the farthest pair is
    than the nearest."""
    return float((distances.max() - distances.min()) / distances.min())


@experiment(
    "distance-concentration",
    answers=["curse-of-dimensionality"],
    quick=dict(n_points=200, n_seeds=3),
    full=dict(n_points=1000, n_seeds=5),
)
def distance_concentration(run: Run, n_points: int, n_seeds: int) -> None:
    """Do distances between random points still discriminate near from far in many
    dimensions?"""
    dims = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    contrast = {d: [] for d in dims}
    spread = {d: [] for d in dims}  # std / mean of the distances
    shown = {}
    for i, _ in enumerate(run.seeds(n_seeds)):
        rng = run.rng(i)
        for d in dims:
            distances = pdist(rng.random((n_points, d)))
            contrast[d].append(relative_contrast(distances))
            spread[d].append(float(distances.std() / distances.mean()))
            if i == 0 and d in (2, 10, 1000):
                shown[d] = distances / distances.mean()

    rows = []
    for d in dims:
        rows.append(
            (
                d,
                round(float(np.median(contrast[d])), 4),
                round(float(np.min(contrast[d])), 4),
                round(float(np.max(contrast[d])), 4),
                round(float(np.mean(spread[d])), 4),
            )
        )
        run.number(f"contrast_d{d}", round(float(np.median(contrast[d])), 4))
    run.table(
        f"Pairwise distances of {n_points} uniform points in the unit cube ({n_seeds} seeds)",
        ("dimension", "(max-min)/min median", "min", "max", "std/mean"),
        rows,
    )
    # How fast the relative spread shrinks: slope of log(std/mean) on log(d), from d=10 on.
    tail = [d for d in dims if d >= 10]
    slope = float(np.polyfit(np.log(tail), np.log([np.mean(spread[d]) for d in tail]), 1)[0])
    run.number("spread_slope_vs_log_dimension", round(slope, 4))

    fig = run.figure(
        "concentration",
        "Left: relative contrast of pairwise distances by dimension (band: seeds). "
        "Right: distances divided by their mean, one seed",
        width=9.6,
    )
    ax_c, ax_h = fig.subplots(1, 2)
    med = [np.median(contrast[d]) for d in dims]
    ax_c.plot(dims, med, marker="o")
    ax_c.fill_between(
        dims, [min(contrast[d]) for d in dims], [max(contrast[d]) for d in dims], alpha=0.3
    )
    ax_c.set_xscale("log")
    ax_c.set_yscale("log")
    ax_c.set_xlabel("dimension")
    ax_c.set_ylabel("(max - min) / min distance")
    for d, values in shown.items():
        ax_h.hist(values, bins=60, density=True, histtype="step", label=f"d = {d}")
    ax_h.set_xlabel("distance / mean distance")
    ax_h.set_ylabel("density")
    ax_h.legend()

    falls = all(np.median(contrast[a]) > np.median(contrast[b]) for a, b in zip(dims, dims[1:]))
    run.claim(
        "The relative contrast (max-min)/min falls with every step up in dimension",
        falls,
        "medians " + ", ".join(f"d{d}: {np.median(contrast[d]):.3g}" for d in dims),
    )
    run.claim(
        "In 1000 dimensions the farthest pair is less than twice as far as the nearest "
        "(contrast below 1 in every seed), while in 2 dimensions it is over 10x",
        max(contrast[1000]) < 1 and min(contrast[2]) > 10,
        f"d=1000 largest {max(contrast[1000]):.3f}, d=2 smallest {min(contrast[2]):.1f}",
    )
    run.claim(
        "The spread of distances relative to their mean shrinks like 1/sqrt(d): the "
        "log-log slope from d=10 to 1000 lies in [-0.6, -0.4]",
        -0.6 <= slope <= -0.4,
        f"slope {slope:.3f}",
    )
    run.answer(
        f"Among {n_points} uniform random points, the relative contrast of the pairwise "
        f"distances, (max - min) / min, was {np.median(contrast[2]):.0f} in 2 dimensions, "
        f"{np.median(contrast[100]):.2f} in 100 and {np.median(contrast[1000]):.3f} in 1000 "
        f"dimensions (medians over {n_seeds} seeds). The spread of the distances relative "
        f"to their mean shrank with slope {slope:.2f} on a log-log scale (1/sqrt(d) is -0.5). "
        "When every point is about equally far from every other, 'nearest' neighbours carry "
        "little information, and methods that rely on distances or local neighbourhoods "
        "need far more data to find any."
    )


def circle_task(rng: np.random.Generator, n: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform in [-1, 1]^dim; the label says whether the first two coordinates lie
    inside the circle of area 2 (half the square), so every other coordinate is noise."""
    x = rng.uniform(-1, 1, size=(n, dim)).astype(np.float32)
    inside = (x[:, 0] ** 2 + x[:, 1] ** 2) < 2 / np.pi
    return x, inside.astype(np.int64)


def knn_accuracy(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, k: int
) -> float:
    """Test accuracy of a majority vote among the k nearest training points (Euclidean)."""
    nearest = np.argpartition(cdist(x_test, x_train), k, axis=1)[:, :k]
    votes = y_train[nearest].mean(1)
    return float(((votes > 0.5).astype(np.int64) == y_test).mean())


def mlp_accuracy(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    steps: int,
    order: np.ndarray,
) -> float:
    """Test accuracy of a two-hidden-layer MLP (width 64) after ``steps`` Adam steps."""
    model = nn.Sequential(
        nn.Linear(x_train.shape[1], 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2)
    )
    opt = nnlab.optim.Adam(model.parameters(), lr=3e-3)
    xs, ys = nnlab.tensor(x_train), nnlab.tensor(y_train)
    for idx in order[:steps]:
        batch = nnlab.tensor(idx)
        loss = F.cross_entropy(model(xs[batch]), ys[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with nnlab.no_grad():
        return float((model(nnlab.tensor(x_test)).argmax(1).numpy() == y_test).mean())


@experiment(
    "irrelevant-dimensions",
    answers=["curse-of-dimensionality"],
    quick=dict(sample_sizes=(100, 300, 1000), n_test=500, steps=300, n_seeds=2),
    full=dict(sample_sizes=(100, 300, 1000, 3000, 10000), n_test=1000, steps=1500, n_seeds=4),
)
def irrelevant_dimensions(
    run: Run, sample_sizes: tuple[int, ...], n_test: int, steps: int, n_seeds: int
) -> None:
    """How many more samples does a two-dimensional task need once it is buried in many
    useless dimensions?"""
    dims = [2, 4, 8, 16, 32, 64]
    k = 5
    knn = {(d, n): [] for d in dims for n in sample_sizes}
    net = {d: [] for d in dims}
    n_net = sample_sizes[-1]
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        for d in dims:
            x, y = circle_task(rng, max(sample_sizes) + n_test, d)
            x_test, y_test = x[-n_test:], y[-n_test:]
            for n in sample_sizes:
                knn[d, n].append(knn_accuracy(x[:n], y[:n], x_test, y_test, k))
            order = rng.integers(0, n_net, size=(steps, 64))
            nnlab.manual_seed(seed)
            net[d].append(mlp_accuracy(x[:n_net], y[:n_net], x_test, y_test, steps, order))

    target = 0.85
    needed = {}
    for d in dims:
        reached = [n for n in sample_sizes if np.mean(knn[d, n]) >= target]
        needed[d] = min(reached) if reached else None
    rows = [
        (
            d,
            *(round(float(np.mean(knn[d, n])), 4) for n in sample_sizes),
            round(float(np.mean(net[d])), 4),
            needed[d] if needed[d] else f">{sample_sizes[-1]}",
        )
        for d in dims
    ]
    run.table(
        f"Test accuracy on the circle task by total dimension ({k}-NN per training-set size; "
        f"MLP with n={n_net}; {n_seeds} seeds, chance 0.5)",
        (
            "dimension",
            *(f"{k}-NN n={n}" for n in sample_sizes),
            f"MLP n={n_net}",
            f"n for {k}-NN >= {target}",
        ),
        rows,
    )
    for d in dims:
        run.number(f"knn_acc_d{d}_n{n_net}", round(float(np.mean(knn[d, n_net])), 4))
        run.number(f"mlp_acc_d{d}_n{n_net}", round(float(np.mean(net[d])), 4))

    fig = run.figure(
        "accuracy-vs-dimension", "Test accuracy against total dimension (2 relevant); bars: seeds"
    )
    ax = fig.subplots()
    for i, n in enumerate(sample_sizes):
        means = [np.mean(knn[d, n]) for d in dims]
        spread = [np.std(knn[d, n]) for d in dims]
        ax.errorbar(
            dims, means, yerr=spread, marker="o", capsize=3, color=f"C{i}", label=f"{k}-NN, n={n}"
        )
    ax.errorbar(
        dims,
        [np.mean(net[d]) for d in dims],
        yerr=[np.std(net[d]) for d in dims],
        marker="s",
        capsize=3,
        color="black",
        linestyle="--",
        label=f"MLP, n={n_net}",
    )
    ax.axhline(0.5, color="grey", linestyle=":", label="chance")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("total dimension")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=8)

    low, high = float(np.mean(knn[2, n_net])), float(np.mean(knn[64, n_net]))
    run.claim(
        f"At n={n_net}, k-NN accuracy falls from at least 90% in 2 dimensions to at most 70% "
        "with 62 useless dimensions added",
        low >= 0.9 and high <= 0.7,
        f"2 dims {low:.3f}, 64 dims {high:.3f}",
    )
    acc16 = [np.mean(knn[16, n]) for n in sample_sizes]
    run.claim(
        f"In 16 dimensions, k-NN needs at least 10x the samples that 2 dimensions need to "
        f"reach {target:.0%}",
        needed[2] is not None and (needed[16] is None or needed[16] >= 10 * needed[2]),
        f"n needed: 2 dims {needed[2]}, 16 dims {needed[16] or f'>{sample_sizes[-1]}'}; "
        f"16-dim accuracy by n {', '.join(f'{a:.3f}' for a in acc16)}",
    )
    run.claim(
        "A trained MLP copes better than k-NN with the useless dimensions: at 64 dimensions "
        "its accuracy is at least 10 points higher at the same n",
        np.mean(net[64]) - high >= 0.10,
        f"MLP {np.mean(net[64]):.3f}, k-NN {high:.3f}",
        quick=False,
    )
    reach = "; ".join(
        f"{d} dims: {needed[d] if needed[d] else f'not reached by n={sample_sizes[-1]}'}"
        for d in dims
    )
    run.answer(
        "Only the first two coordinates decide the label; the rest are uniform noise. With "
        f"{n_net} training points, {k}-nearest-neighbours scored {low:.1%} in 2 dimensions "
        f"and {high:.1%} in 64, because the useless coordinates dominate every distance. "
        f"Training points needed for {target:.0%} accuracy: {reach}. A small MLP, which can "
        "learn to give the useless inputs small weights, scored "
        f"{np.mean(net[2]):.1%} in 2 and {np.mean(net[64]):.1%} in 64 dimensions at the same "
        f"n (means over {n_seeds} seeds): more dimensions need more data, and how much more "
        "depends on whether the method can learn which dimensions matter."
    )
