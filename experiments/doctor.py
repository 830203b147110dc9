"""Does an automatic doctor name the fault when a model does not learn?

``doctor-detection`` plants eight classic faults, one at a time, in an MLP on the 8x8
digits (a learning rate 100x too high or too low, inputs on a raw 0-255 scale, shuffled
labels, a layer cut from the gradient by ``.detach()``, a ten-layer sigmoid stack, a
softmax before the cross-entropy, validation rows copied from training) and runs
:func:`nnlab.doctor.diagnose` on each, and on the healthy setup, over several seeds. It
measures the detection matrix: how often each finding fires for each fault. Within a seed
every arm shares the data split and, where the shapes agree, the initial weights.
"""

from __future__ import annotations

import time

import numpy as np
from matplotlib.patches import Rectangle

import nnlab
import nnlab.nn.functional as F
from experiments.common import digits
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.doctor import diagnose, exit_code

N_TRAIN = 1200

# The planted fault -> the finding that names it. "healthy" has none.
PLANTED = {
    "lr 100x too high": "lr_too_high",
    "lr 100x too low": "lr_too_low",
    "unscaled inputs": "unscaled_inputs",
    "shuffled labels": "no_label_signal",
    "detached layer": "no_gradient",
    "deep sigmoid": "vanishing_gradients",
    "softmax twice": "outputs_are_probabilities",
    "leaked validation rows": "split_leakage",
}
ARMS = ["healthy", *PLANTED]


class DetachedLinear(nn.Linear):
    """A Linear layer whose forward detaches its weight and bias: a bug that leaves them
    out of the gradient (they never train)."""

    def forward(self, x: nnlab.Tensor) -> nnlab.Tensor:
        return F.linear(x, self.weight.detach(), self.bias.detach())


def model_for(arm: str, seed: int) -> nn.Module:
    """The arm's network: MLP 64-128-64-10 (ReLU), with the arm's fault built in."""
    nnlab.manual_seed(seed)
    if arm == "deep sigmoid":
        return nn.MLP(64, [64] * 9, 10, activation="sigmoid")  # ten Linear layers
    model = nn.MLP(64, [128, 64], 10)
    if arm == "detached layer":
        model[2] = DetachedLinear(128, 64)
    if arm == "softmax twice":
        model = nn.Sequential(model, nn.Softmax(dim=1))
    return model


