"""Knowledge distillation: a small student learns from a large teacher's softened outputs.

A wide two-hidden-layer MLP (the teacher) is trained on the digits' training split. A
student about a hundred times smaller is then trained on the same split three ways: on the
labels alone, on the labels plus the teacher's outputs at temperature T (the loss of
Hinton et al. 2015, ``DistillationLoss``) for several T and α, and, in a second setting,
with labels for only a small fraction of the training inputs while the teacher's outputs
cover them all (a transfer set mostly without labels). Within a seed every student arm
starts from the same weights and sees the same labelled batches; the teacher's logits are
computed once. Accuracy and negative log-likelihood are measured on a held-out test split.
"""

from __future__ import annotations

import re

import numpy as np

import nnlab
import nnlab.nn.functional as F
from experiments.common import digits, evaluate
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.nn.modules.distillation import distillation_loss

BATCH = 64
UNLABELLED = -100  # the ignore_index of the cross-entropy: a row without a label


def mlp(widths: list[int]) -> nn.Sequential:
    """Linear layers of the given widths with ReLU between them."""
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(widths, widths[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])  # no ReLU on the logits


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def split(rng: np.random.Generator, n_test: int) -> tuple[np.ndarray, ...]:
    """The digits shuffled into a training and a test split: x_train, y_train, x_test, y_test."""
    x, y = digits()
    perm = rng.permutation(len(y))
    test, train = perm[:n_test], perm[n_test:]
    return x[train], y[train], x[test], y[test]


