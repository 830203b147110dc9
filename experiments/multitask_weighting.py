"""Weighting the losses of a two-task network: equal fixed weights, fixed weights scaled by
hand, and learned uncertainty weighting (Kendall, Gal and Cipolla 2018), against one
single-task network per task.

The digits carry two tasks: the digit's class (cross-entropy, about 2.3 at the start and
well under 1 once learned) and its amount of ink, the sum of the raw pixel values (0 to 16
each), centred and regressed in those raw units (mean squared error, about 10³ at the start).
The two losses differ by orders of magnitude only because of the units the ink is measured
in, which is exactly what a plain sum of losses is sensitive to.

Every arm is the same network, a trunk ``Linear(64, width) → ReLU`` with a class head
``Linear(width, 10)`` and an ink head ``Linear(width, 1)``, built from the same seed (so
from the same weights) and trained on the same batches with Adam:

- *classifier*, *ink regressor*: one loss each (the other head is never used);
- *equal weights*: CE + MSE;
- *hand-scaled*: CE + MSE / Var(ink), the fixed weights someone who knows the units picks;
- *uncertainty*: exp(−s₁)·CE + s₁ + exp(−s₂)·MSE + s₂, with s learned alongside the network
  (its own learning rate, 0.05, so that s can travel the ~10 units between log CE and
  log MSE within the run).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_digits

import nnlab
import nnlab.nn.functional as F
from experiments.common import digits
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.nn.modules.task_weighting import UncertaintyWeighting

ARMS = ("classifier", "ink regressor", "equal weights", "hand-scaled", "uncertainty")
N_TRAIN, BATCH, LR, LR_LOG_VARS = 1200, 64, 0.01, 0.05


@dataclass(frozen=True)
class Split:
    """Standardised pixels, class labels and centred ink (raw pixel units)."""

    x: np.ndarray
    y: np.ndarray
    ink: np.ndarray


def two_task_digits(rng: np.random.Generator) -> tuple[Split, Split]:
    """A random split of the 1797 digits, ``N_TRAIN`` to train on and the rest to test,
    with two targets: the class, and the ink (the sum of the raw pixel values, centred)."""
    x, y = digits()
    total = load_digits().data.sum(axis=1)
    ink = (total - total.mean()).astype(np.float32)
    order = rng.permutation(len(x))
    train, test = order[:N_TRAIN], order[N_TRAIN:]
    return Split(x[train], y[train], ink[train]), Split(x[test], y[test], ink[test])


class TwoHeads(nn.Module):
    """A shared trunk ``Linear(64, width) → ReLU`` with a class head and an ink head."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(64, width), nn.ReLU())
        self.classes = nn.Linear(width, 10)
        self.ink = nn.Linear(width, 1)

    def forward(self, x: nnlab.Tensor) -> tuple[nnlab.Tensor, nnlab.Tensor]:
        h = self.trunk(x)
        return self.classes(h), self.ink(h).squeeze(1)


def task_losses(
    model: TwoHeads, split: Split, rows: np.ndarray | None = None
) -> tuple[nnlab.Tensor, nnlab.Tensor]:
    """Cross-entropy of the class head and mean squared error of the ink head on
    ``split`` (on its ``rows`` only, when given)."""
    x, y, v = (nnlab.tensor(a if rows is None else a[rows]) for a in (split.x, split.y, split.ink))
    logits, ink = model(x)
    return F.cross_entropy(logits, y), F.mse_loss(ink, v)


def train(
    model: TwoHeads, arm: str, split: Split, order: np.ndarray, log_every: int
) -> tuple[list[list[float]], UncertaintyWeighting]:
    """Adam on ``arm``'s loss over the batches in the rows of ``order``. Returns the task
    weights used every ``log_every`` steps (the learned exp(−s) for the uncertainty arm;
    the fixed ones otherwise) and the weighting layer (trained only by that arm)."""
    weighting = UncertaintyWeighting(2)
    groups = [{"params": list(model.parameters())}]
    if arm == "uncertainty":
        groups.append({"params": list(weighting.parameters()), "lr": LR_LOG_VARS})
    opt = nnlab.optim.Adam(groups, lr=LR)
    fixed = {
        "classifier": (1.0, 0.0),
        "ink regressor": (0.0, 1.0),
        "equal weights": (1.0, 1.0),
        "hand-scaled": (1.0, 1.0 / float(split.ink.var())),
    }
    history = []
    for step, rows in enumerate(order, start=1):
        ce, mse = task_losses(model, split, rows)
        if arm == "uncertainty":
            loss = weighting([ce, mse])
        else:
            w_ce, w_mse = fixed[arm]
            loss = w_ce * ce + w_mse * mse  # a zero weight leaves its head untouched
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % log_every == 0:
            current = weighting.weights().numpy() if arm == "uncertainty" else fixed[arm]
            history.append([float(w) for w in current])
    return history, weighting


