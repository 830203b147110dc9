"""Regularisation: keeping a big network from memorising a small training set.

Every experiment here trains the same kind of network, a two-hidden-layer ReLU MLP far too
big for its data, on a few hundred of scikit-learn's 8x8 handwritten digits, and measures
what a remedy does to the training and validation curves. The arms of one comparison start
from the same weights (``nnlab.manual_seed`` right before each model is built) and see the
same mini-batches (one pre-drawn batch order per seed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.datasets import load_digits

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.nn.utils import l1_penalty, l2_penalty, max_norm_

#: A first-layer weight below this magnitude counts as zero when sparsity is measured.
NEAR_ZERO = 1e-3


@dataclass(frozen=True)
class Split:
    """Digits as flat float32 pixel vectors in [0, 1] with integer labels."""

    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class Digits:
    train: Split
    val: Split
    test: Split


def digits(rng: np.random.Generator, n_train: int, n_val: int) -> Digits:
    """A random split of the 1797 digits: ``n_train`` to train on, ``n_val`` to validate
    on, the rest to test on."""
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    order = rng.permutation(len(y))
    parts = np.split(order, [n_train, n_train + n_val])
    train, val, test = (Split(x[i], y[i].astype(np.int64)) for i in parts)
    return Digits(train, val, test)


def mlp(width: int, dropout: float = 0.0) -> nn.Sequential:
    """64 pixels -> width -> width -> 10 classes, ReLU, optional dropout after each
    hidden layer."""
    layers: list[nn.Module] = []
    for fan_in in (64, width):
        layers += [nn.Linear(fan_in, width), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def batch_order(rng: np.random.Generator, n: int, steps: int, batch: int) -> np.ndarray:
    """Rows of training indices, one row per step, walking through shuffled epochs."""
    epochs = -(-steps * batch // n)
    flat = np.concatenate([rng.permutation(n) for _ in range(epochs)])
    return flat[: steps * batch].reshape(steps, batch)


def evaluate(model: nn.Module, split: Split) -> tuple[float, float]:
    """Cross-entropy and accuracy of ``model`` in evaluation mode on ``split``."""
    model.eval()
    with nnlab.no_grad():
        logits = model(nnlab.tensor(split.x))
        y = nnlab.tensor(split.y)
        loss = float(F.cross_entropy(logits, y))
        acc = float((logits.argmax(1) == y).float().mean())
    model.train()
    return loss, acc


def first_layer(model: nn.Sequential) -> np.ndarray:
    """A copy of the first Linear layer's weight matrix."""
    return model[0].weight.detach().numpy().copy()


def live_weights(model: nn.Sequential, x: np.ndarray) -> np.ndarray:
    """Mask of the first-layer weights the data can move: from a pixel that is not blank
    in every training image to a unit that fires on at least one of them. The others get
    no gradient from the loss, only from a penalty."""
    with nnlab.no_grad():
        fires = (model[0](nnlab.tensor(x)).numpy() > 0).any(axis=0)
    inked = (x > 0).any(axis=0)
    return fires[:, None] & inked[None, :]


@dataclass(frozen=True)
class Regime:
    """How one arm is regularised: weight penalties added to the loss (``l1`` times
    Σ|w| plus ``l2`` times Σw², over weight matrices, not biases), dropout in the
    hidden layers, a max-norm bound on each unit's incoming weights, and an optional
    augmentation applied to every training batch."""

    l1: float = 0.0
    l2: float = 0.0
    dropout: float = 0.0
    max_norm: float | None = None
    augment: Callable[[np.ndarray], np.ndarray] | None = None


