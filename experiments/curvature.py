"""Curvature of the loss around trained networks: do large batches find sharper minima?

Keskar et al. (2017) reported that large-batch training lands in sharp minima (large
Hessian eigenvalues, a steep rise within a small box) that generalise worse than the flat
minima small batches find. Here a digits MLP is trained from the same initialisation with
batches of 32 and of 512 examples, both down to the same training loss, and each solution's
sharpness is measured with :mod:`nnlab.analysis.hessian` (top eigenvalue by power iteration
on double-backward Hessian-vector products, ε-sharpness) and its surroundings with
:mod:`nnlab.analysis.landscape` (filter-normalised 1-D slices and 2-D surfaces). The
straight lines between two independently trained solutions and between two points of one
run show what separates solutions. The eigenvalue routine itself is first checked against
the exact Hessian of a tiny network.
"""

from __future__ import annotations

import numpy as np

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from experiments.optimizers import (
    Split,
    digits_split,
    evaluate,
    mlp,
    shuffled_batches,
    spread,
    train_step,
)
from nnlab import nn, optim
from nnlab.analysis.hessian import epsilon_sharpness, hessian_trace, top_hessian_eigenvalues
from nnlab.analysis.landscape import (
    filter_normalized_direction,
    linear_interpolation,
    loss_barrier,
    loss_slice_1d,
    loss_surface_2d,
)
from nnlab.autograd.functional import hessian

SMALL, LARGE = 32, 512
TARGET_LOSS = 0.02  # both arms are trained down to this training loss
LR = 0.05
EPSILON = 1e-3  # the box half-width of Keskar et al.'s ε-sharpness


def nll(logits: nnlab.Tensor, y: nnlab.Tensor) -> nnlab.Tensor:
    """Cross-entropy written with twice-differentiable ops (for Hessian-vector products)."""
    return F.nll_loss(F.log_softmax(logits, 1), y)


# ------------------------------------------------------------ the exact-Hessian check