def scores(model: TwoHeads, split: Split) -> tuple[float, float, float, float]:
    """Class accuracy, ink RMSE (raw pixel units), cross-entropy and ink MSE on ``split``."""
    with nnlab.no_grad():
        logits, ink = model(nnlab.tensor(split.x))
        ce = F.cross_entropy(logits, nnlab.tensor(split.y)).item()
        accuracy = float(np.mean(logits.argmax(1).numpy() == split.y))
        mse = float(np.mean((ink.numpy() - split.ink) ** 2))
    return accuracy, float(np.sqrt(mse)), ce, mse


def mean_std(values: list[float]) -> str:
    """``values`` as "mean ± std"."""
    return f"{np.mean(values):.4f} ± {np.std(values):.4f}"


@experiment(
    "multitask-loss-weighting",
    answers=["multi-task-learning"],
    quick=dict(width=32, steps=300, n_seeds=2),
    full=dict(width=32, steps=1500, n_seeds=6),
)
def multitask_loss_weighting(run: Run, width: int, steps: int, n_seeds: int) -> None:
    """How should the losses of two tasks sharing one network be weighted?"""
    log_every = max(steps // 50, 1)
    accuracy = {arm: [] for arm in ARMS}
    rmse = {arm: [] for arm in ARMS}
    learned = []  # per seed: the uncertainty arm's weights every log_every steps
    balance = []  # per seed: exp(−s_i)·L_i on the training set at the end, per task
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        train_split, test_split = two_task_digits(rng)
        order = rng.integers(0, N_TRAIN, size=(steps, BATCH))  # the same batches for every arm
        for arm in ARMS:
            nnlab.manual_seed(seed)  # the same initial weights for every arm
            model = TwoHeads(width)
            history, weighting = train(model, arm, train_split, order, log_every)
            acc, err, _, _ = scores(model, test_split)
            accuracy[arm].append(acc)
            rmse[arm].append(err)
            if arm == "uncertainty":
                learned.append(history)
                _, _, ce, mse = scores(model, train_split)
                balance.append(weighting.weights().numpy() * np.array([ce, mse]))

    rows = []
    for arm in ARMS:
        acc = mean_std(accuracy[arm]) if arm != "ink regressor" else "-"
        err = mean_std(rmse[arm]) if arm != "classifier" else "-"
        rows.append((arm, acc, err))
        if arm != "ink regressor":
            run.number(f"{arm.replace(' ', '_')}_accuracy", round(float(np.mean(accuracy[arm])), 4))
        if arm != "classifier":
            run.number(f"{arm.replace(' ', '_')}_ink_rmse", round(float(np.mean(rmse[arm])), 3))
    ink_std = float(np.std(two_task_digits(np.random.default_rng(0))[0].ink))
    run.table(
        f"Test scores, mean ± std over {n_seeds} seeds (ink: raw pixel units, std {ink_std:.1f})",
        ("arm", "class accuracy", "ink RMSE"),
        rows,
    )
    final = np.array([h[-1] for h in learned])  # (seeds, 2): final exp(−s)
    ratio = final[:, 0] / final[:, 1]
    balance = np.array(balance)
    run.number("learned_weight_ratio_ce_over_mse", round(float(np.exp(np.log(ratio).mean())), 1))
    run.number("weighted_ce_at_end", round(float(balance[:, 0].mean()), 3))
    run.number("weighted_mse_at_end", round(float(balance[:, 1].mean()), 3))
    _plot(run, accuracy, rmse, learned, log_every)

    gap_equal = float(np.mean(accuracy["classifier"]) - np.mean(accuracy["equal weights"]))
    gap_learned = float(np.mean(accuracy["classifier"]) - np.mean(accuracy["uncertainty"]))
    gap_hand = float(np.mean(accuracy["hand-scaled"]) - np.mean(accuracy["uncertainty"]))
    rmse_change = float(np.mean(rmse["uncertainty"]) / np.mean(rmse["ink regressor"]) - 1)
    wins = sum(u > e for u, e in zip(accuracy["uncertainty"], accuracy["equal weights"]))
    run.claim(
        "The learned weight of the cross-entropy ends at least 10 times the ink MSE's "
        "(the weights follow the losses' scales), in every seed",
        bool(np.all(ratio >= 10)),
        "exp(−s_CE)/exp(−s_MSE) " + ", ".join(f"{r:.0f}" for r in ratio),
    )
    run.claim(
        "At the end of training each learned weight is close to the inverse of its task's "
        "training loss: exp(−s_i)·L_i lies between 0.5 and 2 for both tasks, in every seed",
        bool(np.all((balance >= 0.5) & (balance <= 2.0))),
        "CE " + ", ".join(f"{b:.2f}" for b in balance[:, 0])
        + "; MSE " + ", ".join(f"{b:.2f}" for b in balance[:, 1]),
        quick=False,
    )  # fmt: skip
    run.claim(
        "With equal weights the large ink loss dominates the shared trunk: the class accuracy "
        "is at least 2 points below the single-task classifier's (mean over seeds)",
        gap_equal >= 0.02,
        f"classifier {np.mean(accuracy['classifier']):.4f}, "
        f"equal weights {np.mean(accuracy['equal weights']):.4f}",
        quick=False,
    )
    run.claim(
        "Learned uncertainty weighting keeps the class accuracy within 1 point of the "
        "single-task classifier's (mean over seeds)",
        gap_learned <= 0.01,
        f"classifier {np.mean(accuracy['classifier']):.4f}, "
        f"uncertainty {np.mean(accuracy['uncertainty']):.4f}",
        quick=False,
    )
    run.claim(
        "Uncertainty weighting classifies better than equal weights in every seed",
        wins == n_seeds,
        f"better in {wins} of {n_seeds} seeds",
        quick=False,
    )
    run.claim(
        "Uncertainty weighting is within 1 point of the fixed weights scaled by hand "
        "(1/Var(ink)) in class accuracy (mean over seeds)",
        abs(gap_hand) <= 0.01,
        f"hand-scaled {np.mean(accuracy['hand-scaled']):.4f}, "
        f"uncertainty {np.mean(accuracy['uncertainty']):.4f}",
        quick=False,
    )
    run.claim(
        "Sharing the trunk costs the ink regression at most 20%: the uncertainty arm's ink "
        "RMSE is at most 1.2 times the single-task regressor's (mean over seeds)",
        rmse_change <= 0.2,
        f"regressor {np.mean(rmse['ink regressor']):.2f}, "
        f"uncertainty {np.mean(rmse['uncertainty']):.2f}",
        quick=False,
    )

    def acc(arm: str) -> str:
        return f"{np.mean(accuracy[arm]):.1%}"

    def err(arm: str) -> str:
        return f"{np.mean(rmse[arm]):.2f}"

    run.answer(
        "Multi-task learning trains one network on several tasks, usually a shared trunk "
        "with one head per task, and minimises a combination of the task losses. How they "
        "are combined matters when the losses have different scales. Here one trunk with a "
        "digit-class head and an ink head (the ink in raw pixel units, std "
        f"{ink_std:.1f}) was trained {n_seeds} times with each weighting. Test class "
        f"accuracy: single-task classifier {acc('classifier')}, equal weights "
        f"{acc('equal weights')}, weights scaled by hand {acc('hand-scaled')}, learned "
        f"uncertainty weighting {acc('uncertainty')}. Ink RMSE: single-task regressor "
        f"{err('ink regressor')}, equal weights {err('equal weights')}, hand-scaled "
        f"{err('hand-scaled')}, uncertainty {err('uncertainty')}. The learned weights "
        "settled at a ratio of about "
        f"{np.exp(np.log(ratio).mean()):.0f}:1 for the cross-entropy against the ink MSE; "
        "each weighted training loss exp(−s_i)·L_i ended at "
        f"{balance[:, 0].mean():.2f} (cross-entropy) and {balance[:, 1].mean():.2f} (ink), "
        "where the closed-form optimum s_i = log L_i would put both at 1."
    )


def _plot(
    run: Run,
    accuracy: dict[str, list[float]],
    rmse: dict[str, list[float]],
    learned: list[list[list[float]]],
    log_every: int,
) -> None:
    """Test scores per arm (dots are seeds) and the learned weights during training."""
    fig = run.figure(
        "weighting",
        "Left: test class accuracy and ink RMSE per arm (dots: seeds, bars: means). Right: "
        "the learned task weights exp(−s) during training, one line per seed.",
        width=10.0,
    )
    ax_acc, ax_rmse, ax_w = fig.subplots(1, 3)
    for ax, values, skip, label in (
        (ax_acc, accuracy, "ink regressor", "test class accuracy"),
        (ax_rmse, rmse, "classifier", "test ink RMSE (pixel units)"),
    ):
        arms = [a for a in ARMS if a != skip]
        for i, arm in enumerate(arms):
            ax.bar(i, np.mean(values[arm]), color=f"C{i}", alpha=0.5)
            ax.scatter([i] * len(values[arm]), values[arm], color="k", s=8)
        ax.set_xticks(range(len(arms)), arms, rotation=40, ha="right")
        ax.set_ylabel(label)
    ax_acc.set_ylim(min(min(v) for k, v in accuracy.items() if k != "ink regressor") - 0.02, 1)
    steps = log_every * np.arange(1, len(learned[0]) + 1)
    for history in learned:
        w = np.array(history)
        ax_w.plot(steps, w[:, 0], color="C0", alpha=0.6)
        ax_w.plot(steps, w[:, 1], color="C1", alpha=0.6)
    ax_w.plot([], [], color="C0", label="class (CE)")
    ax_w.plot([], [], color="C1", label="ink (MSE)")
    ax_w.set_yscale("log")
    ax_w.set_xlabel("step")
    ax_w.set_ylabel("learned weight exp(−s)")
    ax_w.legend()
