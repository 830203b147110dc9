"""What normalisation buys a network: normalised activations and standardised inputs.

Two experiments. ``norm-layers-lr`` trains one deep ReLU MLP without normalisation, with
BatchNorm and with LayerNorm after every hidden linear layer, at learning rates spread over
two and a half decades, and asks how high a rate each arm tolerates. ``input-scaling``
trains one shallow MLP on features whose scales differ by six orders of magnitude, raw,
raw with a LayerNorm after the first layer, and standardised. Within a seed every arm
starts from the same linear weights and sees the same batches.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.datasets import make_classification

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import nn

N_CLASSES = 4


def classification_task(
    rng: np.random.Generator, n: int, n_features: int
) -> tuple[np.ndarray, np.ndarray]:
    """A four-class task with ``n_features`` features, half of them informative."""
    x, y = make_classification(
        n_samples=n,
        n_features=n_features,
        n_informative=n_features // 2,
        n_redundant=0,
        n_classes=N_CLASSES,
        n_clusters_per_class=2,
        class_sep=1.5,
        random_state=int(rng.integers(2**31)),
    )
    return x.astype(np.float32), y.astype(np.int64)


def normed_mlp(n_in: int, width: int, depth: int, norm: str) -> nn.Sequential:
    """``depth`` hidden layers Linear -> [norm] -> ReLU; ``norm`` is 'none', 'batch' or
    'layer'. The hidden weights get He initialisation, so that the plain network starts with
    a well-scaled signal too and the arms differ only in the norm layers. These draw nothing
    at random, so every arm gets the same Linear weights from the same seed."""
    norms = {"none": lambda w: nn.Identity(), "batch": nn.BatchNorm1d, "layer": nn.LayerNorm}
    layers: list[nn.Module] = []
    sizes = [n_in] + [width] * depth
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        linear = nn.Linear(fan_in, fan_out)
        nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        layers += [linear, norms[norm](fan_out), nn.ReLU()]
    layers.append(nn.Linear(width, N_CLASSES))
    return nn.Sequential(*layers)


def train(model: nn.Module, x: np.ndarray, y: np.ndarray, lr: float, order: np.ndarray) -> bool:
    """Plain SGD on the mini-batches whose indices are the rows of ``order``; stops early
    and returns False as soon as the loss is no longer finite (the run diverged)."""
    opt = nnlab.optim.SGD(model.parameters(), lr=lr)
    xs, ys = nnlab.tensor(x), nnlab.tensor(y)
    model.train()
    for idx in order:
        batch = nnlab.tensor(idx)
        loss = F.cross_entropy(model(xs[batch]), ys[batch])
        if not math.isfinite(loss.item()):
            return False
        opt.zero_grad()
        loss.backward()
        opt.step()
    return True


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Cross-entropy and accuracy on (x, y) in eval mode (BatchNorm uses running stats)."""
    model.eval()
    with nnlab.no_grad():
        logits = model(nnlab.tensor(x))
        loss = F.cross_entropy(logits, nnlab.tensor(y)).item()
        acc = float((logits.argmax(1).numpy() == y).mean())
    return loss, acc


def fit(
    model: nn.Module, data: tuple[np.ndarray, ...], lr: float, order: np.ndarray
) -> tuple[float, float]:
    """Train on the training half of ``data`` and return (final training loss, test
    accuracy); a diverged run scores (nan, chance accuracy)."""
    x_train, y_train, x_test, y_test = data
    with np.errstate(all="ignore"):  # a diverging run overflows; that is what we measure
        finite = train(model, x_train, y_train, lr, order)
        train_loss, _ = evaluate(model, x_train, y_train)
        _, test_acc = evaluate(model, x_test, y_test)
    if not finite or not math.isfinite(train_loss):
        return float("nan"), 1.0 / N_CLASSES
    return train_loss, test_acc