def tiny_problem(rng: np.random.Generator, n: int, pixels: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` digit images of classes 0-2 reduced to ``pixels`` random pixels, in float64."""
    split = digits_split(rng, val_fraction=0.0)
    x, y = split.x_train, split.y_train
    keep = np.flatnonzero(y < 3)[:n]
    columns = rng.choice(np.flatnonzero(x.std(0) > 0), pixels, replace=False)
    return x[keep][:, columns].astype(np.float64), y[keep]


def tiny_flat_loss(x: np.ndarray, y: np.ndarray, hidden: int):
    """The tiny tanh MLP's loss as a function of one flat parameter vector, in the order of
    ``nn.Sequential(Linear, Tanh, Linear).parameters()``."""
    n_in, n_out = x.shape[1], 3
    cut = np.cumsum([hidden * n_in, hidden, n_out * hidden])
    xs, ys = nnlab.tensor(x), nnlab.tensor(y)

    def loss(theta: nnlab.Tensor) -> nnlab.Tensor:
        w1, b1 = theta[: cut[0]].reshape(hidden, n_in), theta[cut[0] : cut[1]]
        w2, b2 = theta[cut[1] : cut[2]].reshape(n_out, hidden), theta[cut[2] :]
        return nll(F.linear(F.linear(xs, w1, b1).tanh(), w2, b2), ys)

    return loss


def spectrum_check(run: Run, k: int) -> dict[str, np.ndarray | float]:
    """Top-k eigenvalues of a 51-parameter network's Hessian three ways: exact (the full
    Hessian from ``nnlab.autograd.functional.hessian``, then ``eigvalsh``), power iteration
    and Lanczos; and Hutchinson's trace against the exact trace."""
    x, y = tiny_problem(run.rng(1), n=150, pixels=8)
    hidden = 4
    nnlab.manual_seed(run.seed)
    model = nn.Sequential(nn.Linear(8, hidden), nn.Tanh(), nn.Linear(hidden, 3)).double()
    opt = optim.SGD(model.parameters(), lr=0.5)
    for _ in range(100):  # away from the initialisation, toward a minimum
        train_step(model, opt, x, y)
    theta = np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])
    exact_h = hessian(tiny_flat_loss(x, y, hidden), nnlab.tensor(theta)).numpy()
    exact = np.linalg.eigvalsh(exact_h)
    generator = nnlab.Generator(run.seed)
    power = top_hessian_eigenvalues(model, nll, (x, y), k=k, iters=2000, tol=1e-10,
                                    generator=generator)  # fmt: skip
    lanczos = top_hessian_eigenvalues(model, nll, (x, y), k=k, iters=len(theta),
                                      method="lanczos", generator=generator)  # fmt: skip
    trace = hessian_trace(model, nll, (x, y), samples=500, generator=generator)
    return {
        "n_params": len(theta),
        "exact": exact[np.argsort(-np.abs(exact))[:k]],
        "power": power.eigenvalues,
        "lanczos": lanczos.eigenvalues,
        "exact_trace": float(np.trace(exact_h)),
        "trace": trace.trace,
        "trace_se": trace.std_error,
    }


# ------------------------------------------------------------------------- training


def train_to_target(
    seed: int, order_seed: int, batch_size: int, data: Split, max_epochs: int
) -> tuple[nn.Module, list[dict], int]:
    """An MLP started from ``seed``'s weights, trained with SGD (momentum 0.9) on batches of
    ``batch_size`` shuffled by ``order_seed`` until its training loss is below
    TARGET_LOSS (checked after every epoch) or ``max_epochs`` pass; also its state after
    every epoch, and the number of epochs run."""
    nnlab.manual_seed(seed)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    rng = np.random.default_rng(order_seed)
    states = []
    for _ in range(max_epochs):
        for idx in shuffled_batches(rng, len(data.y_train), batch_size, 1):
            train_step(model, opt, data.x_train[idx], data.y_train[idx])
        states.append({k: t.detach().numpy().copy() for k, t in model.state_dict().items()})
        if evaluate(model, data.x_train, data.y_train)[0] < TARGET_LOSS:
            break
    return model, states, len(states)


def measure(model: nn.Module, data: Split, seed: int, alphas: np.ndarray) -> dict:
    """Training loss, validation accuracy, top Hessian eigenvalue, ε-sharpness and a
    filter-normalised 1-D slice of the training loss (direction drawn from ``seed``, so the
    two arms of a seed share its Gaussian draw)."""
    train = (data.x_train, data.y_train)
    direction = filter_normalized_direction(model, generator=nnlab.Generator(seed))
    top = top_hessian_eigenvalues(model, nll, train, generator=nnlab.Generator(seed))
    return {
        "train_loss": evaluate(model, *train)[0],
        "val_accuracy": evaluate(model, data.x_val, data.y_val)[1],
        "top_eigenvalue": float(top.eigenvalues[0]),
        "eps_sharpness": epsilon_sharpness(
            model, F.cross_entropy, train, EPSILON, generator=nnlab.Generator(seed)
        ),
        "slice": loss_slice_1d(model, F.cross_entropy, train, direction, alphas),
    }


def surface(model: nn.Module, data: Split, seed: int, axis: np.ndarray) -> np.ndarray:
    """Training loss on the plane of two filter-normalised directions around ``model``."""
    d1 = filter_normalized_direction(model, generator=nnlab.Generator(seed + 1))
    d2 = filter_normalized_direction(model, generator=nnlab.Generator(seed + 2))
    train = (data.x_train, data.y_train)
    return loss_surface_2d(model, F.cross_entropy, train, d1, d2, axis, axis)


# ----------------------------------------------------------------------- experiment


@experiment(
    "batch-size-sharpness",
    answers=["loss-landscape", "gradient-descent-variants"],
    quick=dict(n_seeds=2, max_epochs=300, n_alphas=21, grid=7, n_ts=13),
    full=dict(n_seeds=8, max_epochs=400, n_alphas=41, grid=25, n_ts=31),
)
def batch_size_sharpness(
    run: Run, n_seeds: int, max_epochs: int, n_alphas: int, grid: int, n_ts: int
) -> None:
    """Do large batches find sharper minima that generalise worse, and what lies between
    two solutions?"""
    check = spectrum_check(run, k=3)
    power_error = float(np.max(np.abs(check["power"] / check["exact"] - 1)))
    lanczos_error = float(np.max(np.abs(check["lanczos"] / check["exact"] - 1)))
    trace_error = abs(check["trace"] - check["exact_trace"])
    run.number("spectrum_check_power_max_relative_error", power_error)
    run.number("spectrum_check_lanczos_max_relative_error", lanczos_error)
    run.number("spectrum_check_trace_error_in_standard_errors", trace_error / check["trace_se"])
    run.table(
        f"Top Hessian eigenvalues of a {check['n_params']}-parameter tanh MLP (digits 0-2, "
        "8 pixels): exact against the Hessian-vector-product methods",
        ("eigenvalue", "exact (eigvalsh)", "power iteration", "Lanczos"),
        [
            (i + 1, float(e), float(p), float(q))
            for i, (e, p, q) in enumerate(zip(check["exact"], check["power"], check["lanczos"]))
        ]
        + [
            (
                "trace (Hutchinson, 500 samples)",
                check["exact_trace"],
                f"{check['trace']:.4f} ± {check['trace_se']:.4f}",
                "",
            )
        ],
    )

    data = digits_split(run.rng(0))
    alphas = np.round(np.linspace(-1, 1, n_alphas), 6)
    ts = np.round(np.linspace(-0.25, 1.25, n_ts), 6)
    arms = {f"batch {SMALL}": SMALL, f"batch {LARGE}": LARGE}
    results = {arm: [] for arm in arms}
    epochs = {arm: [] for arm in arms}
    paths = {"independent solutions": [], "same run, halfway to end": []}
    surfaces = {}
    for seed in run.seeds(n_seeds):
        for arm, size in arms.items():
            # Same initial weights (seed) and shuffling stream for both batch sizes.
            model, states, ran = train_to_target(seed, seed, size, data, max_epochs)
            epochs[arm].append(ran)
            results[arm].append(measure(model, data, seed, alphas))
            if seed == run.seeds(1)[0]:
                surfaces[arm] = surface(model, data, seed, np.linspace(-1, 1, grid))
            if size == SMALL:
                small_model, small_states = model, states
        other, _, _ = train_to_target(seed + 500, seed, SMALL, data, max_epochs)
        end = small_states[-1]
        pairs = {
            "independent solutions": (end, other.state_dict()),
            "same run, halfway to end": (small_states[len(small_states) // 2 - 1], end),
        }
        for name, (a, b) in pairs.items():
            train = linear_interpolation(small_model, F.cross_entropy,
                                         (data.x_train, data.y_train), a, b, ts)  # fmt: skip
            val = linear_interpolation(small_model, F.cross_entropy, (data.x_val, data.y_val),
                                       a, b, ts, accuracy=True)  # fmt: skip
            paths[name].append((train.losses, val.accuracies))

    def values(arm: str, key: str) -> np.ndarray:
        return np.array([r[key] for r in results[arm]])

    zero, half = int(np.flatnonzero(alphas == 0)[0]), np.flatnonzero(np.abs(alphas) == 0.5)
    rise = {
        arm: np.array([r["slice"][half].mean() - r["slice"][zero] for r in results[arm]])
        for arm in arms
    }
    rows = []
    for arm in arms:
        cells = [arm]
        for key in ("train_loss", "val_accuracy", "top_eigenvalue", "eps_sharpness"):
            mean, std, _, _ = spread(list(values(arm, key)))
            run.number(f"{key}_{arm.replace(' ', '_')}_mean", mean)
            cells.append(f"{mean:.4g} ± {std:.2g}")
        cells.insert(1, f"{np.mean(epochs[arm]):.1f}")
        cells.append(f"{rise[arm].mean():.4g} ± {rise[arm].std():.2g}")
        run.number(f"slice_rise_at_half_{arm.replace(' ', '_')}_mean", float(rise[arm].mean()))
        rows.append(cells)
    run.table(
        f"Small- against large-batch solutions from the same initialisations (mean ± std over "
        f"{n_seeds} seeds; SGD lr {LR}, momentum 0.9, trained to training loss < {TARGET_LOSS})",
        (
            "batch size",
            "epochs",
            "training loss",
            "validation accuracy",
            "top Hessian eigenvalue",
            f"ε-sharpness (%, ε = {EPSILON})",
            "slice rise at |α| = 0.5",
        ),
        rows,
    )
    barriers = {
        name: np.array([loss_barrier(ts, losses) for losses, _ in pairs])
        for name, pairs in paths.items()
    }
    at_mid = int(np.flatnonzero(ts == 0.5)[0])
    run.table(
        f"Training loss on the straight line between two solutions (batch {SMALL}, "
        f"{n_seeds} pairs each)",
        ("pair", "barrier mean", "barrier min", "barrier max", "validation accuracy at t = 0.5"),
        [
            (
                name,
                float(b.mean()),
                float(b.min()),
                float(b.max()),
                float(np.mean([acc[at_mid] for _, acc in paths[name]])),
            )
            for name, b in barriers.items()
        ],
    )
    for name, b in barriers.items():
        run.number(f"barrier_{name.split(',')[0].replace(' ', '_')}_mean", float(b.mean()))

    fig = run.figure(
        "slices",
        "Training loss along one filter-normalised random direction per seed (left) and the "
        "top Hessian eigenvalue of each seed's two solutions (right)",
        width=11,
    )
    left, right = fig.subplots(1, 2)
    for i, arm in enumerate(arms):
        for j, r in enumerate(results[arm]):
            left.semilogy(alphas, r["slice"], color=f"C{i}", alpha=0.7,
                          label=arm if j == 0 else None)  # fmt: skip
    left.set_xlabel("α (step along the filter-normalised direction)")
    left.set_ylabel("training cross-entropy")
    left.legend()
    small_top, large_top = (values(arm, "top_eigenvalue") for arm in arms)
    for s, l_ in zip(small_top, large_top):
        right.plot([0, 1], [s, l_], "o-", color="grey")
    right.set_xticks([0, 1], list(arms))
    right.set_xlim(-0.5, 1.5)
    right.set_ylabel("top Hessian eigenvalue")

    fig = run.figure(
        "contours",
        "log10 training loss on the plane of two filter-normalised random directions around "
        "the small-batch (left) and the large-batch (right) solution, first seed",
        width=11,
    )
    axis = np.linspace(-1, 1, grid)
    levels = np.linspace(
        np.log10(min(s.min() for s in surfaces.values())),
        np.log10(max(s.max() for s in surfaces.values())),
        20,
    )
    for ax, (arm, z) in zip(fig.subplots(1, 2), surfaces.items()):
        filled = ax.contourf(axis, axis, np.log10(z).T, levels=levels)
        ax.plot(0, 0, "w*")
        ax.set_title(arm)
        ax.set_xlabel("α")
        ax.set_ylabel("β")
    fig.colorbar(filled, ax=fig.axes, label="log10 training loss")

    fig = run.figure(
        "paths",
        "Training loss (left) and validation accuracy (right) on the straight line "
        "(1 − t)·θ_a + t·θ_b between two solutions",
        width=11,
    )
    left, right = fig.subplots(1, 2)
    for i, (name, pairs) in enumerate(paths.items()):
        for j, (losses, acc) in enumerate(pairs):
            label = name if j == 0 else None
            left.semilogy(ts, losses, color=f"C{i + 2}", label=label)
            right.plot(ts, acc, color=f"C{i + 2}", label=label)
    for ax in (left, right):
        ax.axvline(0, color="grey", lw=0.5)
        ax.axvline(1, color="grey", lw=0.5)
        ax.set_xlabel("t")
    left.set_ylabel("training cross-entropy")
    right.set_ylabel("validation accuracy")
    left.legend(fontsize=8)

    small_surface, large_surface = surfaces.values()
    run.claim(
        f"Power iteration on double-backward Hessian-vector products recovers the top 3 "
        f"eigenvalues of the exact Hessian of a {check['n_params']}-parameter network within "
        "1e-4 relative error",
        power_error <= 1e-4,
        f"largest relative error {power_error:.2e} (Lanczos {lanczos_error:.2e})",
    )
    ratio = float(large_top.mean() / small_top.mean())
    sharper = int(np.sum(large_top > small_top))
    run.claim(
        f"Large-batch solutions are sharper (Keskar et al.): the top Hessian eigenvalue at the "
        f"batch-{LARGE} solution exceeds the batch-{SMALL} one from the same initialisation in "
        "every seed, and is at least 1.5x larger on average",
        sharper == n_seeds and ratio >= 1.5,
        f"larger in {sharper} of {n_seeds} seeds; mean ratio {ratio:.2f}",
        quick=False,
    )
    small_eps, large_eps = (values(arm, "eps_sharpness") for arm in arms)
    eps_sharper = int(np.sum(large_eps > small_eps))
    run.claim(
        f"By Keskar et al.'s ε-sharpness (ε = {EPSILON}) the large-batch solution is sharper "
        "in every seed",
        eps_sharper == n_seeds,
        f"larger in {eps_sharper} of {n_seeds} seeds; means {small_eps.mean():.3g}% "
        f"(batch {SMALL}) and {large_eps.mean():.3g}% (batch {LARGE})",
        quick=False,
    )
    small_rise, large_rise = rise.values()
    rises = int(np.sum(large_rise > small_rise))
    run.claim(
        "Along a filter-normalised random direction the large-batch solution's training loss "
        "rises more at |α| = 0.5 than the small-batch one's, in every seed",
        rises == n_seeds,
        f"rises more in {rises} of {n_seeds} seeds",
        quick=False,
    )
    small_acc, large_acc = (values(arm, "val_accuracy") for arm in arms)
    gap = float(small_acc.mean() - large_acc.mean())
    run.claim(
        "Large-batch solutions generalise worse: at the same training loss their mean "
        "validation accuracy is at least 1 point below the small-batch solutions'",
        gap >= 0.01,
        f"small minus large batch {gap:+.4f}",
        quick=False,
    )
    same, independent = barriers["same run, halfway to end"], barriers["independent solutions"]
    run.claim(
        "The straight line from the halfway point of a run to its end crosses no barrier: at "
        "most 0.01 nats above the chord, in every seed",
        same.max() <= 0.01,
        f"largest barrier {same.max():.4f}",
    )
    run.claim(
        "Two independently initialised solutions are separated by a higher barrier than two "
        "points of the same run, in every seed",
        bool(np.all(independent > same)),
        f"independent {independent.mean():.3f} (min {independent.min():.3f}) against same "
        f"run {same.mean():.4f} (max {same.max():.4f})",
    )

    run.answer(
        f"The curvature tools agree with the exact Hessian of a {check['n_params']}-parameter "
        f"network: power iteration's top 3 eigenvalues within {power_error:.1e} relative "
        f"error, Lanczos within {lanczos_error:.1e}, Hutchinson's trace "
        f"{check['trace']:.3f} ± {check['trace_se']:.3f} against {check['exact_trace']:.3f}. "
        f"On digits, from the same {n_seeds} initialisations, SGD with batches of {SMALL} "
        f"reached training loss {TARGET_LOSS} in {np.mean(epochs[f'batch {SMALL}']):.1f} "
        f"epochs and batches of {LARGE} in {np.mean(epochs[f'batch {LARGE}']):.1f}. The "
        f"top Hessian eigenvalue was {small_top.mean():.3g} for the small-batch solutions "
        f"and {large_top.mean():.3g} for the large-batch ones (larger in {sharper} of "
        f"{n_seeds} seeds); ε-sharpness {small_eps.mean():.3g}% against "
        f"{large_eps.mean():.3g}%; a filter-normalised slice rose by {small_rise.mean():.3g} "
        f"against {large_rise.mean():.3g} at |α| = 0.5. Validation accuracy was "
        f"{small_acc.mean():.2%} against {large_acc.mean():.2%}. Between two independently "
        f"initialised solutions the straight line rises {independent.mean():.3f} nats above "
        f"the chord on average; from the halfway point of a run to its end, "
        f"{same.mean():.4f}. On the plane of two filter-normalised directions around the "
        f"first seed's solutions (|α|, |β| ≤ 1) the training loss ranged from "
        f"{small_surface.min():.3g} to {small_surface.max():.3g} (batch {SMALL}) and from "
        f"{large_surface.min():.3g} to {large_surface.max():.3g} (batch {LARGE})."
    )
