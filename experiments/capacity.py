"""Capacity: how wide and how deep a network has to be, and what too much of it costs.

Three views of one question. A single hidden layer can approximate a 1-D function as well
as its width allows (universal approximation). Width and depth traded against each other
at matched parameter counts on two interleaved spirals (shallow against deep, and how to
pick a size by validation). And the bias-variance picture: many networks of each width,
each trained on its own resampled noisy training set, split their test error into bias²
and variance, trained by gradient descent and, to look for double descent, with random
first layers and a least-squares readout.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import nn

# -- universal approximation ---------------------------------------------------------------


def wiggle(x: np.ndarray) -> np.ndarray:
    """The 1-D target: two sines of different frequency."""
    return np.sin(2 * np.pi * x) + 0.5 * np.sin(5 * np.pi * x)


def one_hidden_layer(width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(1, width), nn.ReLU(), nn.Linear(width, 1))


def interpolating_network(f: Callable[[np.ndarray], np.ndarray], width: int) -> nn.Sequential:
    """The constructive proof: ``width`` ReLU units at evenly spaced knots on [-1, 1]
    whose sum is the piecewise-linear interpolant of ``f`` through those knots."""
    knots = np.linspace(-1, 1, width + 1)
    slopes = np.diff(f(knots)) / np.diff(knots)
    # unit k switches on at knot k and changes the slope by the difference of the slopes
    kinks = np.diff(slopes, prepend=0.0)
    net = one_hidden_layer(width)
    with nnlab.no_grad():
        net[0].weight.copy_(np.ones((width, 1), np.float32))
        net[0].bias.copy_(-knots[:-1].astype(np.float32))
        net[2].weight.copy_(kinks[None, :].astype(np.float32))
        net[2].bias.copy_(np.float32([f(knots[:1])[0]]))
    return net


def predict(net: nn.Module, x: np.ndarray) -> np.ndarray:
    with nnlab.no_grad():
        return net(nnlab.tensor(x[:, None].astype(np.float32))).numpy()[:, 0]


def fit_curve(net: nn.Module, x: np.ndarray, y: np.ndarray, steps: int) -> None:
    """Full-batch Adam on the mean squared error, the learning rate annealed to zero
    along a cosine so that the last steps settle."""
    opt = nnlab.optim.Adam(net.parameters(), lr=1e-2)
    schedule = nnlab.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    xs, ys = nnlab.tensor(x[:, None]), nnlab.tensor(y[:, None])
    for _ in range(steps):
        loss = F.mse_loss(net(xs), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()


@experiment(
    "universal-approximation",
    answers=["universal-approximation"],
    quick=dict(widths=(4, 16, 64), n_seeds=2, steps=800),
    full=dict(widths=(2, 4, 8, 16, 32, 64, 128, 256), n_seeds=3, steps=3000),
)
def universal_approximation(run: Run, widths: tuple, n_seeds: int, steps: int) -> None:
    """How close does one hidden layer of growing width get to a 1-D function?"""
    x_train = np.linspace(-1, 1, 200, dtype=np.float32)
    y_train = wiggle(x_train).astype(np.float32)
    inside = np.linspace(-1, 1, 2001)
    outside = np.linspace(1, 2, 1001)
    built, trained, trained_out, curves = [], [], [], {}
    for width in widths:
        built.append(
            np.abs(predict(interpolating_network(wiggle, width), inside) - wiggle(inside)).max()
        )
        errors, errors_out = [], []
        for seed in run.seeds(n_seeds):
            nnlab.manual_seed(seed)
            net = one_hidden_layer(width)
            fit_curve(net, x_train, y_train, steps)
            errors.append(np.abs(predict(net, inside) - wiggle(inside)).max())
            errors_out.append(np.abs(predict(net, outside) - wiggle(outside)).max())
            if seed == run.seeds(1)[0]:
                curves[width] = predict(net, np.concatenate([inside, outside]))
        trained.append(errors)
        trained_out.append(errors_out)

    rows = []
    for width, b, t, o in zip(widths, built, trained, trained_out):
        rows.append((width, float(b), float(np.mean(t)), float(np.min(t)), float(np.max(t)),
                     float(np.mean(o))))  # fmt: skip
    run.table(
        f"Max |error| on [-1, 1] (and on [1, 2], outside the training points), "
        f"trained nets over {n_seeds} seeds",
        ("width", "constructed", "trained mean", "trained min", "trained max",
         "trained mean on [1, 2]"),
        rows,
    )  # fmt: skip
    run.number("constructed_error_narrowest", float(built[0]))
    run.number("constructed_error_widest", float(built[-1]))
    run.number("trained_error_narrowest", float(np.mean(trained[0])))
    run.number("trained_error_widest", float(np.mean(trained[-1])))
    run.number("trained_error_widest_outside", float(np.mean(trained_out[-1])))

    fig = run.figure("approximation", "Max error against width; fits of the first seed", width=9)
    ax_err, ax_fit = fig.subplots(1, 2)
    ax_err.loglog(widths, built, "o-", label="constructed (interpolant)")
    ax_err.loglog(widths, [np.mean(t) for t in trained], "s-", label="trained by Adam")
    ax_err.set_xlabel("hidden units")
    ax_err.set_ylabel("max |error| on [-1, 1]")
    ax_err.legend()
    grid = np.concatenate([inside, outside])
    ax_fit.plot(grid, wiggle(grid), color="black", lw=2, label="target")
    for width in (widths[0], widths[len(widths) // 2], widths[-1]):
        ax_fit.plot(grid, curves[width], label=f"width {width}")
    ax_fit.axvspan(1, 2, color="grey", alpha=0.15)
    ax_fit.set_xlabel("x (shaded: no training points)")
    ax_fit.legend(fontsize=8)

    fall_built = built[0] / built[-1]
    fall_trained = np.mean(trained[0]) / np.mean(trained[-1])
    short = np.mean(trained[-1]) / built[-1]
    extrapolation = np.mean(trained_out[-1]) / np.mean(trained[-1])
    run.claim(
        "The constructed network's max error falls at least 50-fold from the narrowest to "
        "the widest layer",
        fall_built >= 50,
        f"{built[0]:.2e} at width {widths[0]}, {built[-1]:.2e} at width {widths[-1]}",
    )
    run.claim(
        "Trained by Adam, the widest network's max error is at least 5 times smaller than "
        "the narrowest's (mean over seeds)",
        fall_trained >= 5,
        f"{np.mean(trained[0]):.3f} at width {widths[0]}, {np.mean(trained[-1]):.3f} at width "
        f"{widths[-1]}",
        quick=False,
    )
    run.claim(
        "Training does not find what the width allows: at the largest width the trained "
        "networks' max error is at least 3 times the construction's",
        short >= 3,
        f"trained {np.mean(trained[-1]):.2e}, constructed {built[-1]:.2e}",
    )
    run.claim(
        "Outside the training interval (x in [1, 2]) the widest trained network's max error "
        "is at least 10 times its max error inside",
        extrapolation >= 10,
        f"{np.mean(trained_out[-1]):.3f} outside, {np.mean(trained[-1]):.3f} inside",
    )
    run.answer(
        f"One hidden ReLU layer can match a continuous function on an interval as closely as "
        f"wanted if it is wide enough: placing one unit at each knot gives the "
        f"piecewise-linear interpolant, whose max error fell from {built[0]:.2e} with "
        f"{widths[0]} units to {built[-1]:.2e} with {widths[-1]}. The theorem says nothing "
        f"about finding those weights, how many units are needed, or what happens off the "
        f"data: full-batch Adam (learning rate 0.01 annealed to 0 over {steps} steps) on "
        f"200 points reached a max error of {np.mean(trained[-1]):.2e} at "
        f"width {widths[-1]} ({short:.0f} times the construction's), and on [1, 2], where "
        f"there were no training points, the error was {np.mean(trained_out[-1]):.2f}, "
        f"{extrapolation:.0f} times the error inside."
    )


# -- width and depth at matched parameter counts -------------------------------------------


def spirals(rng: np.random.Generator, n: int, turns: float) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals of ``turns`` turns, with a little noise."""
    label = rng.integers(0, 2, size=n)
    t = np.sqrt(rng.uniform(0.02, 1.0, size=n))  # uniform density along the radius
    angle = 2 * np.pi * turns * t + np.pi * label
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    x += 0.02 * rng.standard_normal((n, 2))
    return x.astype(np.float32), label.astype(np.int64)