@dataclass
class Curves:
    """Losses and accuracies recorded every few steps during training."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)

    def record(self, step: int, model: nn.Module, data: Digits) -> None:
        self.steps.append(step)
        for split, losses, accs in (
            (data.train, self.train_loss, self.train_acc),
            (data.val, self.val_loss, self.val_acc),
        ):
            loss, acc = evaluate(model, split)
            losses.append(loss)
            accs.append(acc)

    @property
    def gap(self) -> float:
        """Validation loss minus training loss at the end of training."""
        return self.val_loss[-1] - self.train_loss[-1]


def sgd(model: nn.Module) -> nnlab.optim.SGD:
    """The optimiser every digits arm uses unless it is the thing compared."""
    return nnlab.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)


@dataclass
class BestCheckpoint:
    """A copy of the state_dict with the lowest validation loss offered so far."""

    loss: float = float("inf")
    step: int = -1
    state: dict[str, nnlab.Tensor] | None = None

    def offer(self, step: int, val_loss: float, model: nn.Module) -> None:
        if val_loss < self.loss:
            self.loss, self.step = val_loss, step
            # clone: the state_dict's tensors share memory with the live parameters
            self.state = {k: v.clone() for k, v in model.state_dict().items()}


def train(
    model: nn.Sequential,
    data: Digits,
    order: np.ndarray,
    regime: Regime,
    eval_every: int,
    optimizer: nnlab.optim.Optimizer | None = None,
    checkpoint: BestCheckpoint | None = None,
) -> Curves:
    """Train ``model`` on the batches in ``order`` under ``regime``; record the curves
    every ``eval_every`` steps and at the end, offering each recorded state to
    ``checkpoint``."""
    opt = optimizer or sgd(model)
    curves = Curves()
    curves.record(0, model, data)
    model.train()
    for step, idx in enumerate(order, start=1):
        x = data.train.x[idx]
        if regime.augment is not None:
            x = regime.augment(x)
        loss = F.cross_entropy(model(nnlab.tensor(x)), nnlab.tensor(data.train.y[idx]))
        if regime.l1:
            loss = loss + regime.l1 * l1_penalty(model)
        if regime.l2:
            loss = loss + regime.l2 * l2_penalty(model)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if regime.max_norm is not None:
            max_norm_(model, regime.max_norm)
        if step % eval_every == 0 or step == len(order):
            curves.record(step, model, data)
            if checkpoint is not None:
                checkpoint.offer(step, curves.val_loss[-1], model)
    return curves


def mean_std(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


# -- none versus several regularisers ------------------------------------------------------

L1_STRENGTH = 2e-4
L2_STRENGTH = 5e-3
REGIMES = {
    "none": Regime(),
    "L1": Regime(l1=L1_STRENGTH),
    "L2": Regime(l2=L2_STRENGTH),
    # half of each penalty: a mixture of the two arms beside it
    "elastic net": Regime(l1=L1_STRENGTH / 2, l2=L2_STRENGTH / 2),
    "dropout 0.5": Regime(dropout=0.5),
    "max-norm 1": Regime(max_norm=1.0),
}


@experiment(
    "regularizers",
    answers=["overfitting", "regularization", "l1-and-l2", "elastic-net", "dropout"],
    quick=dict(n_train=150, width=64, steps=500, n_seeds=2, eval_every=100),
    full=dict(n_train=150, width=256, steps=2000, n_seeds=4, eval_every=100),
)
def regularizers(
    run: Run, n_train: int, width: int, steps: int, n_seeds: int, eval_every: int
) -> None:
    """What do L1, L2, elastic net, dropout and max-norm do to a network that overfits?"""
    curves: dict[str, list[Curves]] = {name: [] for name in REGIMES}
    weights: dict[str, list[np.ndarray]] = {name: [] for name in REGIMES}
    live: dict[str, list[np.ndarray]] = {name: [] for name in REGIMES}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        data = digits(rng, n_train, n_val=500)
        order = batch_order(rng, n_train, steps, batch=32)
        for name, regime in REGIMES.items():
            nnlab.manual_seed(seed)  # every arm starts from the same weights
            model = mlp(width, regime.dropout)
            curves[name].append(train(model, data, order, regime, eval_every))
            weights[name].append(first_layer(model))
            live[name].append(live_weights(model, data.train.x))

    rows = []
    stats = {}
    for name in REGIMES:
        train_acc = mean_std([c.train_acc[-1] for c in curves[name]])
        val_acc = mean_std([c.val_acc[-1] for c in curves[name]])
        gap = mean_std([c.gap for c in curves[name]])
        sparse = mean_std([float(np.mean(np.abs(w) < NEAR_ZERO)) for w in weights[name]])
        live_sparse = mean_std(
            [float(np.mean(np.abs(w[m]) < NEAR_ZERO)) for w, m in zip(weights[name], live[name])]
        )
        norm = mean_std([float(np.linalg.norm(w)) for w in weights[name]])
        stats[name] = dict(
            val_acc=val_acc[0], gap=gap[0], sparse=sparse[0], live_sparse=live_sparse[0],
            norm=norm[0], live=float(np.mean([m.mean() for m in live[name]])),
        )  # fmt: skip
        key = name.replace(" ", "_").replace("-", "_").replace(".", "")
        run.number(f"{key}_val_accuracy", round(val_acc[0], 4))
        run.number(f"{key}_loss_gap", round(gap[0], 4))
        run.number(f"{key}_near_zero_fraction", round(sparse[0], 4))
        run.number(f"{key}_live_near_zero_fraction", round(live_sparse[0], 4))
        rows.append(
            (name, round(train_acc[0], 4), round(val_acc[0], 4), round(val_acc[1], 4),
             round(gap[0], 4), round(gap[1], 4), round(sparse[0], 4), round(live_sparse[0], 4),
             round(stats[name]["live"], 4), round(norm[0], 3))
        )  # fmt: skip
    run.table(
        f"After {steps} steps on {n_train} digits, mean and std over {n_seeds} seeds. "
        "Live weights join a pixel inked in some training image to a unit that fires on "
        "some training image",
        ("regulariser", "train acc", "val acc", "val acc std", "val-train loss gap",
         "gap std", f"first-layer |w|<{NEAR_ZERO:g}", f"live |w|<{NEAR_ZERO:g}",
         "live fraction", "first-layer norm"),
        rows,
    )  # fmt: skip
    plot_curves(run, curves)
    plot_weight_histograms(run, weights)

    none = curves["none"]
    overfit_gap = min(c.train_acc[-1] - c.val_acc[-1] for c in none)
    worst_fit = min(c.train_acc[-1] for c in none)
    run.claim(
        "Without regularisation the network fits its training digits (training accuracy at "
        "least 99% on every seed) while validation accuracy stays at least 5 points lower",
        worst_fit >= 0.99 and overfit_gap >= 0.05,
        f"lowest training accuracy {worst_fit:.3f}, smallest train-val gap {overfit_gap:.3f}",
    )
    rise = float(np.mean([c.val_loss[-1] / min(c.val_loss) for c in none]))
    run.claim(
        "Without regularisation the validation loss ends at least 20% above its lowest value "
        "(mean over seeds): it rises while the training loss falls",
        rise >= 1.2,
        f"final / lowest validation loss {rise:.2f}",
        quick=False,
    )
    narrowed = 1 - stats["dropout 0.5"]["gap"] / stats["none"]["gap"]
    run.claim(
        "Dropout (p = 0.5) narrows the validation-minus-training loss gap by at least a third",
        narrowed >= 1 / 3,
        f"gap {stats['none']['gap']:.3f} without, {stats['dropout 0.5']['gap']:.3f} with "
        f"dropout: narrowed by {narrowed:.0%}",
        quick=False,
    )
    wider = [n for n in REGIMES if n != "none" and stats[n]["gap"] >= stats["none"]["gap"]]
    run.claim(
        "Every regulariser (L1, L2, elastic net, dropout, max-norm) ends with a smaller "
        "validation-minus-training loss gap than no regularisation",
        not wider,
        "gaps " + ", ".join(f"{n} {s['gap']:.3f}" for n, s in stats.items()),
    )
    l1_sparse, l2_sparse = stats["L1"]["sparse"], stats["L2"]["sparse"]
    run.claim(
        f"L1 leaves at least 50% of the first-layer weights below {NEAR_ZERO:g} in magnitude, "
        "while L2 leaves fewer than 5%",
        l1_sparse >= 0.5 and l2_sparse < 0.05,
        f"L1 {l1_sparse:.1%}, L2 {l2_sparse:.1%}",
        quick=False,
    )
    en_sparse = stats["elastic net"]["sparse"]
    run.claim(
        "Elastic net (half of each penalty) is sparser than L2 and less sparse than L1",
        l2_sparse < en_sparse < l1_sparse,
        f"near-zero fraction: L2 {l2_sparse:.1%}, elastic net {en_sparse:.1%}, L1 {l1_sparse:.1%}",
    )
    shrink = 1 - stats["L2"]["norm"] / stats["none"]["norm"]
    run.claim(
        "L2 shrinks the first-layer weight norm by at least 30% against no regularisation",
        shrink >= 0.3,
        f"norm {stats['none']['norm']:.2f} without, {stats['L2']['norm']:.2f} with L2 "
        f"({shrink:.0%} smaller)",
    )
    best = max((n for n in REGIMES if n != "none"), key=lambda n: stats[n]["val_acc"])
    gain = stats[best]["val_acc"] - stats["none"]["val_acc"]
    run.claim(
        "The best regulariser raises mean validation accuracy by at least 1 point",
        gain >= 0.01,
        f"{best}: {stats[best]['val_acc']:.3f} against {stats['none']['val_acc']:.3f}",
        quick=False,
    )
    run.answer(
        f"Trained on {n_train} digits with no regularisation, the {width}-unit network "
        f"reached {stats['none']['val_acc']:.1%} validation accuracy after fitting the "
        f"training set, with a validation-minus-training loss gap of "
        f"{stats['none']['gap']:.2f} and a final validation loss {rise:.2f} times its lowest: "
        f"overfitting. Regularisers restrict the fit: the gap became "
        + ", ".join(f"{n} {s['gap']:.2f}" for n, s in stats.items() if n != "none")
        + ", and validation accuracy became "
        + ", ".join(f"{n} {s['val_acc']:.1%}" for n, s in stats.items() if n != "none")
        + f". L1 set {l1_sparse:.0%} of the first-layer weights below {NEAR_ZERO:g}, "
        f"{stats['L1']['live_sparse']:.0%} of the live ones (those the data pushes on): its "
        f"pull is the same for every weight, so it drags to zero each weight whose data "
        f"gradient is weaker than the pull. L2 shrank the first-layer norm by {shrink:.0%} and "
        f"left {l2_sparse:.0%} of the weights and {stats['L2']['live_sparse']:.0%} of the live "
        f"ones below {NEAR_ZERO:g}: its pull is proportional to the weight, so a weight the "
        f"data holds up settles where the two balance, while one with no data gradient (a "
        f"blank pixel, a unit that never fires) decays geometrically. Elastic net, half of "
        f"each, left {en_sparse:.0%} ({stats['elastic net']['live_sparse']:.0%} of the live "
        f"weights)."
    )


def plot_curves(run: Run, curves: dict[str, list[Curves]]) -> None:
    """Training and validation loss against step for each arm (mean over seeds)."""
    fig = run.figure(
        "learning-curves",
        "Training (dashed) and validation (solid) cross-entropy, mean over seeds",
        width=7.5,
        height=4.5,
    )
    ax = fig.subplots()
    for i, (name, runs) in enumerate(curves.items()):
        steps = runs[0].steps
        ax.plot(steps, np.mean([c.val_loss for c in runs], 0), color=f"C{i}", label=name)
        ax.plot(steps, np.mean([c.train_loss for c in runs], 0), color=f"C{i}", ls="--")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy")
    ax.legend(fontsize=8)


def plot_weight_histograms(run: Run, weights: dict[str, list[np.ndarray]]) -> None:
    """Histograms of log10 |w| of the first layer, one curve per arm."""
    fig = run.figure(
        "first-layer-weights", "Distribution of first-layer |w| (all seeds) after training"
    )
    ax = fig.subplots()
    bins = np.linspace(-8, 0, 65)
    for i, (name, ws) in enumerate(weights.items()):
        if name.startswith(("dropout", "max-norm")):
            continue
        magnitudes = np.log10(np.abs(np.concatenate([w.ravel() for w in ws])) + 1e-9)
        ax.hist(magnitudes, bins=bins, histtype="step", color=f"C{i}", label=name, density=True)
    ax.axvline(np.log10(NEAR_ZERO), color="grey", ls=":", label=f"|w| = {NEAR_ZERO:g}")
    ax.set_xlabel("log10 |w|")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)


# -- early stopping -------------------------------------------------------------------------


def patience_stop(curves: Curves, patience: int) -> int:
    """The step at which training would stop after ``patience`` evaluations in a row
    without a new lowest validation loss (the last step if that never happens)."""
    best, waited = float("inf"), 0
    for step, loss in zip(curves.steps, curves.val_loss):
        if loss < best:
            best, waited = loss, 0
        else:
            waited += 1
            if waited == patience:
                return step
    return curves.steps[-1]


@experiment(
    "early-stopping",
    answers=["early-stopping"],
    quick=dict(n_train=150, width=64, steps=800, n_seeds=3, eval_every=40, patience=5),
    full=dict(n_train=150, width=256, steps=3000, n_seeds=5, eval_every=50, patience=5),
)
def early_stopping(
    run: Run, n_train: int, width: int, steps: int, n_seeds: int, eval_every: int, patience: int
) -> None:
    """Does stopping at the lowest validation loss, and restoring that checkpoint, pay?"""
    curves, best_steps, stops, restore_error = [], [], [], []
    final, restored = [], []  # (test loss, test accuracy) of each seed's two models
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        data = digits(rng, n_train, n_val=500)
        order = batch_order(rng, n_train, steps, batch=32)
        nnlab.manual_seed(seed)
        model = mlp(width)
        checkpoint = BestCheckpoint()
        curves.append(train(model, data, order, Regime(), eval_every, checkpoint=checkpoint))
        final.append(evaluate(model, data.test))
        model.load_state_dict(checkpoint.state)
        restored.append(evaluate(model, data.test))
        restore_error.append(abs(evaluate(model, data.val)[0] - checkpoint.loss))
        best_steps.append(checkpoint.step)
        stops.append(patience_stop(curves[-1], patience))

    final_loss, final_acc = (mean_std([f[i] for f in final]) for i in (0, 1))
    best_loss, best_acc = (mean_std([r[i] for r in restored]) for i in (0, 1))
    run.number("final_test_loss", round(final_loss[0], 4))
    run.number("restored_test_loss", round(best_loss[0], 4))
    run.number("final_test_accuracy", round(final_acc[0], 4))
    run.number("restored_test_accuracy", round(best_acc[0], 4))
    run.number("mean_best_step", float(np.mean(best_steps)))
    run.number("mean_patience_stop_step", float(np.mean(stops)))
    run.table(
        f"Test loss and accuracy of each seed's last model and its restored best checkpoint "
        f"({steps} steps, patience {patience} evaluations of every {eval_every} steps)",
        ("seed", "best step", "patience stop", "final loss", "restored loss",
         "final acc", "restored acc"),
        [
            (seed, b, s, round(f[0], 4), round(r[0], 4), round(f[1], 4), round(r[1], 4))
            for seed, b, s, f, r in zip(run.seeds(n_seeds), best_steps, stops, final, restored)
        ],
    )  # fmt: skip

    fig = run.figure("validation-curve", "Validation loss of each seed; the dot is its best")
    ax = fig.subplots()
    for i, c in enumerate(curves):
        ax.plot(c.steps, c.val_loss, color=f"C{i}")
        ax.plot(c.steps, c.train_loss, color=f"C{i}", ls="--", lw=0.8)
        ax.plot(best_steps[i], min(c.val_loss), "o", color=f"C{i}")
        ax.axvline(stops[i], color=f"C{i}", ls=":", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("step (dotted: where patience would stop)")
    ax.set_ylabel("cross-entropy (dashed: training)")

    run.claim(
        "Loading the saved state_dict gives back the best validation loss exactly "
        "(difference below 1e-6 on every seed)",
        max(restore_error) < 1e-6,
        f"largest difference {max(restore_error):.1e}",
    )
    lower = 1 - best_loss[0] / final_loss[0]
    run.claim(
        "The restored best checkpoint's test loss is at least 10% below the last model's "
        "(mean over seeds)",
        lower >= 0.10,
        f"test loss {final_loss[0]:.3f} last, {best_loss[0]:.3f} restored ({lower:.0%} lower)",
    )
    run.claim(
        "Stopping early costs at most 1 point of test accuracy (mean over seeds)",
        best_acc[0] >= final_acc[0] - 0.01,
        f"test accuracy {final_acc[0]:.3f} last, {best_acc[0]:.3f} restored",
    )
    run.claim(
        f"With a patience of {patience} evaluations training stops within the first half of "
        "the steps on every seed",
        max(stops) <= steps / 2,
        f"stops at steps {stops} of {steps}",
        quick=False,
    )
    run.answer(
        f"Without regularisation the validation loss bottomed out at step "
        f"{np.mean(best_steps):.0f} on average out of {steps}, and ended "
        f"{np.mean([c.val_loss[-1] / min(c.val_loss) for c in curves]):.2f} times as high "
        f"(mean over seeds) while the training loss went from "
        f"{np.mean([c.train_loss[0] for c in curves]):.2f} to "
        f"{np.mean([c.train_loss[-1] for c in curves]):.1e}. Restoring the saved best "
        f"state_dict gave a test loss of "
        f"{best_loss[0]:.3f} against {final_loss[0]:.3f} for the last model, at a test "
        f"accuracy of {best_acc[0]:.1%} against {final_acc[0]:.1%}; a patience of {patience} "
        f"evaluations would have stopped at step {np.mean(stops):.0f} on average, saving "
        f"{1 - np.mean(stops) / steps:.0%} of the training. Checkpoints are what make this "
        "possible: the best model is only known in hindsight, after validation stops "
        "improving."
    )


# -- data augmentation ----------------------------------------------------------------------


def shift_images(x: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Move each flat 8x8 image by (dy, dx) pixels, filling the uncovered edge with 0."""
    images = x.reshape(-1, 8, 8)
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    rows = np.arange(8)[None, :, None] + 1 - dy[:, None, None]
    cols = np.arange(8)[None, None, :] + 1 - dx[:, None, None]
    out = padded[np.arange(len(x))[:, None, None], rows, cols]
    return out.reshape(len(x), 64)


