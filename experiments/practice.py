"""Finding why a model does not learn: faults planted on purpose and the symptoms they leave.

``training-faults`` trains one MLP correctly and with five classic faults (learning rate far
too high or too low, unscaled inputs, labels shuffled apart from their inputs, no
``zero_grad``) and records each one's loss curve and validation accuracy.
``overfit-one-batch`` runs the standard sanity check, driving the loss on a single batch to
zero, on a correct model and on three bugged ones. Within a seed every arm starts from the
same weights and sees the same batches.
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
CHANCE_LOSS = math.log(N_CLASSES)


def task(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """A four-class task, 16 standardised features (8 informative), split in halves:
    (x_train, y_train, x_val, y_val)."""
    x, y = make_classification(
        n_samples=2 * n,
        n_features=16,
        n_informative=8,
        n_redundant=0,
        n_classes=N_CLASSES,
        class_sep=1.5,
        random_state=int(rng.integers(2**31)),
    )
    x = ((x - x[:n].mean(0)) / x[:n].std(0)).astype(np.float32)
    return x[:n], y[:n].astype(np.int64), x[n:], y[n:].astype(np.int64)


def mlp(width: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(16, width),
        nn.ReLU(),
        nn.Linear(width, width),
        nn.ReLU(),
        nn.Linear(width, N_CLASSES),
    )


def sgd_losses(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    order: np.ndarray,
    lr: float,
    zero_grad: bool = True,
) -> np.ndarray:
    """SGD on the batches in ``order``; the training loss of every step (nan from the first
    non-finite loss on, where training stops)."""
    opt = nnlab.optim.SGD(model.parameters(), lr=lr)
    xs, ys = nnlab.tensor(x), nnlab.tensor(y)
    losses = np.full(len(order), np.nan)
    for step, idx in enumerate(order):
        batch = nnlab.tensor(idx)
        loss = F.cross_entropy(model(xs[batch]), ys[batch])
        losses[step] = loss.item()
        if not math.isfinite(losses[step]):
            break
        if zero_grad:
            opt.zero_grad()
        loss.backward()
        opt.step()
    return losses


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with nnlab.no_grad():
        return float((model(nnlab.tensor(x)).argmax(1).numpy() == y).mean())


def end_loss(losses: np.ndarray) -> float:
    """Mean training loss over the last tenth of the steps (nan if training diverged)."""
    return float(np.mean(losses[-max(len(losses) // 10, 1) :]))


def unscaled(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """Features as raw data often come: each with its own scale up to 1000 and offset."""
    scale = 10.0 ** rng.uniform(0, 3, size=x.shape[1])
    offset = rng.uniform(-100, 100, size=x.shape[1])
    return (x * scale + offset).astype(np.float32)


FAULTS = [
    "correct",
    "lr too high",
    "lr too low",
    "unscaled inputs",
    "shuffled labels",
    "no zero_grad",
]


@experiment(
    "training-faults",
    answers=["debugging-a-model-that-does-not-learn"],
    quick=dict(n=1024, width=64, steps=400, n_seeds=2),
    full=dict(n=2048, width=64, steps=2000, n_seeds=5),
)
def training_faults(run: Run, n: int, width: int, steps: int, n_seeds: int) -> None:
    """What does each classic training fault look like in the loss and the validation
    accuracy?"""
    lr = 0.1
    curves = {f: [] for f in FAULTS}
    val_acc = {f: [] for f in FAULTS}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x_train, y_train, x_val, y_val = task(rng, n)
        order = rng.integers(0, n, size=(steps, 32))
        raw = unscaled(rng, np.concatenate([x_train, x_val]))
        # Each arm: (training inputs, training labels, validation inputs, lr, zero_grad).
        arms = {
            "correct": (x_train, y_train, x_val, lr, True),
            "lr too high": (x_train, y_train, x_val, 100 * lr, True),
            "lr too low": (x_train, y_train, x_val, lr / 1000, True),
            "unscaled inputs": (raw[:n], y_train, raw[n:], lr, True),
            "shuffled labels": (x_train, rng.permutation(y_train), x_val, lr, True),
            "no zero_grad": (x_train, y_train, x_val, lr, False),
        }
        with np.errstate(all="ignore"):  # the diverging arms overflow; that is the symptom
            for fault, (xt, yt, xv, rate, zero) in arms.items():
                nnlab.manual_seed(seed)  # every arm starts from the same weights
                model = mlp(width)
                curves[fault].append(sgd_losses(model, xt, yt, order, rate, zero))
                val_acc[fault].append(accuracy(model, xv, y_val))

    start = {f: float(np.mean([c[0] for c in curves[f]])) for f in FAULTS}
    end = {f: [end_loss(c) for c in curves[f]] for f in FAULTS}
    diverged = {f: sum(not math.isfinite(e) for e in end[f]) for f in FAULTS}
    symptom = {f: symptom_of(curves[f], val_acc[f]) for f in FAULTS}
    rows = []
    for f in FAULTS:
        finite = [e for e in end[f] if math.isfinite(e)]
        rows.append(
            (
                f,
                symptom[f],
                round(start[f], 4),
                round(float(np.median(finite)), 4) if finite else "nan",
                diverged[f],
                round(float(np.mean(val_acc[f])), 4),
                round(float(np.min(val_acc[f])), 4),
                round(float(np.max(val_acc[f])), 4),
            )
        )
        key = f.replace(" ", "_")
        run.number(f"{key}_val_acc", round(float(np.mean(val_acc[f])), 4))
        run.number(f"{key}_diverged_seeds", diverged[f])
    run.table(
        f"Training loss at the start and over the last tenth of {steps} steps, and "
        f"validation accuracy ({n_seeds} seeds; chance loss {CHANCE_LOSS:.3f}, chance "
        f"accuracy {1 / N_CLASSES})",
        (
            "fault",
            "symptom",
            "start loss",
            "median end loss",
            "diverged seeds",
            "val acc mean",
            "val acc min",
            "val acc max",
        ),
        rows,
    )

    fig = run.figure(
        "loss-curves",
        "Training loss per SGD step (moving average of 20), one line per seed; a cross marks "
        "where a seed's loss stopped being finite; losses above 100 are drawn at the top",
        width=9.6,
        height=5.6,
    )
    axes = fig.subplots(2, 3, sharex=True, sharey=True).ravel()
    for ax, fault in zip(axes, FAULTS):
        for curve in curves[fault]:
            smooth = np.convolve(curve, np.ones(20) / 20, mode="valid")
            line = ax.plot(np.arange(len(smooth)) + 19, np.minimum(smooth, 100), lw=0.8)[0]
            if not np.isfinite(curve).all():
                ax.plot(np.argmin(np.isfinite(curve)), 100, "x", color=line.get_color())
        ax.axhline(CHANCE_LOSS, color="grey", linestyle=":")
        ax.set_title(f"{fault}: {symptom[fault]}", fontsize=8)
        ax.set_yscale("log")
        ax.set_ylim(1e-2, 200)
    for ax in axes[3:]:
        ax.set_xlabel("SGD step")
    for ax in axes[::3]:
        ax.set_ylabel("training loss (dotted: chance)")

    def worse_or_diverged(fault: str, factor: float) -> bool:
        """Every seed's end loss is not finite or at least ``factor`` x the correct arm's."""
        return all(
            not math.isfinite(e) or e >= factor * c for e, c in zip(end[fault], end["correct"])
        )

    def ratios(fault: str) -> str:
        """Each seed's end loss over its start loss, as text."""
        return ", ".join(f"{e / c[0]:.3f}" for e, c in zip(end[fault], curves[fault]))

    run.claim(
        "The correct setup reaches at least 75% validation accuracy in every seed",
        min(val_acc["correct"]) >= 0.75,
        f"lowest {min(val_acc['correct']):.3f}",
    )
    run.claim(
        "Far too high a learning rate (100x) ends with a loss that is not finite or above "
        "the chance loss, in every seed",
        all(not math.isfinite(e) or e >= CHANCE_LOSS for e in end["lr too high"]),
        f"end losses {', '.join(f'{e:.3g}' for e in end['lr too high'])}",
    )
    run.claim(
        "Far too low a learning rate (1/1000) leaves the loss flat: it ends within 5% of where "
        "it started, in every seed",
        all(e >= 0.95 * c[0] for e, c in zip(end["lr too low"], curves["lr too low"])),
        f"end/start {ratios('lr too low')}",
    )
    run.claim(
        "Unscaled inputs cost at least 15 points of validation accuracy (mean over seeds)",
        np.mean(val_acc["correct"]) - np.mean(val_acc["unscaled inputs"]) >= 0.15,
        f"mean {np.mean(val_acc['unscaled inputs']):.3f} against {np.mean(val_acc['correct']):.3f}",
    )
    run.claim(
        "Labels shuffled apart from their inputs leave validation accuracy within 10 points "
        "of chance, in every seed",
        max(abs(a - 1 / N_CLASSES) for a in val_acc["shuffled labels"]) <= 0.10,
        f"validation accuracies {', '.join(f'{a:.3f}' for a in val_acc['shuffled labels'])}",
    )
    run.claim(
        "With shuffled labels the training loss still falls (memorisation): it ends at "
        "least 10% below where it started, in every seed",
        all(e <= 0.9 * c[0] for e, c in zip(end["shuffled labels"], curves["shuffled labels"])),
        f"end/start {ratios('shuffled labels')}",
        quick=False,
    )
    run.claim(
        "Without zero_grad the gradients pile up: the end loss is not finite or at least 3x "
        "the correct run's, in every seed",
        worse_or_diverged("no zero_grad", 3.0),
        f"end losses {', '.join(f'{e:.3g}' for e in end['no zero_grad'])}, correct "
        f"{', '.join(f'{e:.3g}' for e in end['correct'])}",
    )
    summary = "; ".join(
        f"{f}: {symptom[f]} (end loss {np.median([e for e in end[f] if math.isfinite(e)]):.3f})"
        if diverged[f] < n_seeds
        else f"{f}: {symptom[f]}"
        for f in FAULTS
    )
    accs = "; ".join(f"{f} {np.mean(val_acc[f]):.1%}" for f in FAULTS)
    run.answer(
        f"Each fault leaves a trace in the training loss (median over {n_seeds} seeds, last "
        f"tenth of {steps} SGD steps, starting near {start['correct']:.2f}): {summary}. Mean "
        f"validation accuracy: {accs} (chance {1 / N_CLASSES:.0%}). Reading the symptoms "
        "backwards gives the checklist: a loss that turns NaN or rises points at the step "
        "size, at inputs whose scale makes that step too large, or at gradients that pile up "
        "without zero_grad; a loss that does not move points at a step that is too small; "
        "validation at chance while training goes on points at labels that no longer belong "
        "to their inputs."
    )


