"""Self-supervised contrastive learning (SimCLR) on the 8×8 digits, judged by a linear probe.

An encoder sees the training images without their labels: each image is augmented twice
(a random shift of up to one pixel, a random 3×3 patch blanked out, Gaussian noise), and the
NT-Xent loss (Chen et al., 2020) teaches it to match the two views of an image among all the
views of the batch. The encoder is then frozen and used as a fixed feature extractor: a
logistic regression (the linear probe) is fitted on its features of a few labelled images
per class, and tested on held-out images.

The same probe, on the same labelled images, is fitted on raw pixels, on the encoder's
random initial features (the same initial weights), on the features of the same network
trained with labels on the same labelled images only (with the same augmentations), and on
those of the network trained with all the training labels (the supervised ceiling).
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.nn.modules.metric_loss import NTXentLoss

ARMS = ("pixels", "random init", "SimCLR", "supervised, same labels", "supervised, all labels")


def augment(rng: np.random.Generator, images: np.ndarray) -> np.ndarray:
    """A random view of each 8×8 image (values in [0, 1]), as rows of 64 pixels: a shift of
    up to one pixel each way (a random 8×8 crop of the image padded with a zero border), a
    3×3 patch set to 0 in half of the images, and Gaussian noise of std 0.1."""
    n = len(images)
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    dy, dx = rng.integers(0, 3, n), rng.integers(0, 3, n)
    rows = dy[:, None] + np.arange(8)[None, :]
    cols = dx[:, None] + np.arange(8)[None, :]
    views = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    py, px = rng.integers(0, 6, n), rng.integers(0, 6, n)
    patch = (np.arange(8)[None, :, None] - py[:, None, None]) % 8 < 3
    patch = patch & ((np.arange(8)[None, None, :] - px[:, None, None]) % 8 < 3)
    views = np.where(patch & (rng.random(n) < 0.5)[:, None, None], 0.0, views)
    views = views + 0.1 * rng.standard_normal(views.shape)
    return views.reshape(n, 64).astype(np.float32)


def encoder() -> nn.Sequential:
    """64 pixels → 128 → ReLU → 64 → ReLU: the features h that the probe reads."""
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())


def train_simclr(
    net: nn.Module, images: np.ndarray, rng: np.random.Generator, steps: int, batch: int
) -> list[float]:
    """Adam on NT-Xent (τ = 0.5) of two augmented views of ``batch`` random images per step,
    through a projection head g(h) = W₂·ReLU(W₁h) that is thrown away afterwards (SimCLR
    probes h, before the head); the loss per step."""
    head = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32))
    opt = nnlab.optim.Adam(list(net.parameters()) + list(head.parameters()), lr=1e-3)
    loss_fn = NTXentLoss(temperature=0.5)
    losses = []
    for _ in range(steps):
        chosen = images[rng.choice(len(images), batch, replace=False)]
        views = nnlab.tensor(np.concatenate([augment(rng, chosen), augment(rng, chosen)]))
        z = head(net(views))
        loss = loss_fn(z[:batch], z[batch:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def train_supervised(
    net: nn.Module, images: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
    steps: int,
) -> None:  # fmt: skip
    """Adam on the cross-entropy of a linear head on the features, with the SimCLR
    augmentations, over random batches of at most 64 of the labelled images."""
    head = nn.Linear(64, 10)
    opt = nnlab.optim.Adam(list(net.parameters()) + list(head.parameters()), lr=1e-3)
    batch = min(64, len(labels))
    for _ in range(steps):
        rows = rng.choice(len(labels), batch, replace=False)
        logits = head(net(nnlab.tensor(augment(rng, images[rows]))))
        loss = F.cross_entropy(logits, nnlab.tensor(labels[rows]))
        opt.zero_grad()
        loss.backward()
        opt.step()


def features(net: nn.Module | None, images: np.ndarray) -> np.ndarray:
    """The encoder's features of clean (unaugmented) images, or the raw pixels."""
    x = images.reshape(len(images), 64).astype(np.float32)
    if net is None:
        return x
    with nnlab.no_grad():
        return net(nnlab.tensor(x)).numpy()