def augmenter(rng: np.random.Generator, noise: float) -> Callable[[np.ndarray], np.ndarray]:
    """Random shifts of up to one pixel each way plus Gaussian pixel noise."""

    def augment(x: np.ndarray) -> np.ndarray:
        dy, dx = rng.integers(-1, 2, size=(2, len(x)))
        moved = shift_images(x, dy, dx) + noise * rng.standard_normal(x.shape)
        return np.clip(moved, 0.0, 1.0).astype(np.float32)

    return augment


def shifted(rng: np.random.Generator, split: Split) -> Split:
    """Every image moved one pixel up, down, left or right, at random."""
    direction = rng.integers(0, 4, size=len(split.y))
    dy = np.array([-1, 1, 0, 0])[direction]
    dx = np.array([0, 0, -1, 1])[direction]
    return Split(shift_images(split.x, dy, dx).astype(np.float32), split.y)


@experiment(
    "data-augmentation",
    answers=["data-augmentation"],
    quick=dict(n_train=150, width=64, steps=600, n_seeds=3, noise=0.1),
    full=dict(n_train=150, width=256, steps=2500, n_seeds=5, noise=0.1),
)
def data_augmentation(
    run: Run, n_train: int, width: int, steps: int, n_seeds: int, noise: float
) -> None:
    """What do shifted and noisy copies of the training digits buy?"""
    arms = ("plain", "augmented")
    test_acc = {a: [] for a in arms}
    shifted_acc = {a: [] for a in arms}
    gaps = {a: [] for a in arms}
    curves = {a: [] for a in arms}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        data = digits(rng, n_train, n_val=500)
        order = batch_order(rng, n_train, steps, batch=32)
        moved_test = shifted(rng, data.test)
        regimes = {"plain": Regime(), "augmented": Regime(augment=augmenter(rng, noise))}
        for arm, regime in regimes.items():
            nnlab.manual_seed(seed)
            model = mlp(width)
            c = train(model, data, order, regime, eval_every=steps // 10)
            curves[arm].append(c)
            gaps[arm].append(c.gap)
            test_acc[arm].append(evaluate(model, data.test)[1])
            shifted_acc[arm].append(evaluate(model, moved_test)[1])

    stats = {}
    for arm in arms:
        stats[arm] = dict(
            test=mean_std(test_acc[arm]), shifted=mean_std(shifted_acc[arm]),
            gap=mean_std(gaps[arm]),
        )  # fmt: skip
        run.number(f"{arm}_test_accuracy", round(stats[arm]["test"][0], 4))
        run.number(f"{arm}_shifted_test_accuracy", round(stats[arm]["shifted"][0], 4))
        run.number(f"{arm}_loss_gap", round(stats[arm]["gap"][0], 4))
    run.table(
        f"{n_train} training digits, mean and std over {n_seeds} seeds (augmentation: "
        f"shifts of up to 1 pixel and noise of std {noise})",
        ("arm", "test acc", "std", "shifted test acc", "std", "val-train loss gap"),
        [
            (arm, *(round(v, 4) for v in (*s["test"], *s["shifted"])), round(s["gap"][0], 4))
            for arm, s in stats.items()
        ],
    )

    fig = run.figure("augmentation", "Test accuracy per seed, on the digits as drawn and shifted")
    ax = fig.subplots()
    for i, arm in enumerate(arms):
        ax.scatter(np.full(n_seeds, 0 + 0.1 * i), test_acc[arm], color=f"C{i}", label=arm)
        ax.scatter(np.full(n_seeds, 1 + 0.1 * i), shifted_acc[arm], color=f"C{i}")
    ax.set_xticks([0.05, 1.05], ["test digits", "test digits shifted 1 pixel"])
    ax.set_ylabel("accuracy")
    ax.legend()

    shifted_gain = stats["augmented"]["shifted"][0] - stats["plain"]["shifted"][0]
    test_gain = stats["augmented"]["test"][0] - stats["plain"]["test"][0]
    narrowed = 1 - stats["augmented"]["gap"][0] / stats["plain"]["gap"][0]
    run.claim(
        "Augmentation raises accuracy on test digits shifted by one pixel by at least 10 points "
        "(mean over seeds)",
        shifted_gain >= 0.10,
        f"{stats['plain']['shifted'][0]:.3f} plain, {stats['augmented']['shifted'][0]:.3f} "
        "augmented",
    )
    run.claim(
        "Augmentation raises accuracy on the unshifted test digits by at least 2 points "
        "(mean over seeds)",
        test_gain >= 0.02,
        f"{stats['plain']['test'][0]:.3f} plain, {stats['augmented']['test'][0]:.3f} augmented",
        quick=False,
    )
    run.claim(
        "Augmentation narrows the validation-minus-training loss gap by at least a third "
        "(training loss measured on the unaugmented digits)",
        narrowed >= 1 / 3,
        f"gap {stats['plain']['gap'][0]:.3f} plain, {stats['augmented']['gap'][0]:.3f} "
        f"augmented ({narrowed:.0%} narrower)",
        quick=False,
    )
    run.answer(
        f"Trained on the same {n_train} digits, the network that saw randomly shifted, noisy "
        f"copies reached {stats['augmented']['test'][0]:.1%} test accuracy against "
        f"{stats['plain']['test'][0]:.1%} without, and on test digits moved by one pixel "
        f"{stats['augmented']['shifted'][0]:.1%} against {stats['plain']['shifted'][0]:.1%}. "
        f"Augmentation adds examples of variations the label must not depend on, so the "
        f"network learns that invariance instead of memorising pixels: the validation-minus-"
        f"training loss gap went from {stats['plain']['gap'][0]:.2f} to "
        f"{stats['augmented']['gap'][0]:.2f}."
    )


# -- ensembles ------------------------------------------------------------------------------


def probabilities(model: nn.Module, split: Split) -> np.ndarray:
    """Softmax class probabilities of ``model`` (evaluation mode) on ``split``."""
    model.eval()
    with nnlab.no_grad():
        return F.softmax(model(nnlab.tensor(split.x)), dim=1).numpy()


def nll_and_accuracy(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean negative log-likelihood and accuracy of class probabilities ``p``."""
    nll = -np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)))
    return float(nll), float(np.mean(p.argmax(1) == y))


@experiment(
    "ensembles",
    answers=["ensembles"],
    quick=dict(n_train=150, width=64, steps=400, n_members=5, n_repeats=2),
    full=dict(n_train=150, width=256, steps=1500, n_members=8, n_repeats=3),
)
def ensembles(
    run: Run, n_train: int, width: int, steps: int, n_members: int, n_repeats: int
) -> None:
    """Does averaging the predictions of networks trained from different seeds beat them?"""
    seeds = run.seeds(n_repeats * n_members)
    member_nll, member_acc, ens_nll, ens_acc, by_size = [], [], [], [], []
    disagreement = []  # how often two members predict different labels
    sizes = range(1, n_members + 1)
    for r in range(n_repeats):
        data = digits(run.rng(r), n_train, n_val=500)
        probs = []
        for seed in seeds[r * n_members : (r + 1) * n_members]:
            # each member has its own initialisation and its own batch order
            order = batch_order(np.random.default_rng(seed), n_train, steps, batch=32)
            nnlab.manual_seed(seed)
            model = mlp(width)
            train(model, data, order, Regime(), eval_every=steps)
            probs.append(probabilities(model, data.test))
        scores = [nll_and_accuracy(p, data.test.y) for p in probs]
        member_nll.append([s[0] for s in scores])
        member_acc.append([s[1] for s in scores])
        ensemble = nll_and_accuracy(np.mean(probs, axis=0), data.test.y)
        ens_nll.append(ensemble[0])
        ens_acc.append(ensemble[1])
        by_size.append([nll_and_accuracy(np.mean(probs[:k], 0), data.test.y)[1] for k in sizes])
        labels = [p.argmax(1) for p in probs]
        disagreement.append(
            np.mean([np.mean(a != b) for i, a in enumerate(labels) for b in labels[i + 1 :]])
        )

    mean_member = float(np.mean(member_acc))
    run.number("mean_member_accuracy", round(mean_member, 4))
    run.number("ensemble_accuracy", round(float(np.mean(ens_acc)), 4))
    run.number("mean_member_nll", round(float(np.mean(member_nll)), 4))
    run.number("ensemble_nll", round(float(np.mean(ens_nll)), 4))
    run.number("pairwise_disagreement", round(float(np.mean(disagreement)), 4))
    run.table(
        f"Test scores per repeat (a fresh split of {n_train} training digits each), "
        f"{n_members} members",
        ("repeat", "members' acc mean", "worst", "best", "ensemble acc",
         "members' NLL mean", "best member NLL", "ensemble NLL"),
        [
            (r, round(float(np.mean(a)), 4), round(min(a), 4), round(max(a), 4),
             round(ens_acc[r], 4), round(float(np.mean(n)), 4), round(min(n), 4),
             round(ens_nll[r], 4))
            for r, (a, n) in enumerate(zip(member_acc, member_nll))
        ],
    )  # fmt: skip

    curve = np.mean(by_size, axis=0)
    fig = run.figure("ensemble-size", "Test accuracy of an ensemble of the first k members")
    ax = fig.subplots()
    for r in range(n_repeats):
        ax.plot(sizes, by_size[r], color="C0", alpha=0.4)
        ax.scatter(np.ones(n_members), member_acc[r], color="C1", s=10)
    ax.plot(sizes, curve, color="C0", lw=2, label="ensemble (mean over repeats)")
    ax.set_xlabel("members averaged")
    ax.set_ylabel("test accuracy (orange: single members)")
    ax.legend()

    nll_beats_all = all(e < min(m) for e, m in zip(ens_nll, member_nll))
    run.claim(
        "The ensemble's test NLL is lower than every one of its members', in every repeat",
        nll_beats_all,
        "ensemble "
        + ", ".join(f"{e:.3f}" for e in ens_nll)
        + "; best member "
        + ", ".join(f"{min(m):.3f}" for m in member_nll),
    )
    gain = float(np.mean(ens_acc)) - mean_member
    run.claim(
        "The ensemble's test accuracy is at least 1 point above its members' mean "
        "(mean over repeats)",
        gain >= 0.01,
        f"ensemble {np.mean(ens_acc):.3f}, members {mean_member:.3f}",
        quick=False,
    )
    beats_best = all(e >= max(a) for e, a in zip(ens_acc, member_acc))
    run.claim(
        "The ensemble is at least as accurate as its best member, in every repeat",
        beats_best,
        "ensemble "
        + ", ".join(f"{e:.3f}" for e in ens_acc)
        + "; best member "
        + ", ".join(f"{max(a):.3f}" for a in member_acc),
        quick=False,
    )
    half = curve[n_members // 2 - 1] - curve[0]
    run.claim(
        f"Returns diminish: the first {n_members // 2} members give at least two thirds of the "
        f"accuracy gain of all {n_members}",
        half >= 2 / 3 * (curve[-1] - curve[0]),
        f"gain {half:.4f} with {n_members // 2}, {curve[-1] - curve[0]:.4f} with {n_members}",
        quick=False,
    )
    run.answer(
        f"Averaging the predicted probabilities of networks trained from different seeds "
        f"helps only as far as their mistakes differ. Here {n_members} members trained on the "
        f"same {n_train} digits disagreed on {np.mean(disagreement):.1%} of the test digits "
        f"(per pair) while each got {1 - mean_member:.1%} wrong; they averaged "
        f"{mean_member:.1%} test accuracy on their own and {np.mean(ens_acc):.1%} as an "
        f"ensemble, against {np.mean([max(a) for a in member_acc]):.1%} for the best member, "
        f"and the test NLL went from {np.mean(member_nll):.3f} (members' mean) to "
        f"{np.mean(ens_nll):.3f} (best member {np.mean([min(n) for n in member_nll]):.3f}). "
        f"Accuracy against the number of members averaged: "
        + ", ".join(f"{a:.1%}" for a in curve)
        + "."
    )


# -- weight decay versus an L2 penalty ------------------------------------------------------


def decayed_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Parameter groups that decay the weight matrices and leave the biases alone, as the
    L2 penalty of :class:`Regime` does."""
    named = list(model.named_parameters())
    weights = [p for n, p in named if not n.endswith("bias")]
    biases = [p for n, p in named if n.endswith("bias")]
    return [
        {"params": weights, "weight_decay": weight_decay},
        {"params": biases, "weight_decay": 0.0},
    ]


def flat_weights(model: nn.Module) -> np.ndarray:
    """All parameters of ``model`` in one vector."""
    return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])


