"""How a category reaches a network: one input per category (one-hot) or one number per
category (an integer code).

The label depends on the category through a random table, so it goes up and down as the
code goes from 0 to K-1: an integer code imposes an order and distances the categories do
not have, and the network must spend hidden units undoing them.
"""

from __future__ import annotations

import numpy as np

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import nn


def category_task(
    rng: np.random.Generator, n_categories: int, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random balanced 0/1 label for each category, and ``n`` samples of categories
    with their labels: (table, categories, labels)."""
    table = rng.permutation(np.arange(n_categories) % 2)
    categories = rng.integers(0, n_categories, size=n)
    return table, categories, table[categories]


def integer_code(categories: np.ndarray, n_categories: int) -> np.ndarray:
    """Each category as one number, its index scaled to [-1, 1]."""
    return (2 * categories / (n_categories - 1) - 1).astype(np.float32)[:, None]


def one_hot_code(categories: np.ndarray, n_categories: int) -> np.ndarray:
    """Each category as a vector of zeros with a single 1 at its index."""
    return F.one_hot(nnlab.tensor(categories), n_categories).float().numpy()


ENCODINGS = {"integer": integer_code, "one-hot": one_hot_code}


def classifier(n_inputs: int, width: int) -> nn.Module:
    """A logistic unit on the inputs (``width`` 0) or one hidden layer of ``width`` ReLU
    units before it."""
    if width == 0:
        return nn.Linear(n_inputs, 1)
    return nn.Sequential(nn.Linear(n_inputs, width), nn.ReLU(), nn.Linear(width, 1))


def fit(model: nn.Module, x: np.ndarray, y: np.ndarray, steps: int) -> None:
    """Full-batch Adam on the binary cross-entropy."""
    opt = nnlab.optim.Adam(model.parameters(), lr=0.02)
    xs, ys = nnlab.tensor(x), nnlab.tensor(y.astype(np.float32)[:, None])
    for _ in range(steps):
        loss = F.binary_cross_entropy_with_logits(model(xs), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()


def logits(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with nnlab.no_grad():
        return model(nnlab.tensor(x)).numpy()[:, 0]


@experiment(
    "one-hot-vs-integer",
    answers=["one-hot-encoding"],
    quick=dict(n_categories=16, n=512, widths=(0, 2, 4, 8, 32), steps=500, n_seeds=2),
    full=dict(n_categories=16, n=1024, widths=(0, 2, 4, 8, 16, 32, 64), steps=2000, n_seeds=4),
)
def one_hot_vs_integer(
    run: Run, n_categories: int, n: int, widths: tuple[int, ...], steps: int, n_seeds: int
) -> None:
    """Does a network need categories one-hot encoded, or will an integer code do?"""
    acc = {(enc, w): [] for enc in ENCODINGS for w in widths}
    shown = {}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        table, train_cat, train_y = category_task(rng, n_categories, n)
        test_cat = rng.integers(0, n_categories, size=n)
        for enc, encode in ENCODINGS.items():
            x_train, x_test = encode(train_cat, n_categories), encode(test_cat, n_categories)
            for width in widths:
                nnlab.manual_seed(seed)
                model = classifier(x_train.shape[1], width)
                fit(model, x_train, train_y, steps)
                predicted = logits(model, x_test) > 0
                acc[enc, width].append(float(np.mean(predicted == table[test_cat])))
                shown.setdefault((enc, width), (model, table))

    mean = {k: float(np.mean(v)) for k, v in acc.items()}
    for (enc, width), value in mean.items():
        run.number(f"{enc}_width{width}_accuracy", round(value, 4))
    run.table(
        f"Test accuracy over {n_seeds} seeds by hidden width (0 = no hidden layer), "
        f"{n_categories} categories",
        ("encoding", "hidden units", "mean", "min", "max"),
        [
            (enc, w, round(mean[enc, w], 4), round(min(acc[enc, w]), 4), round(max(acc[enc, w]), 4))
            for enc, w in acc
        ],
    )

    fig = run.figure(
        "encodings",
        "Left: test accuracy by hidden width (dots: seeds). Right: the first "
        "seed's label table and the logit of each network on the integer code.",
        width=10,
        height=3.8,
    )
    ax_acc, ax_fn = fig.subplots(1, 2)
    positions = np.arange(len(widths))
    for i, enc in enumerate(ENCODINGS):
        ax_acc.plot(positions, [mean[enc, w] for w in widths], color=f"C{i}", label=enc)
        for p, w in zip(positions, widths):
            ax_acc.scatter([p] * n_seeds, acc[enc, w], color=f"C{i}", s=10)
    ax_acc.set_xticks(positions, [str(w) for w in widths])
    ax_acc.set_xlabel("hidden units (0 = logistic unit)")
    ax_acc.set_ylabel("test accuracy")
    ax_acc.axhline(0.5, color="grey", linestyle=":")
    ax_acc.legend()
    codes = np.arange(n_categories)
    dense = np.linspace(0, n_categories - 1, 400)
    table = shown["integer", widths[0]][1]
    ax_fn.bar(codes, 2 * table - 1, color="lightgrey", label="label (as ±1)")
    for width in widths:
        model = shown["integer", width][0]
        z = logits(model, (2 * dense / (n_categories - 1) - 1).astype(np.float32)[:, None])
        ax_fn.plot(dense, np.tanh(z), label=f"{width} hidden")
    ax_fn.set_xlabel("category index (the integer code)")
    ax_fn.set_ylabel("tanh(logit)")
    ax_fn.legend(fontsize=7)

    run.claim(
        "One-hot inputs need no hidden layer: a single logistic unit gets at least 99% on every "
        "seed",
        min(acc["one-hot", 0]) >= 0.99,
        f"lowest {min(acc['one-hot', 0]):.3f}",
    )
    run.claim(
        "On the integer code a single logistic unit, one threshold along the code, stays at or "
        "below 75% on every seed",
        max(acc["integer", 0]) <= 0.75,
        f"highest {max(acc['integer', 0]):.3f}",
    )
    gap = mean["one-hot", 4] - mean["integer", 4]
    run.claim(
        "With 4 hidden units the integer code scores at least 10 points below one-hot",
        gap >= 0.10,
        f"one-hot {mean['one-hot', 4]:.3f}, integer {mean['integer', 4]:.3f}",
    )
    narrow = [w for w in widths if w < 8]
    narrow_best = max(mean["integer", w] for w in narrow)
    run.claim(
        "The integer code needs at least 8 hidden units to reach 95% (mean over seeds)",
        narrow_best < 0.95,
        f"best mean below 8 units {narrow_best:.3f}",
    )
    reached = [w for w in widths if mean["integer", w] >= 0.95]
    run.number("integer_smallest_width_to_95", reached[0] if reached else "none")
    run.answer(
        f"With {n_categories} categories whose label follows no order, a one-hot input let "
        f"a single logistic unit score {mean['one-hot', 0]:.1%} on average: each category "
        "gets its own weight, so the unit just looks its label up. Fed the category's index "
        f"as one number instead, the same unit scored {mean['integer', 0]:.1%}, since it can "
        "only cut the codes once. With 4 hidden units the integer code reached "
        f"{mean['integer', 4]:.1%} against {mean['one-hot', 4]:.1%} for one-hot, and it "
        + (
            f"first reached 95% at {reached[0]} hidden units."
            if reached
            else f"never reached 95% up to {widths[-1]} hidden units."
        )
        + " An integer code makes neighbouring indices look alike and distant ones different; "
        "one-hot puts every pair of categories equally far apart and leaves the network "
        "nothing to undo."
    )