def split(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """First half for training, second half for testing."""
    half = len(x) // 2
    return x[:half], y[:half], x[half:], y[half:]


def trains(loss: float) -> bool:
    """A run 'trains' when its final training loss is finite and below half the chance
    loss ln(C) (fixed before the runs)."""
    return math.isfinite(loss) and loss < 0.5 * math.log(N_CLASSES)


def median_finite(losses: list[float]) -> float:
    """The median of the finite losses (nan when every run diverged)."""
    finite = [v for v in losses if math.isfinite(v)]
    return float(np.median(finite)) if finite else float("nan")


@experiment(
    "norm-layers-lr",
    answers=["batch-normalization", "input-and-layer-normalization"],
    quick=dict(n=1024, width=48, depth=6, steps=150, n_seeds=2),
    full=dict(n=2048, width=64, depth=6, steps=600, n_seeds=4),
)
def norm_layers_lr(run: Run, n: int, width: int, depth: int, steps: int, n_seeds: int) -> None:
    """How much higher a learning rate does a deep MLP tolerate with BatchNorm or LayerNorm?"""
    lrs = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
    arms = ["none", "batch", "layer"]
    loss = {(a, lr): [] for a in arms for lr in lrs}
    acc = {(a, lr): [] for a in arms for lr in lrs}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        data = split(*classification_task(rng, n, 20))
        order = rng.integers(0, n // 2, size=(steps, 64))
        for arm in arms:
            for lr in lrs:
                nnlab.manual_seed(seed)  # every arm and rate starts from the same weights
                model = normed_mlp(20, width, depth, arm)
                train_loss, test_acc = fit(model, data, lr, order)
                loss[arm, lr].append(train_loss)
                acc[arm, lr].append(test_acc)

    rows = [
        (
            arm,
            lr,
            round(median_finite(loss[arm, lr]), 4),
            sum(not math.isfinite(v) for v in loss[arm, lr]),
            round(float(np.mean(acc[arm, lr])), 4),
            round(float(np.std(acc[arm, lr])), 4),
        )
        for arm in arms
        for lr in lrs
    ]
    run.table(
        f"Final training loss and test accuracy after {steps} SGD steps ({n_seeds} seeds)",
        (
            "norm",
            "lr",
            "median finite train loss",
            "diverged seeds",
            "mean test acc",
            "std test acc",
        ),
        rows,
    )

    # The highest rate that trains, per seed: the figure of merit of each arm.
    highest = {
        arm: [
            max((lr for lr in lrs if trains(loss[arm, lr][i])), default=0.0) for i in range(n_seeds)
        ]
        for arm in arms
    }
    for arm in arms:
        run.number(f"{arm}_highest_lr_median", float(np.median(highest[arm])))
        run.number(f"{arm}_best_test_acc", round(max(np.mean(acc[arm, lr]) for lr in lrs), 4))

    fig = run.figure(
        "accuracy-vs-lr", "Test accuracy against SGD learning rate; bars span the seeds"
    )
    ax_loss, ax_acc = fig.subplots(1, 2)
    for i, arm in enumerate(arms):
        means = [np.mean(acc[arm, lr]) for lr in lrs]
        spread = [np.std(acc[arm, lr]) for lr in lrs]
        ax_acc.errorbar(lrs, means, yerr=spread, marker="o", capsize=3, label=arm, color=f"C{i}")
        ax_loss.plot(
            lrs, [median_finite(loss[arm, lr]) for lr in lrs], marker="o", label=arm, color=f"C{i}"
        )
    ax_acc.axhline(1 / N_CLASSES, color="grey", linestyle=":", label="chance")
    ax_acc.set_xscale("log")
    ax_acc.set_xlabel("learning rate")
    ax_acc.set_ylabel("test accuracy")
    ax_acc.legend()
    ax_loss.axhline(math.log(N_CLASSES), color="grey", linestyle=":", label="chance loss")
    ax_loss.set_xscale("log")
    ax_loss.set_xlabel("learning rate")
    ax_loss.set_ylabel("median final training loss of finite runs")
    ax_loss.legend()

    ratio_bn = min(b / max(p, 1e-3) for b, p in zip(highest["batch"], highest["none"]))
    ratio_ln = min(b / max(p, 1e-3) for b, p in zip(highest["layer"], highest["none"]))
    run.claim(
        "In every seed BatchNorm trains at a learning rate at least 3x the highest that the "
        "plain network trains at",
        ratio_bn >= 3,
        f"smallest per-seed ratio {ratio_bn:.1f}; highest lr none {highest['none']}, "
        f"batch {highest['batch']}",
    )
    run.claim(
        "In every seed LayerNorm trains at a learning rate at least 3x the highest that the "
        "plain network trains at",
        ratio_ln >= 3,
        f"smallest per-seed ratio {ratio_ln:.1f}; highest lr layer {highest['layer']}",
        quick=False,
    )
    low = lrs[0]
    bn_low, none_low = np.median(loss["batch", low]), np.median(loss["none", low])
    run.claim(
        f"At the smallest rate ({low}) BatchNorm reaches a median training loss at most "
        "half the plain network's after the same steps",
        bn_low <= 0.5 * none_low,
        f"median loss batch {bn_low:.3f}, none {none_low:.3f}",
        quick=False,
    )
    best = {arm: max(np.mean(acc[arm, lr]) for lr in lrs) for arm in arms}
    speed = "faster" if bn_low < none_low else "no faster"
    run.answer(
        f"Over {n_seeds} seeds, a {depth}-layer ReLU MLP (He initialisation) trained with "
        f"plain SGD for {steps} steps trained (final loss below half of ln {N_CLASSES}) up to "
        f"a median learning rate of {np.median(highest['none']):g} without normalisation, "
        f"{np.median(highest['batch']):g} with BatchNorm and "
        f"{np.median(highest['layer']):g} with LayerNorm (the largest rate tried was "
        f"{lrs[-1]:g}). BatchNorm standardises each "
        "hidden unit over the batch, so a large step that inflates the weights cannot inflate "
        "the next layer's inputs. At the smallest rate, lr "
        f"{low}, BatchNorm was {speed}: median final training loss {bn_low:.3f} against "
        f"{none_low:.3f} without. Best mean test accuracy over the rates: {best['none']:.1%} "
        f"none, {best['batch']:.1%} BatchNorm, {best['layer']:.1%} LayerNorm."
    )


def wildly_scaled(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """``x`` with each feature multiplied by its own power of ten, from 1e-3 to 1e3, in a
    random order (so informative features land on small and large scales alike)."""
    scales = 10.0 ** np.linspace(-3, 3, x.shape[1])
    return (x * rng.permutation(scales)).astype(np.float32)


def standardised(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sets z-scored with the training set's mean and standard deviation."""
    mean, std = x_train.mean(0), x_train.std(0)
    return (x_train - mean) / std, (x_test - mean) / std


def shallow_mlp(n_in: int, width: int, layer_norm: bool) -> nn.Sequential:
    """Two hidden ReLU layers, optionally a LayerNorm right after the first Linear."""
    return nn.Sequential(
        nn.Linear(n_in, width),
        nn.LayerNorm(width) if layer_norm else nn.Identity(),
        nn.ReLU(),
        nn.Linear(width, width),
        nn.ReLU(),
        nn.Linear(width, N_CLASSES),
    )


@experiment(
    "input-scaling",
    answers=["input-and-layer-normalization"],
    quick=dict(n=1024, width=48, steps=200, n_seeds=2),
    full=dict(n=2048, width=64, steps=800, n_seeds=4),
)
def input_scaling(run: Run, n: int, width: int, steps: int, n_seeds: int) -> None:
    """What does standardising inputs on wildly different scales do for SGD?"""
    lrs = [1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    arms = ["raw", "raw+layernorm", "standardised"]
    acc = {(a, lr): [] for a in arms for lr in lrs}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x, y = classification_task(rng, n, 12)
        x_train, y_train, x_test, y_test = split(wildly_scaled(rng, x), y)
        inputs = {
            "raw": (x_train, x_test),
            "raw+layernorm": (x_train, x_test),
            "standardised": standardised(x_train, x_test),
        }
        order = rng.integers(0, n // 2, size=(steps, 64))
        for arm in arms:
            for lr in lrs:
                nnlab.manual_seed(seed)  # same weights for every arm and rate
                model = shallow_mlp(12, width, layer_norm=arm == "raw+layernorm")
                data = (inputs[arm][0], y_train, inputs[arm][1], y_test)
                acc[arm, lr].append(fit(model, data, lr, order)[1])

    rows = [
        (arm, lr, round(float(np.mean(acc[arm, lr])), 4), round(float(np.std(acc[arm, lr])), 4))
        for arm in arms
        for lr in lrs
    ]
    run.table(
        f"Test accuracy after {steps} SGD steps ({n_seeds} seeds; diverged runs count as chance)",
        ("inputs", "lr", "mean test acc", "std test acc"),
        rows,
    )
    best = {}
    for arm in arms:
        mean_acc = {lr: float(np.mean(acc[arm, lr])) for lr in lrs}
        best_lr = max(mean_acc, key=mean_acc.get)
        best[arm] = (best_lr, mean_acc[best_lr])
        key = arm.replace("+", "_")
        run.number(f"{key}_best_lr", best_lr)
        run.number(f"{key}_best_test_acc", round(mean_acc[best_lr], 4))

    fig = run.figure("accuracy-vs-lr", "Test accuracy against learning rate; bars span seeds")
    ax = fig.subplots()
    for i, arm in enumerate(arms):
        means = [np.mean(acc[arm, lr]) for lr in lrs]
        spread = [np.std(acc[arm, lr]) for lr in lrs]
        ax.errorbar(lrs, means, yerr=spread, marker="o", capsize=3, label=arm, color=f"C{i}")
    ax.axhline(1 / N_CLASSES, color="grey", linestyle=":", label="chance")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("test accuracy")
    ax.legend()

    gap = best["standardised"][1] - best["raw"][1]
    gap_ln = best["standardised"][1] - best["raw+layernorm"][1]
    run.claim(
        "Standardised inputs reach a best test accuracy (over the learning rates) at least "
        "10 points above raw inputs",
        gap >= 0.10,
        f"best accuracy standardised {best['standardised'][1]:.3f}, raw {best['raw'][1]:.3f}",
    )
    run.claim(
        "A LayerNorm after the first layer does not make up for unscaled inputs: standardised "
        "inputs still beat it by at least 5 points",
        gap_ln >= 0.05,
        f"best accuracy standardised {best['standardised'][1]:.3f}, raw+layernorm "
        f"{best['raw+layernorm'][1]:.3f}",
        quick=False,
    )
    run.answer(
        f"With twelve features scaled from 1e-3 to 1e3, the best test accuracy over "
        f"learning rates from 1e-7 to 1 ({n_seeds} seeds, {steps} SGD steps) was "
        f"{best['raw'][1]:.1%} on raw inputs (at lr {best['raw'][0]:g}), "
        f"{best['raw+layernorm'][1]:.1%} with a LayerNorm after the first layer (lr "
        f"{best['raw+layernorm'][0]:g}) and {best['standardised'][1]:.1%} on standardised "
        f"inputs (lr {best['standardised'][0]:g}). A feature's gradient scales with its "
        "size, so one learning rate is too large for the big features and too small for the "
        "tiny ones; standardising gives every feature the same footing. "
        + (
            "The LayerNorm after the first layer did not make up for it: it rescales the "
            "layer's output, but the first layer's weights still see the raw scales."
            if gap_ln >= 0.05
            else f"The LayerNorm after the first layer came within {gap_ln:.1%} of it."
        )
    )