def train_teacher(model: nn.Module, x: np.ndarray, y: np.ndarray, order: np.ndarray) -> None:
    """Adam on the cross-entropy, one step per row of ``order`` (mini-batch indices)."""
    opt = nnlab.optim.Adam(model.parameters(), lr=1e-3)
    xs, ys = nnlab.tensor(x), nnlab.tensor(y)
    for rows in order:
        idx = nnlab.tensor(rows)
        loss = F.cross_entropy(model(xs[idx]), ys[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()


def train_student(
    model: nn.Module,
    x: np.ndarray,
    targets: np.ndarray,
    teacher_logits: np.ndarray,
    order: np.ndarray,
    temperature: float,
    alpha: float,
) -> None:
    """Adam on the distillation loss α·T²·KL(teacher ‖ student at T) + (1 − α)·CE, one step
    per row of ``order``; α = 0 is training on the labels alone. Rows whose target is
    ``UNLABELLED`` count only through the teacher."""
    opt = nnlab.optim.Adam(model.parameters(), lr=1e-2)
    xs, ys, ts = nnlab.tensor(x), nnlab.tensor(targets), nnlab.tensor(teacher_logits)
    for rows in order:
        idx = nnlab.tensor(rows)
        loss = distillation_loss(model(xs[idx]), ts[idx], ys[idx], temperature, alpha)
        opt.zero_grad()
        loss.backward()
        opt.step()


def slug(arm: str) -> str:
    """An arm's name as a number's name: "T=4, α=0.5" -> "t_4_alpha_0_5"."""
    name = arm.lower().replace("α", "alpha").replace("%", "pct").replace("+", "distilled")
    return re.sub(r"[^a-z0-9]+", "_", name).strip("_")


def mean_std(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


@experiment(
    "distillation",
    answers=["distillation"],
    quick=dict(teacher_steps=300, student_steps=300, n_seeds=2),
    full=dict(teacher_steps=1500, student_steps=1500, n_seeds=8),
)
def distillation(run: Run, teacher_steps: int, student_steps: int, n_seeds: int) -> None:
    """How does knowledge distillation pass a large model's behaviour to a small one?"""
    teacher_widths, student_widths = [64, 256, 256, 10], [64, 12, 10]
    temperatures, alphas, label_fraction = (1, 2, 4, 8), (0.5, 0.9), 0.1
    # arm name -> (T, α) on all labels; α = 0 is the student trained on the labels alone
    arms = {"labels only": (1.0, 0.0)}
    arms.update({f"T={t}, α=0.5": (float(t), 0.5) for t in temperatures})
    arms.update({f"T=4, α={a}": (4.0, a) for a in alphas if a != 0.5})
    few = {f"{label_fraction:.0%} labels only": 0.0, f"{label_fraction:.0%} labels + T=4": 0.5}
    acc: dict[str, list[float]] = {k: [] for k in ["teacher", *arms, *few]}
    nll: dict[str, list[float]] = {k: [] for k in acc}
    sizes = {}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x, y, x_test, y_test = split(rng, n_test=500)
        n = len(y)
        nnlab.manual_seed(seed)
        teacher = mlp(teacher_widths)
        train_teacher(teacher, x, y, rng.integers(0, n, (teacher_steps, BATCH)))
        with nnlab.no_grad():
            teacher_logits = teacher(nnlab.tensor(x)).numpy()
        sizes["teacher"] = parameter_count(teacher)
        for key, value in zip((nll, acc), evaluate(teacher, x_test, y_test)):
            key["teacher"].append(value)

        order = rng.integers(0, n, (student_steps, BATCH))
        for arm, (temperature, alpha) in arms.items():
            nnlab.manual_seed(seed + 1)  # every student arm starts from the same weights
            student = mlp(student_widths)
            train_student(student, x, y, teacher_logits, order, temperature, alpha)
            for key, value in zip((nll, acc), evaluate(student, x_test, y_test)):
                key[arm].append(value)
        sizes["student"] = parameter_count(student)

        # Few labels: each step takes a batch of the labelled rows (the same for both arms)
        # and, for the distilled arm, as many unlabelled rows seen only through the teacher.
        labelled = rng.permutation(n)[: int(label_fraction * n)]
        unlabelled = np.setdiff1d(np.arange(n), labelled)
        targets = np.full(n, UNLABELLED)
        targets[labelled] = y[labelled]
        few_order = labelled[rng.integers(0, len(labelled), (student_steps, BATCH))]
        extra = unlabelled[rng.integers(0, len(unlabelled), (student_steps, BATCH))]
        for arm, alpha in few.items():
            nnlab.manual_seed(seed + 1)
            student = mlp(student_widths)
            rows = few_order if alpha == 0 else np.concatenate([few_order, extra], axis=1)
            train_student(student, x, targets, teacher_logits, rows, 4.0, alpha)
            for key, value in zip((nll, acc), evaluate(student, x_test, y_test)):
                key[arm].append(value)

    stats = {k: (mean_std(acc[k]), mean_std(nll[k])) for k in acc}
    run.number("teacher_parameters", sizes["teacher"])
    run.number("student_parameters", sizes["student"])
    rows = []
    for k, ((a, a_sd), (l, l_sd)) in stats.items():
        run.number(f"{slug(k)}_accuracy", round(a, 4))
        run.number(f"{slug(k)}_nll", round(l, 4))
        params = sizes["teacher"] if k == "teacher" else sizes["student"]
        rows.append((k, params, round(a, 4), round(a_sd, 4), round(l, 4), round(l_sd, 4)))
    run.table(
        f"Test accuracy and NLL over {n_seeds} seeds (mean, std)",
        ("model", "parameters", "accuracy", "acc std", "NLL", "NLL std"),
        rows,
    )
    plot(run, acc, nll, temperatures, few)

    base_acc, base_nll = stats["labels only"][0][0], stats["labels only"][1][0]
    t4_acc, t4_nll = stats["T=4, α=0.5"][0][0], stats["T=4, α=0.5"][1][0]
    t1_nll = stats["T=1, α=0.5"][1][0]
    few_base, few_kd = (stats[k][0][0] for k in few)
    ratio = sizes["teacher"] / sizes["student"]
    # Arms of one seed share the data, the initial weights and the batches, so the per-seed
    # differences are the paired effect of distillation, free of the spread between seeds.
    acc_gain = np.subtract(acc["T=4, α=0.5"], acc["labels only"])
    nll_gain = np.subtract(nll["labels only"], nll["T=4, α=0.5"])
    run.number("paired_accuracy_gain_t_4_mean", round(float(acc_gain.mean()), 4))
    run.number("paired_accuracy_gain_t_4_std", round(float(acc_gain.std()), 4))
    run.number("seeds_t_4_more_accurate", int((acc_gain > 0).sum()))
    run.number("seeds_t_4_lower_nll", int((nll_gain > 0).sum()))
    run.claim(
        "The teacher is more accurate on the test split than the student trained on labels",
        stats["teacher"][0][0] > base_acc,
        f"teacher {stats['teacher'][0][0]:.3f}, student {base_acc:.3f}",
    )
    run.claim(
        "With all labels, distilling at T=4, α=0.5 gives the student a higher mean test "
        "accuracy than the labels alone",
        t4_acc > base_acc,
        f"distilled {t4_acc:.4f}, labels only {base_acc:.4f}",
        quick=False,
    )
    run.claim(
        "With all labels, distilling at T=4, α=0.5 gives the student a lower mean test NLL "
        "than the labels alone",
        t4_nll < base_nll,
        f"distilled {t4_nll:.4f}, labels only {base_nll:.4f}",
        quick=False,
    )
    run.claim(
        "A temperature above 1 transfers more: the student's mean test NLL is lower at T=4 "
        "than at T=1 (α=0.5 both)",
        t4_nll < t1_nll,
        f"T=4 {t4_nll:.4f}, T=1 {t1_nll:.4f}",
        quick=False,
    )
    run.claim(
        f"With {label_fraction:.0%} of the labels, the teacher's outputs on all inputs raise "
        "the student's mean test accuracy by at least 5 points",
        few_kd - few_base >= 0.05,
        f"distilled {few_kd:.3f}, labels only {few_base:.3f}",
    )
    run.claim(
        "Distillation helps more with few labels than with all of them (accuracy gain at T=4)",
        few_kd - few_base > t4_acc - base_acc,
        f"gain {few_kd - few_base:+.4f} with {label_fraction:.0%} labels, "
        f"{t4_acc - base_acc:+.4f} with all",
        quick=False,
    )
    run.answer(
        f"The student ({sizes['student']} parameters, {ratio:.0f}× fewer than the teacher's "
        f"{sizes['teacher']}) reached {base_acc:.1%} test accuracy (NLL {base_nll:.3f}) on "
        f"the labels alone and {t4_acc:.1%} (NLL {t4_nll:.3f}) when also matching the "
        f"teacher's outputs softened at T=4, against the teacher's "
        f"{stats['teacher'][0][0]:.1%}; at T=1 the NLL was {t1_nll:.3f}. Seed by seed "
        f"(same weights and batches), T=4 was more accurate in {(acc_gain > 0).sum()} of "
        f"{n_seeds} seeds (gain {100 * acc_gain.mean():+.2f} ± {100 * acc_gain.std():.2f} "
        f"points) and had the lower NLL in {(nll_gain > 0).sum()}. The soft targets carry "
        "the teacher's similarities between classes, which one-hot labels lack. With labels "
        f"on only {label_fraction:.0%} of the training inputs the student reached "
        f"{few_base:.1%}, and {few_kd:.1%} when the teacher's outputs on every input were "
        "added: distillation is worth most where labels are scarce and the teacher can label "
        f"the rest (means over {n_seeds} seeds)."
    )


def plot(
    run: Run,
    acc: dict[str, list[float]],
    nll: dict[str, list[float]],
    temperatures: tuple[int, ...],
    few: dict[str, float],
) -> None:
    """Student accuracy and NLL against the temperature, with the labels-only student and
    the teacher as lines, and the few-label setting as bars (mean ± std over seeds)."""
    fig = run.figure(
        "distillation",
        "Test accuracy and NLL of the student distilled at temperature T (α=0.5), against "
        "labels alone and the teacher; right: with few labels (mean ± std over seeds)",
        width=11.0,
        height=3.8,
    )
    ax_acc, ax_nll, ax_few = fig.subplots(1, 3)
    for ax, values, label in ((ax_acc, acc, "test accuracy"), (ax_nll, nll, "test NLL")):
        arms = [f"T={t}, α=0.5" for t in temperatures]
        means = [np.mean(values[a]) for a in arms]
        stds = [np.std(values[a]) for a in arms]
        ax.errorbar(temperatures, means, yerr=stds, marker="o", capsize=3, label="distilled")
        for name, color in (("labels only", "C3"), ("teacher", "grey")):
            ax.axhline(np.mean(values[name]), color=color, linestyle="--", label=name)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("temperature T")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    names = list(few)
    ax_few.bar(
        range(len(names)),
        [np.mean(acc[k]) for k in names],
        yerr=[np.std(acc[k]) for k in names],
        capsize=3,
        color=["C3", "C0"],
    )
    ax_few.set_xticks(range(len(names)), [k.replace(" + ", "\n+ ") for k in names], fontsize=8)
    ax_few.set_ylabel("test accuracy")
    ax_few.set_ylim(0.5, 1.0)
