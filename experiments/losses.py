"""How the loss steers a classifier: how fast it learns and how calibrated its confidences are.

``loss-choice`` trains one MLP with cross-entropy, with the mean squared error between the
softmax and the one-hot target, and with the multi-class hinge loss; ``label-smoothing``
trains an over-sized MLP on a small noisy set with cross-entropy at several smoothing
levels. Calibration is measured by the expected calibration error (ECE): the gap between
confidence and accuracy, averaged over confidence bins weighted by how many predictions
fall in each. Within a seed every arm starts from the same weights and sees the same
batches.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_classification

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import nn

N_CLASSES = 4
N_BINS = 10


def noisy_task(
    rng: np.random.Generator, n: int, flip: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A four-class task with 16 features (8 informative) where a fraction ``flip`` of the
    labels is random; split in halves, (x_train, y_train, x_test, y_test)."""
    x, y = make_classification(
        n_samples=2 * n,
        n_features=16,
        n_informative=8,
        n_redundant=0,
        n_classes=N_CLASSES,
        flip_y=flip,
        class_sep=1.0,
        random_state=int(rng.integers(2**31)),
    )
    x, y = x.astype(np.float32), y.astype(np.int64)
    return x[:n], y[:n], x[n:], y[n:]


def calibration_bins(
    probs: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width bin of the top-class confidence: (mean confidence, accuracy, count);
    empty bins hold nan."""
    confidence = probs.max(1)
    correct = probs.argmax(1) == labels
    which = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore"):
        mean_conf = np.bincount(which, confidence, minlength=n_bins) / count
        accuracy = np.bincount(which, correct, minlength=n_bins) / count
    return mean_conf, accuracy, count


def expected_calibration_error(
    probs: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS
) -> float:
    """ECE = Σ_b (n_b / n) |accuracy_b - confidence_b| over equal-width confidence bins."""
    mean_conf, accuracy, count = calibration_bins(probs, labels, n_bins)
    full = count > 0
    return float(np.sum(count[full] * np.abs(accuracy[full] - mean_conf[full])) / count.sum())


def mlp(width: int, depth: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    sizes = [16] + [width] * depth
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    layers.append(nn.Linear(width, N_CLASSES))
    return nn.Sequential(*layers)


def softmax_probs(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """softmax of the model's outputs: the probabilities each loss's scores imply."""
    with nnlab.no_grad():
        return F.softmax(model(nnlab.tensor(x)), dim=1).numpy()


LOSSES = {
    "cross-entropy": lambda out, y: F.cross_entropy(out, y),
    "mse-softmax": lambda out, y: F.mse_loss(
        F.softmax(out, dim=1), F.one_hot(y, N_CLASSES).float()
    ),
    "hinge": lambda out, y: F.multi_margin_loss(out, y),
}


def test_curves(
    model: nn.Module,
    loss_name: str,
    data: tuple[np.ndarray, ...],
    order: np.ndarray,
    lr: float,
    every: int,
) -> tuple[list[float], list[float]]:
    """SGD with ``loss_name`` on the batches in ``order``; the test accuracy and the test
    ECE every ``every`` steps (the first at step 0, the last after the final step)."""
    x_train, y_train, x_test, y_test = data
    opt = nnlab.optim.SGD(model.parameters(), lr=lr)
    xs, ys = nnlab.tensor(x_train), nnlab.tensor(y_train)
    accuracy, ece = [], []

    def measure() -> None:
        probs = softmax_probs(model, x_test)
        accuracy.append(float((probs.argmax(1) == y_test).mean()))
        ece.append(expected_calibration_error(probs, y_test))

    for step, idx in enumerate(order):
        if step % every == 0:
            measure()
        batch = nnlab.tensor(idx)
        loss = LOSSES[loss_name](model(xs[batch]), ys[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    measure()
    return accuracy, ece


@experiment(
    "loss-choice",
    answers=["loss-functions", "cross-entropy"],
    quick=dict(n=1024, width=64, steps=600, n_seeds=2),
    full=dict(n=2048, width=64, steps=3000, n_seeds=5),
)
def loss_choice(run: Run, n: int, width: int, steps: int, n_seeds: int) -> None:
    """How do cross-entropy, squared error on the softmax and hinge loss compare for
    classification?"""
    lr, every = 0.1, steps // 20
    names = list(LOSSES)
    acc = {name: [] for name in names}  # seeds x checkpoints
    ece = {name: [] for name in names}
    conf_bins = {name: [] for name in names}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        data = noisy_task(rng, n, flip=0.1)
        order = rng.integers(0, n, size=(steps, 64))
        for name in names:
            nnlab.manual_seed(seed)  # every loss starts from the same weights
            model = mlp(width, 2)
            a, e = test_curves(model, name, data, order, lr, every)
            acc[name].append(a)
            ece[name].append(e)
            conf_bins[name].append(calibration_bins(softmax_probs(model, data[2]), data[3]))
    acc = {name: np.array(v) for name, v in acc.items()}
    ece = {name: np.array(v) for name, v in ece.items()}

    checkpoints = np.arange(acc[names[0]].shape[1]) * every
    early = len(checkpoints) // 5  # a fifth of the way through training
    rows = []
    for name in names:
        a, e = acc[name], ece[name]
        rows.append(
            (
                name,
                round(float(a[:, early].mean()), 4),
                round(float(e[:, early].mean()), 4),
                round(float(a[:, -1].mean()), 4),
                round(float(a[:, -1].std()), 4),
                round(float(e[:, -1].mean()), 4),
                round(float(e[:, -1].std()), 4),
            )
        )
        key = name.replace("-", "_")
        run.number(f"{key}_early_test_acc", round(float(a[:, early].mean()), 4))
        run.number(f"{key}_final_test_acc", round(float(a[:, -1].mean()), 4))
        run.number(f"{key}_early_ece", round(float(e[:, early].mean()), 4))
        run.number(f"{key}_final_ece", round(float(e[:, -1].mean()), 4))
    run.table(
        f"Test accuracy and ECE at step {checkpoints[early]} (early) and {steps} (final), "
        f"{n_seeds} seeds, SGD lr {lr}, 10% noisy labels",
        (
            "loss",
            "early acc",
            "early ECE",
            "final acc mean",
            "final acc std",
            "final ECE mean",
            "final ECE std",
        ),
        rows,
    )

    fig = run.figure(
        "learning-curves",
        "Test accuracy and ECE during training; bands span the seeds",
        width=9.6,
    )
    ax_acc, ax_ece = fig.subplots(1, 2)
    for i, name in enumerate(names):
        for ax, values in ((ax_acc, acc[name]), (ax_ece, ece[name])):
            ax.plot(checkpoints, values.mean(0), color=f"C{i}", label=name)
            ax.fill_between(checkpoints, values.min(0), values.max(0), color=f"C{i}", alpha=0.2)
    ax_acc.axhline(1 / N_CLASSES, color="grey", linestyle=":", label="chance")
    ax_acc.set_xlabel("SGD step")
    ax_acc.set_ylabel("test accuracy")
    ax_acc.legend()
    ax_ece.set_xlabel("SGD step")
    ax_ece.set_ylabel(f"test ECE ({N_BINS} bins)")
    reliability_diagram(
        run.figure("reliability", "Reliability diagram at the end of training, all seeds"),
        {name: pooled(conf_bins[name]) for name in names},
    )

    mean_ece = {name: float(ece[name][:, -1].mean()) for name in names}
    lead = float(np.min(acc["cross-entropy"][:, early] - acc["mse-softmax"][:, early]))
    run.claim(
        f"Cross-entropy learns faster than squared error on the softmax: at step "
        f"{checkpoints[early]} its test accuracy is at least 5 points higher in every seed",
        lead >= 0.05,
        f"smallest per-seed lead {lead:.3f}",
    )
    run.claim(
        "Cross-entropy's softmax is calibrated: mean final ECE at most 0.05",
        mean_ece["cross-entropy"] <= 0.05,
        f"mean ECE {mean_ece['cross-entropy']:.3f}",
        quick=False,
    )
    run.claim(
        "The hinge loss's softmax is not a calibrated probability: its mean final ECE is at "
        "least twice cross-entropy's",
        mean_ece["hinge"] >= 2 * mean_ece["cross-entropy"],
        f"mean ECE hinge {mean_ece['hinge']:.3f}, cross-entropy {mean_ece['cross-entropy']:.3f}",
        quick=False,
    )

    def at(values: dict[str, np.ndarray], when: int, fmt: str) -> str:
        return ", ".join(f"{name} {values[name][:, when].mean():{fmt}}" for name in names)

    ce_acc, ce_ece = acc["cross-entropy"].mean(0), ece["cross-entropy"].mean(0)
    drift = (
        f"Cross-entropy's ECE grew from {ce_ece[early]:.3f} to {ce_ece[-1]:.3f} while its "
        f"accuracy went from {ce_acc[early]:.1%} to {ce_acc[-1]:.1%}: on the training set "
        "its log loss keeps rewarding larger logits, so confidence can outgrow accuracy."
        if ce_ece[-1] > ce_ece[early]
        else f"Cross-entropy's ECE went from {ce_ece[early]:.3f} to {ce_ece[-1]:.3f}."
    )
    run.answer(
        "A loss turns the gap between prediction and target into the number gradient descent "
        "reduces: cross-entropy is the negative log-probability of the right class, squared "
        "error on the softmax penalises the distance of the probability vector from the "
        "one-hot target, and the hinge loss only asks the right class's score to beat the "
        "others by a margin. On a four-class task with 10% noisy labels, trained with SGD at "
        f"lr {lr} from the same weights ({n_seeds} seeds), the mean test accuracy at step "
        f"{checkpoints[early]} was: {at(acc, early, '.1%')}; after {steps} steps: "
        f"{at(acc, -1, '.1%')}. Squared error on a softmax has a gradient that shrinks as "
        "the softmax saturates, even on a confident wrong answer, while cross-entropy's "
        "gradient on the logits is the plain difference between predicted and target "
        f"probabilities. Test ECE at step {checkpoints[early]}: {at(ece, early, '.3f')}; at "
        f"the end: {at(ece, -1, '.3f')}. {drift}"
    )


def pooled(bins: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-seed calibration bins merged into one (mean confidence, accuracy, count)."""
    count = np.sum([b[2] for b in bins], axis=0)
    conf = np.sum([np.nan_to_num(b[0]) * b[2] for b in bins], axis=0)
    acc = np.sum([np.nan_to_num(b[1]) * b[2] for b in bins], axis=0)
    with np.errstate(invalid="ignore"):
        return conf / count, acc / count, count


def reliability_diagram(fig, bins: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """Accuracy against mean confidence per bin, one line per arm, and the diagonal that a
    calibrated model lies on."""
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="calibrated")
    for i, (name, (conf, acc, count)) in enumerate(bins.items()):
        full = count > 0
        ax.plot(conf[full], acc[full], marker="o", color=f"C{i}", label=name)
    ax.set_xlabel("mean confidence in bin")
    ax.set_ylabel("accuracy in bin")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend()


def train_smoothed(
    model: nn.Module, x: np.ndarray, y: np.ndarray, smoothing: float, order: np.ndarray
) -> None:
    """Adam (lr 1e-3) with label-smoothed cross-entropy on the batches in ``order``."""
    opt = nnlab.optim.Adam(model.parameters(), lr=1e-3)
    xs, ys = nnlab.tensor(x), nnlab.tensor(y)
    for idx in order:
        batch = nnlab.tensor(idx)
        loss = F.cross_entropy(model(xs[batch]), ys[batch], label_smoothing=smoothing)
        opt.zero_grad()
        loss.backward()
        opt.step()


@experiment(
    "label-smoothing",
    answers=["label-smoothing"],
    quick=dict(n=512, width=128, steps=500, n_seeds=2),
    full=dict(n=1024, width=128, steps=2000, n_seeds=4),
)
def label_smoothing(run: Run, n: int, width: int, steps: int, n_seeds: int) -> None:
    """What does label smoothing do to an over-confident classifier's calibration?"""
    levels = [0.0, 0.05, 0.1, 0.2]
    stats = {eps: {"acc": [], "conf": [], "ece": [], "nll": []} for eps in levels}
    conf_bins = {eps: [] for eps in levels}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x_train, y_train, x_test, y_test = noisy_task(rng, n, flip=0.2)
        order = rng.integers(0, n, size=(steps, 64))
        for eps in levels:
            nnlab.manual_seed(seed)  # every smoothing level starts from the same weights
            model = mlp(width, 3)
            train_smoothed(model, x_train, y_train, eps, order)
            probs = softmax_probs(model, x_test)
            stats[eps]["acc"].append(float((probs.argmax(1) == y_test).mean()))
            stats[eps]["conf"].append(float(probs.max(1).mean()))
            stats[eps]["ece"].append(expected_calibration_error(probs, y_test))
            p_true = probs[np.arange(len(y_test)), y_test]
            stats[eps]["nll"].append(float(-np.log(np.maximum(p_true, 1e-12)).mean()))
            conf_bins[eps].append(calibration_bins(probs, y_test))

    mean = {eps: {k: float(np.mean(v)) for k, v in stats[eps].items()} for eps in levels}
    rows = []
    for eps in levels:
        s = stats[eps]
        rows.append(
            (
                eps,
                *(
                    round(float(f(s[k])), 4)
                    for k in ("acc", "conf", "ece", "nll")
                    for f in (np.mean, np.std)
                ),
            )
        )
        key = f"eps{eps:g}".replace(".", "_")
        for k in ("acc", "conf", "ece"):
            run.number(f"{key}_test_{k}", round(mean[eps][k], 4))
    run.table(
        f"Test metrics after {steps} Adam steps on {n} examples with 20% noisy labels "
        f"({n_seeds} seeds)",
        (
            "smoothing",
            "acc mean",
            "acc std",
            "confidence mean",
            "confidence std",
            "ECE mean",
            "ECE std",
            "NLL mean",
            "NLL std",
        ),
        rows,
    )
    reliability_diagram(
        run.figure("reliability", "Reliability diagram per smoothing level, all seeds pooled"),
        {f"smoothing {eps:g}": pooled(conf_bins[eps]) for eps in levels},
    )

    conf = np.array([stats[eps]["conf"] for eps in levels])  # levels x seeds
    falls = bool(np.all(np.diff(conf, axis=0) < 0))
    run.claim(
        "Mean test confidence falls with every step up in smoothing, in every seed",
        falls,
        "mean confidence per level " + ", ".join(f"{mean[e]['conf']:.3f}" for e in levels),
    )
    over = mean[0.0]["conf"] - mean[0.0]["acc"]
    run.claim(
        "Without smoothing the over-sized network is over-confident: mean confidence exceeds "
        "test accuracy by at least 10 points",
        over >= 0.10,
        f"confidence {mean[0.0]['conf']:.3f}, accuracy {mean[0.0]['acc']:.3f}",
    )
    run.claim(
        "Smoothing 0.1 at least halves the expected calibration error",
        mean[0.1]["ece"] <= 0.5 * mean[0.0]["ece"],
        f"mean ECE {mean[0.0]['ece']:.3f} without, {mean[0.1]['ece']:.3f} with 0.1",
        quick=False,
    )
    drop = mean[0.0]["acc"] - mean[0.1]["acc"]
    run.claim(
        "Smoothing 0.1 costs at most 2 points of test accuracy",
        drop <= 0.02,
        f"mean accuracy {mean[0.0]['acc']:.3f} without, {mean[0.1]['acc']:.3f} with 0.1",
        quick=False,
    )
    run.answer(
        "Label smoothing with ε replaces the one-hot target by 1 - ε + ε/C on the true class "
        "and ε/C on the others, so the loss stops rewarding ever larger logit gaps. On "
        f"{n} training examples with 20% noisy labels, a {width}-wide MLP trained without "
        f"smoothing had mean test confidence {mean[0.0]['conf']:.1%} for an accuracy of "
        f"{mean[0.0]['acc']:.1%} (ECE {mean[0.0]['ece']:.3f}, NLL {mean[0.0]['nll']:.2f}). "
        "With smoothing "
        + ", ".join(
            f"{e:g}: confidence {mean[e]['conf']:.1%}, accuracy {mean[e]['acc']:.1%}, ECE "
            f"{mean[e]['ece']:.3f}, NLL {mean[e]['nll']:.2f}"
            for e in levels[1:]
        )
        + f" ({n_seeds} seeds)."
    )