def probe_accuracy(
    train_features: np.ndarray, train_labels: np.ndarray,
    test_features: np.ndarray, test_labels: np.ndarray,
) -> float:  # fmt: skip
    """Test accuracy of a logistic regression fitted on standardised features."""
    scaler = StandardScaler().fit(train_features)
    probe = LogisticRegression(max_iter=2000).fit(scaler.transform(train_features), train_labels)
    return float(probe.score(scaler.transform(test_features), test_labels))


def labelled_subset(rng: np.random.Generator, labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of ``per_class`` random images of every class."""
    return np.concatenate(
        [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in range(10)]
    )


@experiment(
    "simclr-linear-probe",
    answers=["supervised-versus-unsupervised", "feature-extraction"],
    quick=dict(steps=200, batch=64, budgets=(1, 10), sup_steps=100, n_seeds=3),
    full=dict(steps=1500, batch=128, budgets=(1, 3, 10, 30, 100), sup_steps=500, n_seeds=5),
)
def simclr_linear_probe(
    run: Run, steps: int, batch: int, budgets: tuple[int, ...], sup_steps: int, n_seeds: int
) -> None:
    """Does contrastive self-supervised pretraining give features a linear classifier can use
    with few labels?"""
    data = load_digits()
    images = data.images / 16.0
    train_x, test_x, train_y, test_y = train_test_split(
        images, data.target, test_size=0.33, stratify=data.target, random_state=0
    )

    acc = {(arm, b): [] for arm in ARMS for b in budgets}
    curves = []
    for seed in run.seeds(n_seeds):
        nets: dict[str, nn.Module | None] = {"pixels": None}
        for arm in ("random init", "SimCLR", "supervised, all labels"):
            nnlab.manual_seed(seed)
            nets[arm] = encoder()  # the same initial weights for every arm of this seed
        curves.append(
            train_simclr(nets["SimCLR"], train_x, np.random.default_rng(seed), steps, batch)
        )
        train_supervised(
            nets["supervised, all labels"], train_x, train_y, np.random.default_rng(seed),
            steps,
        )  # fmt: skip
        feats = {arm: (features(net, train_x), features(net, test_x)) for arm, net in nets.items()}
        subset_rng = np.random.default_rng(seed + 1)
        for b in budgets:
            rows = labelled_subset(subset_rng, train_y, b)
            nnlab.manual_seed(seed)
            few = encoder()
            train_supervised(
                few, train_x[rows], train_y[rows], np.random.default_rng(seed), sup_steps
            )
            feats["supervised, same labels"] = (features(few, train_x), features(few, test_x))
            for arm in ARMS:
                tr, te = feats[arm]
                acc[arm, b].append(probe_accuracy(tr[rows], train_y[rows], te, test_y))

    mean = {key: float(np.mean(v)) for key, v in acc.items()}
    for (arm, b), values in acc.items():
        key = f"{arm.replace(',', '').replace(' ', '_')}_{b}_per_class"
        run.number(f"{key}_mean", round(mean[arm, b], 4))
        run.number(f"{key}_std", round(float(np.std(values)), 4))
    first_loss = [float(np.mean(c[: max(1, steps // 20)])) for c in curves]
    last_loss = [float(np.mean(c[-max(1, steps // 10) :])) for c in curves]
    run.number("nt_xent_first_mean", round(float(np.mean(first_loss)), 4))
    run.number("nt_xent_last_mean", round(float(np.mean(last_loss)), 4))
    run.table(
        f"Linear-probe test accuracy on {len(test_y)} held-out digits, by labelled images per "
        f"class: mean ± std over {n_seeds} seeds",
        ("features", *(f"{b} per class" for b in budgets)),
        [
            (arm, *(f"{mean[arm, b]:.3f} ± {np.std(acc[arm, b]):.3f}" for b in budgets))
            for arm in ARMS
        ],
    )
    _plot(run, acc, budgets, curves)

    low, high = budgets[0], budgets[-1]
    run.claim(
        "NT-Xent training makes progress: the loss over the last tenth of the steps is at most "
        "0.7 times the loss over the first twentieth, for every seed",
        all(b <= 0.7 * a for a, b in zip(first_loss, last_loss)),
        ", ".join(f"{a:.3f}→{b:.3f}" for a, b in zip(first_loss, last_loss)),
        quick=False,
    )
    run.claim(
        "Contrastive pretraining improves on the same network's random features: the SimCLR "
        "probe is at least 0.01 more accurate at every label budget (mean over seeds)",
        all(mean["SimCLR", b] >= mean["random init", b] + 0.01 for b in budgets),
        ", ".join(f"{b}: {mean['SimCLR', b]:.3f} vs {mean['random init', b]:.3f}" for b in budgets),
    )
    run.claim(
        f"With {low} label per class, self-supervised features beat raw pixels and a network "
        "trained with those labels only (mean over seeds)",
        mean["SimCLR", low] > max(mean["pixels", low], mean["supervised, same labels", low]),
        f"SimCLR {mean['SimCLR', low]:.3f}, pixels {mean['pixels', low]:.3f}, supervised on the "
        f"same labels {mean['supervised, same labels', low]:.3f}",
        quick=False,
    )
    run.claim(
        f"With {high} labels per class, features learned from all the labels are at least as "
        "good as the self-supervised ones (mean over seeds)",
        mean["supervised, all labels", high] >= mean["SimCLR", high],
        f"supervised {mean['supervised, all labels', high]:.3f}, SimCLR {mean['SimCLR', high]:.3f}",
        quick=False,
    )
    run.answer(
        "Supervised learning fits a network to labelled examples; self-supervised (here "
        "contrastive) learning makes its own targets from unlabelled data, here by asking the "
        "network to recognise two random augmentations of the same image among all the "
        "views in a batch (NT-Xent), and is then used as a fixed feature extractor: the "
        "encoder is frozen and only a linear classifier is fitted on its features. With "
        f"{low} labelled image per class the linear probe reached "
        + ", ".join(f"{arm} {mean[arm, low]:.3f}" for arm in ARMS)
        + f"; with {high} per class, "
        + ", ".join(f"{arm} {mean[arm, high]:.3f}" for arm in ARMS)
        + f" (test accuracy, means over {n_seeds} seeds). The NT-Xent loss went from "
        f"{np.mean(first_loss):.3f} to {np.mean(last_loss):.3f} (chance level for "
        f"{2 * batch - 1} candidates is ln {2 * batch - 1} = {np.log(2 * batch - 1):.3f})."
    )


def _plot(
    run: Run,
    acc: dict[tuple[str, int], list[float]],
    budgets: tuple[int, ...],
    curves: list[list[float]],
) -> None:
    """Probe accuracy against the label budget per feature set, and the NT-Xent curves."""
    fig = run.figure(
        "simclr_probe",
        "Left: linear-probe test accuracy against labelled images per class (mean, with the "
        "min-max range over seeds). Right: NT-Xent loss during self-supervised training, "
        "every seed, smoothed over 25 steps.",
        width=10.0,
        height=3.8,
    )
    ax_acc, ax_loss = fig.subplots(1, 2)
    for i, arm in enumerate(ARMS):
        values = np.array([acc[arm, b] for b in budgets])
        ax_acc.plot(budgets, values.mean(1), marker="o", color=f"C{i}", label=arm)
        ax_acc.fill_between(budgets, values.min(1), values.max(1), color=f"C{i}", alpha=0.2)
    ax_acc.set_xscale("log")
    ax_acc.set_xlabel("labelled images per class")
    ax_acc.set_ylabel("probe test accuracy")
    ax_acc.legend(fontsize=7)
    window = np.ones(25) / 25
    for curve in curves:
        ax_loss.plot(np.convolve(curve, window, mode="valid"))
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("NT-Xent loss")