def symptom_of(curves: list[np.ndarray], val_acc: list[float]) -> str:
    """The symptom a run shows, by rules fixed before the runs: the loss stops being finite
    (in any seed), ends above its start, stays within 5% of its start, or falls, with
    validation within 10 points of chance or above it (medians over seeds)."""
    ends = [end_loss(c) for c in curves]
    if not all(math.isfinite(e) for e in ends):
        return f"loss not finite in {sum(not math.isfinite(e) for e in ends)} of {len(ends)} seeds"
    ratio = float(np.median([e / c[0] for e, c in zip(ends, curves)]))
    if ratio > 1:
        return "loss rises"
    if ratio >= 0.95:
        return "loss flat"
    if abs(float(np.median(val_acc)) - 1 / N_CLASSES) <= 0.10:
        return "loss falls, validation at chance"
    return "loss falls, validation learns"


def softmax_then_cross_entropy(out: nnlab.Tensor, y: nnlab.Tensor) -> nnlab.Tensor:
    """The bug: probabilities passed where cross_entropy expects logits (softmax twice)."""
    return F.cross_entropy(F.softmax(out, dim=1), y)


def one_batch_losses(
    model: nn.Module, x: np.ndarray, y: np.ndarray, steps: int, bug: str, seed: int
) -> tuple[np.ndarray, float]:
    """Adam (lr 1e-2) on the single batch (x, y) for ``steps`` steps, with ``bug`` planted.
    Returns the loss the training loop computes at every step (what one watches) and, at
    the end, the plain cross-entropy of the model's outputs against the true labels."""
    opt = nnlab.optim.Adam(model.parameters(), lr=1e-2)
    if bug == "optimizer on a stale model":
        # The model is rebuilt after the optimizer took the old one's parameters.
        nnlab.manual_seed(seed)
        model = mlp(model[0].out_features)
    loss_fn = (
        softmax_then_cross_entropy if bug == "softmax before cross_entropy" else F.cross_entropy
    )
    shuffle = np.random.default_rng(seed)
    xs, ys = nnlab.tensor(x), nnlab.tensor(y)
    losses = np.empty(steps)
    for step in range(steps):
        target = ys
        if bug == "labels shuffled apart from inputs":
            # Inputs and labels drawn by two different shuffles of the batch.
            target = nnlab.tensor(y[shuffle.permutation(len(y))])
        loss = loss_fn(model(xs), target)
        losses[step] = loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with nnlab.no_grad():
        true_loss = F.cross_entropy(model(xs), ys).item()
    return losses, true_loss


