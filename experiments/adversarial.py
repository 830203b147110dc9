"""Adversarial examples and adversarial training on the standardised digits.

Per seed, three MLPs: a standard one, a PGD-adversarially-trained one (same initial weights
and the same batches as the standard one) and a second standard one with its own weights
and batch order, the target of transferred attacks. The attacks perturb the standardised
pixels by at most ε in L∞, so ε is in units of each pixel's standard deviation over the
data set, and keep every pixel inside the
image of the raw range [0, 16].
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import load_digits

import nnlab
import nnlab.nn.functional as F
from experiments.common import digits
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.attacks import FGSM, PGD, adversarial_training_step


def pixel_scale() -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's mean and scale in the standardisation of ``experiments.common.digits``
    (the same formula), to map bounds and images between raw and standardised units."""
    raw = load_digits().data
    std = raw.std(axis=0)
    return raw.mean(axis=0), np.where(std > 0, std, 1.0)


def mlp(hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def batch_order(rng: np.random.Generator, n: int, batch: int, epochs: int) -> list[np.ndarray]:
    """The mini-batch indices of ``epochs`` shuffled passes over n examples."""
    return [
        perm[i : i + batch]
        for perm in (rng.permutation(n) for _ in range(epochs))
        for i in range(0, n, batch)
    ]


class Digits:
    """The train/test split and the valid input range the attacks keep to."""

    def __init__(self, rng: np.random.Generator, n_test: int) -> None:
        x, y = digits()
        perm = rng.permutation(len(x))
        test, train = perm[:n_test], perm[n_test:]
        self.x_train, self.y_train = x[train], y[train]
        self.x_test, self.y_test = x[test], y[test]
        mean, scale = pixel_scale()
        self.mean, self.scale = mean, scale
        # The same float64 operations as the data's, then the same cast: x stays inside.
        self.lo = ((0.0 - mean) / scale).astype(np.float32)
        self.hi = ((16.0 - mean) / scale).astype(np.float32)

    def fgsm(self, model: nn.Module, eps: float) -> FGSM:
        return FGSM(model, eps, clip_min=self.lo, clip_max=self.hi)

    def pgd(self, model: nn.Module, eps: float, steps: int, restarts: int = 1, **kw) -> PGD:
        """L∞ PGD with Madry et al.'s step α = 2.5ε/steps (it can cross the ball)."""
        alpha = 2.5 * eps / steps
        return PGD(
            model, eps, alpha, steps, restarts=restarts, clip_min=self.lo, clip_max=self.hi, **kw
        )


def train(
    model: nn.Module, data: Digits, order: list[np.ndarray], lr: float, attack: PGD | None
) -> float:
    """Adam over the batches of ``order``, on clean batches or (with ``attack``) on PGD
    examples of them; returns the seconds it took."""
    opt = nnlab.optim.Adam(model.parameters(), lr=lr)
    xs, ys = nnlab.tensor(data.x_train), nnlab.tensor(data.y_train)
    start = time.perf_counter()
    for rows in order:
        idx = nnlab.tensor(rows)
        if attack is None:
            loss = F.cross_entropy(model(xs[idx]), ys[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        else:
            adversarial_training_step(model, opt, attack, xs[idx], ys[idx])
    return time.perf_counter() - start


def predict(model: nn.Module, x: np.ndarray | nnlab.Tensor) -> np.ndarray:
    with nnlab.no_grad():
        return model(nnlab.tensor(x) if isinstance(x, np.ndarray) else x).argmax(1).numpy()


def accuracy(model: nn.Module, x: np.ndarray | nnlab.Tensor, y: np.ndarray) -> float:
    return float((predict(model, x) == y).mean())


def robust_accuracy(model: nn.Module, data: Digits, attack, eps_grid: list[float]) -> list[float]:
    """Test accuracy under ``attack(model, eps)`` for every ε (the clean accuracy at 0)."""
    x, y = data.x_test, data.y_test
    return [accuracy(model, attack(model, eps)(x, y) if eps > 0 else x, y) for eps in eps_grid]


def spread(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def plot_curves(run: Run, curves: dict, eps_grid: list[float], eps_train: float) -> None:
    fig = run.figure(
        "accuracy_vs_eps",
        "Test accuracy against the L∞ radius ε (per-pixel standard deviations): mean and "
        "min–max over seeds, FGSM (left) and PGD (right)",
        width=9.0,
        height=3.8,
    )
    axes = fig.subplots(1, 2, sharey=True)
    for ax, attack in zip(axes, ("FGSM", "PGD")):
        for model, color in (("standard", "C3"), ("adversarial", "C0")):
            acc = np.array(curves[model, attack])
            ax.plot(eps_grid, acc.mean(0), "o-", color=color, label=f"{model} training")
            ax.fill_between(eps_grid, acc.min(0), acc.max(0), color=color, alpha=0.2)
        ax.axvline(eps_train, color="grey", linestyle=":", label="training ε")
        ax.axhline(0.1, color="grey", linestyle="--", linewidth=0.8, label="chance")
        ax.set_title(attack)
        ax.set_xlabel("ε")
    axes[0].set_ylabel("test accuracy")
    axes[0].legend(fontsize=8)


def plot_digits(
    run: Run, data: Digits, standard: nn.Module, robust: nn.Module, eps: float, steps: int
) -> None:
    """The first test digits, clean and as PGD examples against each network, with the
    networks' predictions."""
    n = 8
    x, y = data.x_test[:n], data.y_test[:n]
    rows = [
        ("clean", x, standard),
        ("vs standard", None, standard),
        ("vs adversarial", None, robust),
    ]
    fig = run.figure(
        "digits",
        f"Test digits, clean and PGD-perturbed (ε = {eps}) against each network, with that "
        "network's prediction (red: wrong). Clean row: standard / adversarial predictions.",
        width=1.1 * n,
        height=4.2,
    )
    axes = fig.subplots(len(rows), n)
    for r, (label, images, model) in enumerate(rows):
        if images is None:
            nnlab.manual_seed(0)
            images = data.pgd(model, eps, steps)(x, y).numpy()
        pred = predict(model, images)
        raw = np.clip(images * data.scale + data.mean, 0, 16)
        for i in range(n):
            ax = axes[r, i]
            ax.imshow(raw[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                title = f"{pred[i]} / {predict(robust, images[i : i + 1])[0]}"
                wrong = pred[i] != y[i]
            else:
                title, wrong = str(pred[i]), pred[i] != y[i]
            ax.set_title(title, color="C3" if wrong else "black", fontsize=9)
        axes[r, 0].set_ylabel(label, fontsize=9)


@experiment(
    "adversarial-robustness",
    answers=["adversarial-examples", "adversarial-training"],
    quick=dict(n_seeds=2, hidden=64, epochs=12, train_steps=5, eval_steps=10,
               strong_steps=20, restarts=2, n_test=240, eps_grid=(0.0, 0.1, 0.3, 0.6, 1.0)),
    full=dict(n_seeds=5, hidden=128, epochs=40, train_steps=7, eval_steps=10,
              strong_steps=40, restarts=4, n_test=360,
              eps_grid=(0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)),
)  # fmt: skip
def adversarial_robustness(
    run: Run,
    n_seeds: int,
    hidden: int,
    epochs: int,
    train_steps: int,
    eval_steps: int,
    strong_steps: int,
    restarts: int,
    n_test: int,
    eps_grid: tuple[float, ...],
) -> None:
    """How easily do small perturbations fool a digit classifier, and what does PGD
    adversarial training buy and cost?"""
    eps_train, lr, batch = 0.3, 3e-3, 64
    eps_grid = list(eps_grid)
    data = Digits(run.rng(0), n_test)
    n = len(data.x_train)
    attacks = {
        "FGSM": data.fgsm,
        "PGD": lambda m, e: data.pgd(m, e, eval_steps),
        "strong PGD": lambda m, e: data.pgd(m, e, strong_steps, restarts),
    }
    curves = {(m, a): [] for m in ("standard", "adversarial") for a in attacks}
    seconds = {"standard": [], "adversarial": []}
    transfer = {"clean": [], "transferred": [], "white-box": []}
    targeted = {"standard": [], "adversarial": []}
    x_test, y_test = data.x_test, data.y_test
    for i, seed in enumerate(run.seeds(n_seeds)):
        order = batch_order(np.random.default_rng([seed, 1]), n, batch, epochs)
        models = {}
        for arm in ("standard", "adversarial"):
            nnlab.manual_seed(seed)  # the same initial weights for both arms
            model = models[arm] = mlp(hidden)
            attack = data.pgd(model, eps_train, train_steps) if arm == "adversarial" else None
            seconds[arm].append(train(model, data, order, lr, attack) / epochs)
            for name, make in attacks.items():
                nnlab.manual_seed(seed)
                curves[arm, name].append(robust_accuracy(model, data, make, eps_grid))
            t = (y_test + 1) % 10  # a target class other than the true one
            nnlab.manual_seed(seed)
            x_t = data.pgd(model, eps_train, eval_steps, targeted=True)(x_test, t)
            targeted[arm].append(float((predict(model, x_t) == t).mean()))

        # A second standard network, independent of the first: other weights, other batches.
        nnlab.manual_seed(seed + 500)
        other = mlp(hidden)
        other_order = batch_order(np.random.default_rng([seed, 2]), n, batch, epochs)
        train(other, data, other_order, lr, attack=None)
        nnlab.manual_seed(seed)
        x_adv = data.pgd(models["standard"], eps_train, eval_steps)(x_test, y_test)
        transfer["clean"].append(accuracy(other, x_test, y_test))
        transfer["transferred"].append(accuracy(other, x_adv, y_test))
        x_own = data.pgd(other, eps_train, eval_steps)(x_test, y_test)
        transfer["white-box"].append(accuracy(other, x_own, y_test))
        if i == 0:
            standard, robust = models["standard"], models["adversarial"]
            plot_digits(run, data, standard, robust, eps_train, eval_steps)

    # -- numbers and tables -------------------------------------------------------------
    k = eps_grid.index(eps_train)
    at = {key: np.array(c)[:, k] for key, c in curves.items()}  # per seed, at ε_train
    clean = {m: np.array(curves[m, "PGD"])[:, 0] for m in ("standard", "adversarial")}
    ratios = np.array(seconds["adversarial"]) / np.array(seconds["standard"])
    for m in ("standard", "adversarial"):
        run.number(f"{m}_clean_accuracy", round(float(clean[m].mean()), 4))
        run.number(f"{m}_pgd_accuracy_at_train_eps", round(float(at[m, "PGD"].mean()), 4))
        run.number(f"{m}_seconds_per_epoch", round(float(np.mean(seconds[m])), 4))
        run.number(f"{m}_targeted_success", round(float(np.mean(targeted[m])), 4))
    price = float(clean["standard"].mean() - clean["adversarial"].mean())
    run.number("clean_accuracy_price", round(price, 4))
    run.number("time_per_epoch_ratio_median", round(float(np.median(ratios)), 3))
    run.number("passes_per_update_ratio", train_steps + 1)
    for key, values in transfer.items():
        run.number(
            f"second_model_{key.replace('-', '_')}_accuracy", round(float(np.mean(values)), 4)
        )

    run.table(
        f"Test accuracy against ε, mean ± std over {n_seeds} seeds",
        ["ε"] + [f"{m} {a}" for m, a in curves],
        [
            [eps] + [spread([c[j] for c in curves[key]]) for key in curves]
            for j, eps in enumerate(eps_grid)
        ],
    )
    run.table(
        f"Robustness, its price and its cost (PGD-{train_steps} training at ε = {eps_train})",
        ("measure", "standard", "adversarial"),
        [
            ("clean accuracy", spread(clean["standard"]), spread(clean["adversarial"])),
            (f"PGD accuracy at ε = {eps_train}", spread(at["standard", "PGD"]),
             spread(at["adversarial", "PGD"])),
            ("targeted PGD success", spread(targeted["standard"]), spread(targeted["adversarial"])),
            ("seconds per epoch", spread(seconds["standard"]), spread(seconds["adversarial"])),
        ],
    )  # fmt: skip
    run.table(
        f"Transfer: a second standard network on PGD examples (ε = {eps_train}) made on the "
        "first one, against its own white-box PGD examples",
        ("inputs", "accuracy of the second network"),
        [(key, spread(values)) for key, values in transfer.items()],
    )
    shown = {key: c for key, c in curves.items() if key[1] != "strong PGD"}
    plot_curves(run, shown, eps_grid, eps_train)

    # -- claims (thresholds fixed before the first run) ------------------------------------
    run.claim(
        f"PGD at ε = {eps_train} pixel standard deviations cuts the standard network's test "
        "accuracy to less than half its clean accuracy, on every seed",
        bool(np.all(at["standard", "PGD"] < 0.5 * clean["standard"])),
        f"PGD accuracy {spread(at['standard', 'PGD'])} vs clean {spread(clean['standard'])}",
        quick=False,
    )
    gain = at["adversarial", "PGD"] - at["standard", "PGD"]
    run.claim(
        f"PGD adversarial training raises the accuracy under PGD at ε = {eps_train} by at "
        "least 20 points over standard training, on every seed",
        bool(np.all(gain >= 0.20)),
        f"gain per seed {np.round(gain, 3).tolist()}",
    )
    run.claim(
        "Robustness costs clean accuracy: the adversarially trained network's mean clean test "
        "accuracy is lower than the standard one's",
        price > 0,
        f"clean accuracy {spread(clean['standard'])} standard vs "
        f"{spread(clean['adversarial'])} adversarial",
        quick=False,
    )
    run.claim(
        f"PGD-{train_steps} adversarial training takes at least (k + 1)/2 = "
        f"{(train_steps + 1) / 2:g} times as long per epoch as standard training (it does "
        f"{train_steps + 1} forward-backward passes per update instead of 1)",
        bool(np.median(ratios) >= (train_steps + 1) / 2),
        f"time-per-epoch ratio per seed {np.round(ratios, 2).tolist()}",
        quick=False,
    )
    t_clean, t_moved, t_own = (np.mean(transfer[key]) for key in transfer)
    run.claim(
        "Adversarial examples transfer: PGD examples made on one standard network lower an "
        "independently trained one's mean accuracy by at least 20 points",
        bool(t_clean - t_moved >= 0.20),
        f"second network: clean {t_clean:.3f}, on transferred examples {t_moved:.3f}",
        quick=False,
    )
    run.claim(
        "A transferred attack is weaker than a white-box one on the same network",
        bool(t_moved > t_own),
        f"second network: transferred {t_moved:.3f} vs its own white-box PGD {t_own:.3f}",
        quick=False,
    )
    worst = max(
        float(np.max(np.array(curves[m, stronger]) - np.array(curves[m, weaker])))
        for m in ("standard", "adversarial")
        for stronger, weaker in (("strong PGD", "PGD"), ("PGD", "FGSM"))
    )
    run.claim(
        f"No sign of gradient masking: for both networks, at every ε and seed, PGD with "
        f"{strong_steps} steps and {restarts} restarts is no weaker than PGD-{eval_steps}, "
        "which is no weaker than FGSM (accuracy at most 1 point higher)",
        worst <= 0.01,
        f"largest accuracy of a stronger attack above a weaker one {worst:+.3f}",
        quick=False,
    )
    run.claim(
        f"Targeted PGD at ε = {eps_train} reaches the chosen class at least twice as often "
        "on the standard network as on the adversarially trained one",
        bool(np.mean(targeted["standard"]) >= 2 * np.mean(targeted["adversarial"])),
        f"success {spread(targeted['standard'])} standard vs "
        f"{spread(targeted['adversarial'])} adversarial",
        quick=False,
    )

    strong_std = np.array(curves["standard", "strong PGD"])[:, k]
    # ε in raw grey levels for the median pixel (the constant pixels, of scale 1, left out)
    grey_levels = eps_train * float(np.median(data.scale[data.scale != 1.0]))
    run.answer(
        "An adversarial example is an input changed by a perturbation too small to matter to "
        "a person, chosen by following the loss's gradient, that the network misclassifies. "
        f"On the digits, moving each pixel by at most ε = {eps_train} of its standard "
        f"deviation (for the median pixel, {grey_levels:.1f} grey levels of 16) "
        f"took a standard MLP from {clean['standard'].mean():.1%} clean test accuracy to "
        f"{at['standard', 'FGSM'].mean():.1%} under one-step FGSM and "
        f"{at['standard', 'PGD'].mean():.1%} under {eval_steps}-step PGD "
        f"({strong_std.mean():.1%} with {strong_steps} steps and {restarts} restarts; mean of "
        f"{n_seeds} seeds). The examples transfer: made on one network, they lowered an "
        f"independently trained one from {t_clean:.1%} to {t_moved:.1%} (its own white-box "
        f"attack: {t_own:.1%}), so an attacker need not know the weights. "
        "Adversarial training makes a network robust by training every update on PGD "
        "examples made against the current weights (the min–max objective). With PGD-"
        f"{train_steps} at ε = {eps_train}, the same network from the same start reached "
        f"{at['adversarial', 'PGD'].mean():.1%} under PGD at that ε, and a clean accuracy "
        f"of {clean['adversarial'].mean():.1%} against {clean['standard'].mean():.1%} for "
        "standard training; a "
        f"targeted attack reached its class {np.mean(targeted['standard']):.0%} of the time "
        f"on the standard network and {np.mean(targeted['adversarial']):.0%} on the "
        f"adversarially trained one. The cost is the attack inside every step: "
        f"{train_steps + 1} forward-backward passes per update, measured as "
        f"{np.median(ratios):.1f}× the time per epoch. Stronger attacks (more steps, "
        f"restarts) never did better than weaker ones by more than {max(worst, 0) * 100:.1f} "
        "points of accuracy, the check that the robustness is not an artefact of masked "
        "gradients."
    )