def weight_norm(model: nn.Module) -> float:
    """Euclidean norm of the weight matrices (biases left out)."""
    return float(np.sqrt(sum(float((p.detach().numpy() ** 2).sum()) for p in l2_params(model))))


def l2_params(model: nn.Module) -> list[nn.Parameter]:
    return [p for n, p in model.named_parameters() if not n.endswith("bias")]


@experiment(
    "weight-decay-vs-l2",
    answers=["weight-decay"],
    quick=dict(n_train=150, width=64, steps=300, n_seeds=2, coefficients=(0.01, 0.1, 1.0)),
    full=dict(n_train=150, width=256, steps=1500, n_seeds=3, coefficients=(0.001, 0.01, 0.1, 1.0)),
)
def weight_decay_vs_l2(
    run: Run, n_train: int, width: int, steps: int, n_seeds: int, coefficients: tuple
) -> None:
    """Is weight decay the same as an L2 penalty, with SGD and with Adam?"""
    lam = 0.1  # the coefficient of the equivalence checks
    # largest weight difference between decay and the equivalent penalty, per optimizer
    difference = {(o, w): [] for o in ("SGD", "Adam") for w in ("first step", "end")}
    val = {(opt, c): [] for opt in ("Adam + L2", "AdamW") for c in coefficients}
    norms = {key: [] for key in val}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        data = digits(rng, n_train, n_val=500)
        order = batch_order(rng, n_train, steps, batch=32)

        def fit(make_opt, regime=Regime(), seed=seed, data=data, order=order) -> nn.Module:
            nnlab.manual_seed(seed)  # same initial weights for every arm of this seed
            model = mlp(width)
            train(model, data, order, regime, eval_every=steps, optimizer=make_opt(model))
            return model

        # L2 in the loss, lam/2 * sum(w^2), has gradient lam * w: the optimizers' decay term
        def sgd_decay(m):
            return nnlab.optim.SGD(decayed_groups(m, lam), lr=0.05, momentum=0.9)

        def adam_decay(m):
            return nnlab.optim.Adam(decayed_groups(m, lam), lr=1e-3)

        def plain_adam(m):
            return nnlab.optim.Adam(m.parameters(), lr=1e-3)

        for name, decayed, penalised in (("SGD", sgd_decay, sgd), ("Adam", adam_decay, plain_adam)):
            for when, steps_taken in (("first step", order[:1]), ("end", order)):
                a = fit(decayed, order=steps_taken)
                b = fit(penalised, Regime(l2=lam / 2), order=steps_taken)
                difference[name, when].append(
                    float(np.abs(flat_weights(a) - flat_weights(b)).max())
                )
        for c in coefficients:
            for name, cls in (("Adam + L2", nnlab.optim.Adam), ("AdamW", nnlab.optim.AdamW)):
                model = fit(lambda m, cls=cls, c=c: cls(decayed_groups(m, c), lr=1e-3))
                val[name, c].append(evaluate(model, data.val)[1])
                norms[name, c].append(weight_norm(model))

    for (name, when), values in difference.items():
        run.number(f"{name.lower()}_max_difference_{when.replace(' ', '_')}", max(values))
    sgd_diff, adam_diff = difference["SGD", "end"], difference["Adam", "end"]
    first = max(difference["SGD", "first step"] + difference["Adam", "first step"])
    rows = []
    for (name, c), accs in val.items():
        acc, norm = mean_std(accs), mean_std(norms[name, c])
        rows.append((name, c, round(acc[0], 4), round(acc[1], 4), round(norm[0], 3)))
    run.table(
        f"Adam (lr 1e-3) with weight_decay as an L2 gradient term, against AdamW; {n_seeds} seeds",
        ("optimizer", "coefficient", "val acc", "std", "weight norm"),
        rows,
    )
    for name in ("Adam + L2", "AdamW"):
        best = max(float(np.mean(val[name, c])) for c in coefficients)
        run.number(f"{name.replace(' + ', '_').lower()}_best_val_accuracy", round(best, 4))

    fig = run.figure("decay", "Weight norm and validation accuracy against the coefficient")
    ax_norm, ax_acc = fig.subplots(1, 2)
    for i, name in enumerate(("Adam + L2", "AdamW")):
        ax_norm.plot(coefficients, [np.mean(norms[name, c]) for c in coefficients], "o-",
                     color=f"C{i}", label=name)  # fmt: skip
        ax_acc.plot(coefficients, [np.mean(val[name, c]) for c in coefficients], "o-",
                    color=f"C{i}", label=name)  # fmt: skip
    for ax, label in ((ax_norm, "weight norm"), (ax_acc, "validation accuracy")):
        ax.set_xscale("log")
        ax.set_xlabel("coefficient λ")
        ax.set_ylabel(label)
    ax_norm.legend()

    run.claim(
        f"With SGD, weight decay λ = {lam} and an L2 term (λ/2)·Σw² in the loss give the same "
        "weights (largest difference below 1e-4)",
        max(sgd_diff) < 1e-4,
        f"largest difference {max(sgd_diff):.1e}",
    )
    run.claim(
        f"With Adam, weight_decay = {lam} is that same L2 term: same weights as (λ/2)·Σw² in "
        "the loss (largest difference below 1e-4)",
        max(adam_diff) < 1e-4,
        f"largest difference {max(adam_diff):.1e}",
    )
    l2_norm, w_norm = (float(np.mean(norms[n, lam])) for n in ("Adam + L2", "AdamW"))
    apart = abs(l2_norm - w_norm) / max(l2_norm, w_norm)
    run.claim(
        f"At the same coefficient λ = {lam}, Adam + L2 and AdamW end with weight norms at "
        "least 25% apart",
        apart >= 0.25,
        f"weight norm {l2_norm:.2f} Adam + L2, {w_norm:.2f} AdamW",
    )
    best_l2 = max(float(np.mean(val["Adam + L2", c])) for c in coefficients)
    best_w = max(float(np.mean(val["AdamW", c])) for c in coefficients)
    run.claim(
        "AdamW's best validation accuracy over the coefficients is at least Adam + L2's",
        best_w >= best_l2,
        f"best {best_w:.3f} AdamW, {best_l2:.3f} Adam + L2",
        quick=False,
    )
    run.answer(
        f"With SGD they are the same thing: decaying the weights by λ = {lam} and adding "
        f"(λ/2)·Σw² to the loss ended with weights at most {max(sgd_diff):.1e} apart after "
        f"{steps} steps, and at most {first:.1e} after the first step (the two compute the "
        f"same update with different float32 rounding, and training amplifies it). Adam "
        f"breaks the equivalence because it divides every gradient, the L2 part included, by "
        f"its running RMS: its weight_decay (an L2 term, at most {max(adam_diff):.1e} from "
        f"the explicit penalty) and AdamW's decoupled decay, which shrinks the weights by "
        f"lr·λ outside the adaptive step, ended at weight norms {l2_norm:.2f} and {w_norm:.2f} "
        f"at λ = {lam}. Over λ in {list(coefficients)} the best validation accuracy was "
        f"{best_l2:.1%} for Adam + L2 and {best_w:.1%} for AdamW."
    )