BUGS = [
    "none",
    "softmax before cross_entropy",
    "optimizer on a stale model",
    "labels shuffled apart from inputs",
]


@experiment(
    "overfit-one-batch",
    answers=["debugging-a-model-that-does-not-learn"],
    quick=dict(batch=32, width=64, steps=200, n_seeds=3),
    full=dict(batch=64, width=128, steps=500, n_seeds=5),
)
def overfit_one_batch(run: Run, batch: int, width: int, steps: int, n_seeds: int) -> None:
    """Can the model drive the loss on one batch to zero? The first check when a model does
    not learn."""
    curves = {bug: [] for bug in BUGS}
    true_loss = {bug: [] for bug in BUGS}
    for seed in run.seeds(n_seeds):
        x, y, _, _ = task(np.random.default_rng(seed), batch)
        for bug in BUGS:
            nnlab.manual_seed(seed)  # every arm starts from the same weights
            losses, plain = one_batch_losses(mlp(width), x, y, steps, bug, seed)
            curves[bug].append(losses)
            true_loss[bug].append(plain)

    final = {bug: [float(c[-1]) for c in curves[bug]] for bug in BUGS}
    rows = [
        (
            bug,
            round(float(np.mean([c[0] for c in curves[bug]])), 4),
            round(float(np.median(final[bug])), 5),
            round(float(np.min(final[bug])), 5),
            round(float(np.max(final[bug])), 5),
            round(float(np.median(true_loss[bug])), 5),
        )
        for bug in BUGS
    ]
    for bug in BUGS:
        run.number(f"{bug.replace(' ', '_')}_final_loss_max", round(max(final[bug]), 5))
    run.table(
        f"The training loop's loss on one batch of {batch} after {steps} Adam steps, and "
        f"the plain cross-entropy against the true labels at the end ({n_seeds} seeds)",
        ("bug", "start loss", "final median", "final min", "final max", "true-label CE median"),
        rows,
    )

    fig = run.figure(
        "one-batch", "The training loop's loss on one batch per Adam step; band spans the seeds"
    )
    ax = fig.subplots()
    for i, bug in enumerate(BUGS):
        c = np.array(curves[bug])
        ax.plot(np.median(c, 0), color=f"C{i}", label=bug)
        ax.fill_between(np.arange(steps), c.min(0), c.max(0), color=f"C{i}", alpha=0.2)
    ax.axhline(CHANCE_LOSS, color="grey", linestyle=":", label="chance loss")
    ax.set_yscale("log")
    ax.set_xlabel("Adam step")
    ax.set_ylabel("training loss on the batch")
    ax.legend(fontsize=8)

    run.claim(
        "A correct model drives one batch's loss below 0.01 in every seed",
        max(final["none"]) < 0.01,
        f"largest final loss {max(final['none']):.2e}",
    )
    floor = math.log(1 + (N_CLASSES - 1) / math.e)  # best case when logits lie in [0, 1]
    run.claim(
        f"Softmax before cross_entropy cannot: every seed ends above 0.5 (the floor for "
        f"logits squashed into [0, 1] is {floor:.3f})",
        min(final["softmax before cross_entropy"]) > 0.5,
        f"smallest final loss {min(final['softmax before cross_entropy']):.3f}",
    )
    stale = [abs(c[-1] - c[0]) for c in curves["optimizer on a stale model"]]
    run.claim(
        "An optimizer holding a stale model's parameters leaves the loss where it started "
        "(within 1e-6)",
        max(stale) < 1e-6,
        f"largest change {max(stale):.1e}",
    )
    run.claim(
        "Labels shuffled apart from their inputs keep one batch's loss above half the chance "
        "loss in every seed",
        min(final["labels shuffled apart from inputs"]) > 0.5 * CHANCE_LOSS,
        f"smallest final loss {min(final['labels shuffled apart from inputs']):.3f}",
    )
    run.answer(
        f"Fitting a single batch of {batch} is a task any working network can memorise, so "
        "it separates bugs from hard data. The correct model ended at a loss of at most "
        f"{max(final['none']):.1e} after {steps} Adam steps ({n_seeds} seeds). With softmax "
        "applied before cross_entropy the loss the loop reports stalled at "
        f"{np.median(final['softmax before cross_entropy']):.3f} (the floor for logits in "
        f"[0, 1] is {floor:.3f}), although the plain cross-entropy of the same outputs was "
        f"{np.median(true_loss['softmax before cross_entropy']):.2e}: the check flags the "
        "bug in the loss even when the model is fine; with the optimizer holding a rebuilt "
        "model's old parameters "
        f"it moved by at most {max(stale):.1e}; with labels and inputs shuffled apart it "
        f"ended at {np.median(final['labels shuffled apart from inputs']):.3f} against a "
        f"chance loss of {CHANCE_LOSS:.3f}. A model that cannot overfit one batch has a bug "
        "in the model, the loss, the optimizer wiring or the data pipeline, to be found before "
        "any tuning of the learning rate or the architecture."
    )