def data_for(arm: str, rng: np.random.Generator, split: tuple[np.ndarray, ...]) -> tuple:
    """(train, validation, Adam's learning rate) for the arm: the healthy split and 1e-3,
    with the arm's data or learning-rate fault applied."""
    x_train, y_train, x_val, y_val = split
    lr = {"lr 100x too high": 1e-1, "lr 100x too low": 1e-5}.get(arm, 1e-3)
    if arm == "unscaled inputs":  # standardised pixels back on a 0-255-like scale
        x_train, x_val = 255 * x_train + 128, 255 * x_val + 128
    if arm == "shuffled labels":
        y_train = rng.permutation(y_train)
    if arm == "leaked validation rows":
        copied = rng.choice(len(x_train), size=len(x_val) // 2, replace=False)
        x_val, y_val = x_val.copy(), y_val.copy()
        x_val[: len(copied)], y_val[: len(copied)] = x_train[copied], y_train[copied]
    return (x_train, y_train), (x_val, y_val), lr


def alarms(findings: list) -> set[str]:
    """The names of the warning and error findings."""
    return {f.name for f in findings if f.severity != "info"}


@experiment(
    "doctor-detection",
    answers=["debugging-a-model-that-does-not-learn"],
    quick=dict(n_seeds=2, overfit_steps=100, training_steps=100),
    full=dict(n_seeds=10, overfit_steps=200, training_steps=200),
)
def doctor_detection(run: Run, n_seeds: int, overfit_steps: int, training_steps: int) -> None:
    """Does an automatic check-up name the fault planted in a model that does not learn?"""
    x, y = digits()
    fired: dict[str, list[set[str]]] = {arm: [] for arm in ARMS}
    failed: dict[str, list[int]] = {arm: [] for arm in ARMS}  # exit status per seed
    seconds = []
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(y))
        train, val = order[:N_TRAIN], order[N_TRAIN:]
        split = (x[train], y[train], x[val], y[val])
        for arm in ARMS:
            train_data, val_data, lr = data_for(arm, rng, split)
            start = time.perf_counter()
            found = diagnose(
                model_for(arm, seed),
                nn.CrossEntropyLoss(),
                train_data,
                val_data,
                lr=lr,
                seed=seed,
                overfit_steps=overfit_steps,
                training_steps=training_steps,
            )
            seconds.append(time.perf_counter() - start)
            fired[arm].append(alarms(found))
            failed[arm].append(exit_code(found))

    others = sorted({n for arm in ARMS for s in fired[arm] for n in s} - set(PLANTED.values()))
    columns = [*PLANTED.values(), *others]
    rate = np.array([[np.mean([c in s for s in fired[arm]]) for c in columns] for arm in ARMS])
    tpr = {arm: float(rate[i, columns.index(PLANTED[arm])]) for i, arm in enumerate(ARMS[1:], 1)}
    healthy_alarms = sum(bool(s) for s in fired["healthy"])
    for arm, value in tpr.items():
        run.number(f"tpr_{arm.replace(' ', '_')}", round(value, 3))
    run.number("healthy_seeds_with_alarm", healthy_alarms)
    run.number("seconds_per_diagnosis_mean", round(float(np.mean(seconds)), 3))

    def also(i: int, arm: str) -> str:
        """The arm's other alarms with how often they fired."""
        extra = [(c, rate[i, j]) for j, c in enumerate(columns) if rate[i, j] > 0]
        extra = [(c, r) for c, r in extra if c != PLANTED.get(arm)]
        return ", ".join(f"{c} {r:.0%}" for c, r in extra) or "-"

    run.table(
        f"How often each planted fault was named by its finding ({n_seeds} seeds), and "
        "the other warnings and errors it raised",
        ("planted fault", "expected finding", "named in", "exit 1 in", "other alarms"),
        [
            (
                arm,
                PLANTED.get(arm, "(none)"),
                f"{round(tpr[arm] * n_seeds)}/{n_seeds}" if arm in PLANTED else "-",
                f"{sum(failed[arm])}/{n_seeds}",
                also(i, arm),
            )
            for i, arm in enumerate(ARMS)
        ],
    )

    fig = run.figure(
        "detection-matrix",
        "Fraction of seeds in which each finding (column) fired for each planted fault "
        "(row); outlined: the finding that names the fault",
        width=8.0,
        height=5.0,
    )
    ax = fig.subplots()
    image = ax.imshow(rate, cmap="Blues", vmin=0, vmax=1)
    for i, arm in enumerate(ARMS):
        for j in range(len(columns)):
            if rate[i, j] > 0:
                color = "white" if rate[i, j] > 0.6 else "black"
                ax.text(
                    j, i, f"{rate[i, j]:.1f}", ha="center", va="center", fontsize=7, color=color
                )
        if arm in PLANTED:
            j = columns.index(PLANTED[arm])
            outline = Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", lw=1.5)
            ax.add_patch(outline)
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(ARMS)), ARMS, fontsize=8)
    ax.set_xlabel("finding (warning or error)")
    fig.colorbar(image, ax=ax, label="fraction of seeds")

    run.claim(
        "Each planted fault is named by its expected finding in at least 80% of the seeds",
        min(tpr.values()) >= 0.8,
        ", ".join(f"{arm} {v:.0%}" for arm, v in tpr.items()),
        quick=False,
    )
    run.claim(
        "The healthy setup raises no warning or error in any seed",
        healthy_alarms == 0,
        f"{healthy_alarms} of {n_seeds} healthy seeds raised an alarm: "
        + (", ".join(sorted(set().union(*fired["healthy"]))) or "none"),
    )
    unflagged = {arm: n_seeds - sum(failed[arm]) for arm in PLANTED}
    run.claim(
        "Every planted fault ends the check-up with an error (exit status 1) in every seed",
        not any(unflagged.values()),
        "seeds without an error: "
        + (", ".join(f"{a} {k}" for a, k in unflagged.items() if k) or "none"),
        quick=False,
    )
    cross = {
        (arm, other): float(rate[ARMS.index(arm), columns.index(PLANTED[other])])
        for arm in PLANTED
        for other in PLANTED
        if other != arm
    }
    worst_pair, worst_rate = max(cross.items(), key=lambda kv: kv[1])
    run.claim(
        "The findings point at the planted cause: no fault's expected finding fires for a "
        "different planted fault in more than 20% of its seeds",
        worst_rate <= 0.2,
        f"largest cross-rate {worst_rate:.0%} ({PLANTED[worst_pair[1]]} on {worst_pair[0]})"
        if worst_rate > 0
        else "no fault's expected finding fired for another fault",
        quick=False,
    )
    named = ", ".join(f"{arm} {v:.0%}" for arm, v in tpr.items())
    extra = [len(s - {PLANTED[arm]}) for arm in PLANTED for s in fired[arm]]
    run.answer(
        "Run the checks in order of cost and let each measurement point at a cause: the "
        "input scale, outputs that are already probabilities, the initial loss against "
        "ln C, overfitting one batch, a learning-rate range test against the configured "
        "rate, per-layer gradients and activations, duplicated rows across splits, a short "
        f"training and a label probe. Such a check-up (about {np.mean(seconds):.2f} s per "
        f"model here), run on eight faults planted in a digits MLP over {n_seeds} seeds, "
        f"named each fault by its expected finding in this share of seeds: {named}. "
        f"The healthy setup raised an alarm in {healthy_alarms} of "
        f"{n_seeds} seeds. The largest rate at which one fault's finding fired for another "
        f"fault was {worst_rate:.0%}. Besides its own finding a fault raised "
        f"{np.mean(extra):.1f} other alarms on average (at most {max(extra)}): shared "
        "symptoms such as a stalled training loss, which say that something is wrong but "
        "not what."
    )