def parameter_count(depth: int, width: int) -> int:
    """Parameters of a 2-input, 2-output MLP with ``depth`` hidden layers of ``width``."""
    return (depth - 1) * width**2 + (depth + 4) * width + 2


def width_for(depth: int, budget: int) -> int:
    """The width whose parameter count is closest to ``budget`` at this depth."""
    return min(range(1, budget), key=lambda w: abs(parameter_count(depth, w) - budget))


def mlp(depth: int, width: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    sizes = [2] + [width] * depth
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    layers.append(nn.Linear(width, 2))
    return nn.Sequential(*layers)


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with nnlab.no_grad():
        return float(np.mean(model(nnlab.tensor(x)).numpy().argmax(1) == y))


def fit_classifier(model: nn.Module, x: np.ndarray, y: np.ndarray, order: np.ndarray) -> None:
    """Adam on the mini-batches whose indices are the rows of ``order``, the learning
    rate annealed to zero along a cosine."""
    opt = nnlab.optim.Adam(model.parameters(), lr=1e-2)
    schedule = nnlab.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=len(order))
    for idx in order:
        loss = F.cross_entropy(model(nnlab.tensor(x[idx])), nnlab.tensor(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()


@experiment(
    "width-and-depth",
    answers=["shallow-versus-deep", "deep-learning", "choosing-layers-and-units"],
    quick=dict(depths=(1, 3), budgets=(150, 600, 2400), n_seeds=2, steps=600, turns=2.0),
    full=dict(depths=(1, 2, 3, 4), budgets=(150, 600, 2400), n_seeds=3, steps=2500, turns=2.0),
)
def width_and_depth(
    run: Run, depths: tuple, budgets: tuple, n_seeds: int, steps: int, turns: float
) -> None:
    """At the same number of parameters, is a deep network better than a shallow one?"""
    train_acc = {(d, b): [] for d in depths for b in budgets}
    val_acc = {(d, b): [] for d in depths for b in budgets}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x, y = spirals(rng, 1000, turns)
        x_val, y_val = spirals(rng, 2000, turns)
        order = rng.integers(0, len(y), size=(steps, 64))  # shared by every network
        for d in depths:
            for b in budgets:
                nnlab.manual_seed(seed)
                model = mlp(d, width_for(d, b))
                fit_classifier(model, x, y, order)
                train_acc[d, b].append(accuracy(model, x, y))
                val_acc[d, b].append(accuracy(model, x_val, y_val))

    mean_val = {k: float(np.mean(v)) for k, v in val_acc.items()}
    rows = []
    for (d, b), accs in val_acc.items():
        w = width_for(d, b)
        rows.append((d, w, parameter_count(d, w), round(float(np.mean(train_acc[d, b])), 4),
                     round(mean_val[d, b], 4), round(float(np.std(accs)), 4)))  # fmt: skip
    run.table(
        f"Two spirals of {turns:g} turns, 1000 training points, mean over {n_seeds} seeds",
        ("hidden layers", "width", "parameters", "train acc", "val acc", "val acc std"),
        rows,
    )
    best = max(mean_val, key=mean_val.get)
    for (d, b), v in mean_val.items():
        run.number(f"val_accuracy_depth{d}_params{b}", round(v, 4))

    fig = run.figure("depth-width", "Validation accuracy against parameters, one line per depth")
    ax = fig.subplots()
    for d in depths:
        counts = [parameter_count(d, width_for(d, b)) for b in budgets]
        means = [mean_val[d, b] for b in budgets]
        stds = [float(np.std(val_acc[d, b])) for b in budgets]
        ax.errorbar(counts, means, yerr=stds, marker="o", capsize=3, label=f"{d} hidden")
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("validation accuracy")
    ax.legend()

    deep = 3
    margins = [mean_val[deep, b] - mean_val[1, b] for b in budgets]
    run.claim(
        f"At every matched parameter budget the {deep}-hidden-layer network's validation "
        "accuracy is at least 2 points above the 1-hidden-layer network's (mean over seeds)",
        min(margins) >= 0.02,
        "margins " + ", ".join(f"{m:+.3f}" for m in margins),
        quick=False,
    )
    top = budgets[-1]
    by_depth = [mean_val[d, top] for d in depths]
    run.claim(
        f"At {top} parameters, validation accuracy never falls as hidden layers are added",
        all(a <= b for a, b in zip(by_depth, by_depth[1:])),
        ", ".join(f"{d} layers {v:.3f}" for d, v in zip(depths, by_depth)),
        quick=False,
    )
    best_by_budget = [max(mean_val[d, b] for d in depths) for b in budgets]
    run.claim(
        "Returns diminish with size: the best validation accuracy gains less from the middle "
        "to the largest budget than from the smallest to the middle",
        best_by_budget[2] - best_by_budget[1] < best_by_budget[1] - best_by_budget[0],
        "best per budget " + ", ".join(f"{v:.3f}" for v in best_by_budget),
    )
    run.answer(
        "On two spirals, with the parameter count held fixed, validation accuracy by number "
        "of hidden layers was, at "
        + "; ".join(
            f"{b} parameters: " + ", ".join(f"{d} hidden {mean_val[d, b]:.1%}" for d in depths)
            for b in budgets
        )
        + f". {deep} hidden layers against 1, at the same budgets: "
        + ", ".join(f"{100 * m:+.1f} points" for m in margins)
        + f". The best setting on validation was {best[0]} hidden layers of "
        f"{width_for(*best)} units ({mean_val[best]:.1%}). Depth lets later layers reuse the "
        f"features of earlier ones, which is what 'deep' learning means; how many layers and "
        f"units to use is settled like this, by training a grid of sizes and comparing them "
        f"on validation data, not by a formula."
    )


# -- bias and variance ----------------------------------------------------------------------


def target(x: np.ndarray) -> np.ndarray:
    """The noiseless regression function of the bias-variance experiments."""
    return np.sin(4 * x)


def resampled_sets(
    rng: np.random.Generator, n_sets: int, n: int, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """``n_sets`` independent training sets of ``n`` noisy samples on [-1, 1]."""
    x = rng.uniform(-1, 1, size=(n_sets, n))
    y = target(x) + noise * rng.standard_normal((n_sets, n))
    return x.astype(np.float32), y.astype(np.float32)


class ParallelNets(nn.Module):
    """``copies`` independent one-hidden-layer ReLU networks evaluated with batched
    matrix products; copy i sees only its own slice of the input. Each is initialised as
    ``nn.Linear`` would be."""

    def __init__(self, copies: int, width: int) -> None:
        super().__init__()
        self.w1 = nn.Parameter(nnlab.empty(copies, 1, width))
        self.b1 = nn.Parameter(nnlab.empty(copies, 1, width))
        self.w2 = nn.Parameter(nnlab.empty(copies, width, 1))
        self.b2 = nn.Parameter(nnlab.empty(copies, 1, 1))
        for p, fan_in in ((self.w1, 1), (self.b1, 1), (self.w2, width), (self.b2, width)):
            nn.init.uniform_(p, -(fan_in**-0.5), fan_in**-0.5)

    def forward(self, x: nnlab.Tensor) -> nnlab.Tensor:
        """x: (copies, points, 1) -> (copies, points, 1)."""
        hidden = F.relu(nnlab.bmm(x, self.w1) + self.b1)
        return nnlab.bmm(hidden, self.w2) + self.b2


def trained_predictions(
    x: np.ndarray, y: np.ndarray, width: int, steps: int, grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Train one network per training set (full-batch Adam on each one's mean squared
    error; summing the losses keeps their gradients apart); return each one's
    predictions on its training points and on ``grid``."""
    nets = ParallelNets(len(x), width)
    opt = nnlab.optim.Adam(nets.parameters(), lr=1e-2)
    xs, ys = nnlab.tensor(x[..., None]), nnlab.tensor(y[..., None])
    for _ in range(steps):
        loss = ((nets(xs) - ys) ** 2).mean(dim=(1, 2)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    on_grid = np.broadcast_to(grid[None, :, None], (len(x), len(grid), 1)).astype(np.float32)
    with nnlab.no_grad():
        return nets(xs).numpy()[..., 0], nets(nnlab.tensor(on_grid)).numpy()[..., 0]


def after_minimum(second_descent: bool, best: int, widths: tuple) -> str:
    """What the test error did at widths past its minimum, in words."""
    if best == widths[-1]:
        return "it was the widest network tried."
    if second_descent:
        return "past it the test MSE rose and then fell again (a second descent)."
    return (
        f"past it the test MSE only rose, up to width {widths[-1]}: no second descent "
        "showed for networks trained by gradient descent here."
    )


def decompose(predictions: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Bias² and variance of predictions (one row per training set) against the
    noiseless truth, averaged over the test points. Their sum is the mean squared
    error against the truth, exactly."""
    mean = predictions.mean(axis=0)
    return float(np.mean((mean - truth) ** 2)), float(np.mean(predictions.var(axis=0)))


@experiment(
    "bias-variance",
    answers=["bias-variance", "underfitting-and-overfitting"],
    quick=dict(widths=(1, 4, 16, 256), n_sets=12, n=20, noise=0.3, steps=800),
    full=dict(widths=(1, 2, 4, 8, 16, 32, 64, 256, 1024), n_sets=30, n=20, noise=0.3, steps=4000),
)
def bias_variance(run: Run, widths: tuple, n_sets: int, n: int, noise: float, steps: int) -> None:
    """How do bias and variance change as a network grows from too small to too big?"""
    x, y = resampled_sets(run.rng(0), n_sets, n, noise)
    grid = np.linspace(-1, 1, 201)
    truth = target(grid)
    rows, bias2, variance, train_mse, test_mse = [], [], [], [], []
    examples = {}
    for width in widths:
        nnlab.manual_seed(run.seed)
        on_train, on_grid = trained_predictions(x, y, width, steps, grid)
        b, v = decompose(on_grid, truth)
        bias2.append(b)
        variance.append(v)
        train_mse.append(float(np.mean((on_train - y) ** 2)))
        # expected error on a fresh noisy point: bias² + variance + noise²
        test_mse.append(b + v + noise**2)
        examples[width] = on_grid[:5]
        rows.append((width, round(train_mse[-1], 4), round(b, 4), round(v, 4),
                     round(test_mse[-1], 4)))  # fmt: skip
    run.table(
        f"{n_sets} training sets of {n} points, noise std {noise} (noise² = {noise**2:.3f})",
        ("width", "train MSE", "bias²", "variance", "test MSE (bias² + variance + noise²)"),
        rows,
    )
    lowest = int(np.argmin(test_mse))
    best = widths[lowest]
    # a second descent: past the minimum, the error rises and later falls again
    after = test_mse[lowest:]
    second_descent = any(after[k] < max(after[:k]) for k in range(2, len(after)))
    run.number("best_width", best)
    run.number("second_descent_shown", int(second_descent))
    run.number("bias2_narrowest", round(bias2[0], 4))
    run.number("bias2_widest", round(bias2[-1], 4))
    run.number("variance_narrowest", round(variance[0], 4))
    run.number("variance_widest", round(variance[-1], 4))
    run.number("train_mse_widest", round(train_mse[-1], 4))
    run.number("test_mse_widest", round(test_mse[-1], 4))

    fig = run.figure("bias-variance", "Error against width; five fits at three widths", width=9)
    ax_err, ax_fit = fig.subplots(1, 2)
    ax_err.loglog(widths, bias2, "o-", label="bias²")
    ax_err.loglog(widths, variance, "s-", label="variance")
    ax_err.loglog(widths, test_mse, "^-", label="test MSE")
    ax_err.loglog(widths, train_mse, "v--", label="train MSE")
    ax_err.axhline(noise**2, color="grey", ls=":", label="noise²")
    ax_err.set_xlabel("hidden units")
    ax_err.legend(fontsize=8)
    for i, width in enumerate((widths[0], best, widths[-1])):
        for k, curve in enumerate(examples[width]):
            ax_fit.plot(grid, curve + 3 * i, color=f"C{i}", lw=0.8,
                        label=f"width {width} (+{3 * i})" if k == 0 else None)  # fmt: skip
        ax_fit.plot(grid, truth + 3 * i, color="black", lw=1.5)
    ax_fit.legend(fontsize=8)

    run.claim(
        f"The narrowest network underfits: its training MSE is at least twice the noise² "
        f"({noise**2:.3f})",
        train_mse[0] >= 2 * noise**2,
        f"training MSE {train_mse[0]:.3f} at width {widths[0]}",
    )
    run.claim(
        "Bias² falls at least 10-fold from the narrowest to the widest network",
        bias2[0] >= 10 * bias2[-1],
        f"bias² {bias2[0]:.4f} at width {widths[0]}, {bias2[-1]:.4f} at width {widths[-1]}",
    )
    run.claim(
        "Variance grows with size: the widest network's is at least 3 times the narrowest's",
        variance[-1] >= 3 * variance[0],
        f"variance {variance[0]:.4f} at width {widths[0]}, {variance[-1]:.4f} at width "
        f"{widths[-1]}",
        quick=False,
    )
    run.claim(
        "The widest network overfits: its test MSE is at least twice its training MSE",
        test_mse[-1] >= 2 * train_mse[-1],
        f"test {test_mse[-1]:.3f}, training {train_mse[-1]:.3f} at width {widths[-1]}",
    )
    run.claim(
        "Test error is U-shaped in width: lowest at a width strictly between the narrowest "
        "and the widest",
        widths[0] < best < widths[-1],
        f"lowest test MSE {min(test_mse):.3f} at width {best}",
        quick=False,
    )
    run.answer(
        f"Each width was trained {n_sets} times, on {n_sets} independent noisy training sets "
        f"of {n} points. Bias² (how far the average fit is from the truth) went from "
        f"{bias2[0]:.3f} at width {widths[0]} to {bias2[-1]:.4f} at width {widths[-1]}; "
        f"variance (how much the fits disagree with one another) from {variance[0]:.4f} to "
        f"{variance[-1]:.4f}. The narrowest network underfits (training MSE "
        f"{train_mse[0]:.3f} against a noise floor of {noise**2:.3f}: more capacity, or "
        f"training longer, fixes it); the widest fitted its training points to "
        f"{train_mse[-1]:.3f}, {'below' if train_mse[-1] < noise**2 else 'above'} the "
        f"noise floor, while its expected test MSE was "
        f"{test_mse[-1]:.3f} (more data or regularisation fixes that). The lowest test MSE, "
        f"{min(test_mse):.3f}, was at width {best}; {after_minimum(second_descent, best, widths)}"
    )


def direction(dim: int) -> np.ndarray:
    """The fixed unit vector the double-descent target varies along."""
    return np.ones(dim) / np.sqrt(dim)


def gaussian_sets(
    rng: np.random.Generator, n_sets: int, n: int, dim: int, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """``n_sets`` training sets of ``n`` standard-normal points in ``dim`` dimensions,
    labelled by sin(2 u.x) plus noise."""
    x = rng.standard_normal((n_sets, n, dim))
    y = np.sin(2 * x @ direction(dim)) + noise * rng.standard_normal((n_sets, n))
    return x.astype(np.float32), y.astype(np.float32)


def random_feature_predictions(
    x: np.ndarray, y: np.ndarray, width: int, x_test: np.ndarray, seeds: list[int]
) -> np.ndarray:
    """One network per training set: a random, frozen ReLU layer of ``width`` units
    (drawn from that set's seed) and a linear readout set to the minimum-norm
    least-squares fit of the set, the solution gradient descent from zero converges to.
    Predictions on ``x_test``, one row per set."""
    out = []
    for xs, ys, seed in zip(x, y, seeds):
        nnlab.manual_seed(seed)
        hidden = nn.Sequential(nn.Linear(x.shape[-1], width), nn.ReLU())
        readout = nn.Linear(width, 1)
        with nnlab.no_grad():
            z = hidden(nnlab.tensor(xs)).numpy().astype(np.float64)
            design = np.concatenate([z, np.ones((len(xs), 1))], axis=1)
            # the features are float32: directions with singular values below float32
            # precision are rounding noise, not data, and are left out of the fit
            coef = np.linalg.lstsq(design, ys.astype(np.float64), rcond=1e-6)[0]
            readout.weight.copy_(coef[None, :-1].astype(np.float32))
            readout.bias.copy_(coef[-1:].astype(np.float32))
            out.append(readout(hidden(nnlab.tensor(x_test))).numpy()[:, 0])
    return np.array(out)


@experiment(
    "double-descent",
    answers=["bias-variance"],
    quick=dict(widths=(4, 10, 20, 30, 39, 50, 80, 160, 640), n_sets=30, n=40, dim=10, noise=0.3),
    full=dict(
        widths=(2, 4, 8, 12, 16, 20, 24, 28, 32, 34, 36, 38, 39, 40, 42, 44, 48, 56, 64, 80,
                100, 140, 200, 320, 640, 1280, 2560),
        n_sets=100, n=40, dim=10, noise=0.3,
    ),
)  # fmt: skip
def double_descent(run: Run, widths: tuple, n_sets: int, n: int, dim: int, noise: float) -> None:
    """Does test error peak, then fall, as a network grows past fitting its data exactly?

    The network is a random, frozen ReLU layer with a least-squares readout, so that
    "past fitting exactly" is sharp: at width n - 1 the readout has as many coefficients
    as there are training points."""
    x, y = gaussian_sets(run.rng(0), n_sets, n, dim, noise)
    x_test = run.rng(1).standard_normal((500, dim)).astype(np.float32)
    truth = np.sin(2 * x_test @ direction(dim))
    seeds = run.seeds(n_sets)
    bias2, variance = [], []
    for width in widths:
        b, v = decompose(random_feature_predictions(x, y, width, x_test, seeds), truth)
        bias2.append(b)
        variance.append(v)
    error = np.array(bias2) + np.array(variance)
    peak = int(np.argmax(error))
    threshold = n - 1  # width + 1 readout coefficients (with the bias) = n equations
    run.number("interpolation_threshold_width", threshold)
    run.number("peak_width", widths[peak])
    run.number("peak_error", float(error[peak]))
    run.number("widest_error", float(error[-1]))
    run.number("lowest_error_below_threshold", float(error[: widths.index(threshold)].min()))
    run.table(
        f"Random ReLU features with a minimum-norm least-squares readout; {n_sets} training "
        f"sets of {n} points in {dim} dimensions; error against the noiseless truth",
        ("width", "bias²", "variance", "bias² + variance"),
        [(w, float(b), float(v), float(e)) for w, b, v, e in zip(widths, bias2, variance, error)],
    )

    fig = run.figure("double-descent", "Error against width of a random-feature network")
    ax = fig.subplots()
    ax.loglog(widths, error, "o-", label="bias² + variance")
    ax.loglog(widths, bias2, "s--", label="bias²")
    ax.loglog(widths, variance, "^--", label="variance")
    ax.axvline(threshold, color="grey", ls=":", label=f"interpolation threshold ({threshold})")
    ax.set_xlabel("hidden units")
    ax.set_ylabel("mean squared error")
    ax.legend(fontsize=8)

    run.claim(
        f"The error peaks near the interpolation threshold: the worst width lies within "
        f"[{n // 2}, {2 * n}]",
        n // 2 <= widths[peak] <= 2 * n,
        f"worst width {widths[peak]}, error {error[peak]:.3g}",
    )
    run.claim(
        "Past the peak the error descends again: at the widest width it is at most half the peak",
        error[-1] <= error[peak] / 2,
        f"{error[-1]:.3g} at width {widths[-1]}, peak {error[peak]:.3g}",
    )
    run.claim(
        "The peak is variance: at the worst width variance is at least 80% of the error",
        variance[peak] >= 0.8 * error[peak],
        f"variance {variance[peak]:.3g} of {error[peak]:.3g}",
    )
    below = error[: widths.index(threshold)].min()
    widest_vs_best = "below" if error[-1] < below else "still above"
    run.answer(
        f"With a frozen random ReLU layer and a minimum-norm least-squares readout, the error "
        f"against the truth was lowest, {below:.3f}, at width {widths[int(np.argmin(error))]} "
        f"and grew with width towards the interpolation threshold (width {threshold}, where "
        f"the {n} training points can first be fitted exactly). It peaked at "
        f"{error[peak]:.3g} at width {widths[peak]}, {variance[peak]:.3g} of it variance (the "
        f"only weights that fit the noise exactly are huge and the fit swings wildly between "
        f"the points), then fell again to {error[-1]:.3g} at width {widths[-1]}, where among "
        f"many exact fits the smallest-norm one is chosen: {widest_vs_best} the best "
        f"under-parameterised error. Over all widths bias² ranged from {min(bias2):.3f} to "
        f"{max(bias2):.3g} and variance from {min(variance):.3f} to {max(variance):.3g}: the "
        f"rise and the second descent are mostly variance. That is double descent."
    )
