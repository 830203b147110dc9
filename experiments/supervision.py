"""Learning with and without labels: a classifier and an autoencoder, the same encoder
shape trained on the same digit images, one told the digits' labels and one only asked to
reproduce the images.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import nn


def encoder(code: int) -> nn.Sequential:
    """64 pixels -> 32 ReLU units -> a ``code``-number summary."""
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, code))


def train(model: nn.Module, loss_fn, x: nnlab.Tensor, target: nnlab.Tensor, order) -> None:
    """Adam on ``loss_fn(model(x[batch]), target[batch])`` over the rows of ``order``."""
    opt = nnlab.optim.Adam(model.parameters(), lr=0.003)
    for batch in order:
        idx = nnlab.tensor(batch)
        loss = loss_fn(model(x[idx]), target[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()


def codes(enc: nn.Module, x: np.ndarray) -> np.ndarray:
    with nnlab.no_grad():
        return enc(nnlab.tensor(x)).numpy()


def probe_accuracy(
    train_codes: np.ndarray,
    train_y: np.ndarray,
    test_codes: np.ndarray,
    test_y: np.ndarray,
    seed: int,
    steps: int,
) -> float:
    """Test accuracy of a linear classifier (logistic regression in nnlab) trained on
    standardised frozen codes: how much label information a linear read-out finds in them."""
    mean, std = train_codes.mean(0), train_codes.std(0) + 1e-6
    nnlab.manual_seed(seed)
    probe = nn.Linear(train_codes.shape[1], 10)
    xs = nnlab.tensor(((train_codes - mean) / std).astype(np.float32))
    full_batch = np.tile(np.arange(len(train_codes)), (steps, 1))
    train(probe, F.cross_entropy, xs, nnlab.tensor(train_y), full_batch)
    with nnlab.no_grad():
        scores = probe(nnlab.tensor(((test_codes - mean) / std).astype(np.float32)))
    return float(np.mean(scores.argmax(1).numpy() == test_y))


def digits_split(seed: int) -> tuple[np.ndarray, ...]:
    """sklearn's 8x8 digits scaled to [0, 1], split in half at random: x_train, y_train,
    x_test, y_test."""
    digits = load_digits()
    x, y = (digits.data / 16).astype(np.float32), digits.target.astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(x))
    train_idx, test_idx = perm[: len(x) // 2], perm[len(x) // 2 :]
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


@experiment(
    "classifier-vs-autoencoder",
    answers=["supervised-versus-unsupervised"],
    quick=dict(code=8, steps=1000, probe_steps=300, n_seeds=2),
    full=dict(code=8, steps=4000, probe_steps=1000, n_seeds=5),
)
def classifier_vs_autoencoder(
    run: Run, code: int, steps: int, probe_steps: int, n_seeds: int
) -> None:
    """What does a network learn from labelled digits, and what from the images alone?"""
    keys = (
        "classifier",
        "ae_mse",
        "mean_mse",
        "pca_mse",
        "probe_untrained",
        "probe_ae",
        "probe_classifier",
    )
    m = {k: [] for k in keys}
    shown = None
    for seed in run.seeds(n_seeds):
        x_tr, y_tr, x_te, y_te = digits_split(seed)
        xs, ys = nnlab.tensor(x_tr), nnlab.tensor(y_tr)
        order = np.random.default_rng(seed).integers(0, len(x_tr), size=(steps, 64))

        nnlab.manual_seed(seed)  # both encoders start from the same weights
        untrained = encoder(code)
        nnlab.manual_seed(seed)
        clf_enc = encoder(code)
        classifier = nn.Sequential(clf_enc, nn.ReLU(), nn.Linear(code, 10))
        train(classifier, F.cross_entropy, xs, ys, order)
        nnlab.manual_seed(seed)
        ae_enc = encoder(code)
        autoencoder = nn.Sequential(
            ae_enc, nn.ReLU(), nn.Linear(code, 32), nn.ReLU(), nn.Linear(32, 64)
        )
        train(autoencoder, F.mse_loss, xs, xs, order)  # the input is its own target

        with nnlab.no_grad():
            scores = classifier(nnlab.tensor(x_te)).numpy()
            recon = autoencoder(nnlab.tensor(x_te)).numpy()
        m["classifier"].append(float(np.mean(scores.argmax(1) == y_te)))
        m["ae_mse"].append(float(np.mean((recon - x_te) ** 2)))
        m["mean_mse"].append(float(np.mean((x_tr.mean(0) - x_te) ** 2)))
        pca = PCA(code).fit(x_tr)
        m["pca_mse"].append(
            float(np.mean((pca.inverse_transform(pca.transform(x_te)) - x_te) ** 2))
        )
        for name, enc in (("untrained", untrained), ("ae", ae_enc), ("classifier", clf_enc)):
            m[f"probe_{name}"].append(
                probe_accuracy(codes(enc, x_tr), y_tr, codes(enc, x_te), y_te, seed, probe_steps)
            )
        shown = shown or (x_te[:10], recon[:10])

    mean = {k: float(np.mean(v)) for k, v in m.items()}
    for k, v in mean.items():
        run.number(f"{k}_mean", round(v, 5))
    run.table(
        f"Test-set results over {n_seeds} seeds ({code}-number codes)",
        ("measure", "mean", "min", "max"),
        [
            (label, round(mean[k], 4), round(min(m[k]), 4), round(max(m[k]), 4))
            for k, label in (
                ("classifier", "classifier accuracy (trained with labels)"),
                ("ae_mse", "autoencoder reconstruction MSE (trained without labels)"),
                ("pca_mse", f"PCA reconstruction MSE, {code} components"),
                ("mean_mse", "MSE of predicting the mean training image"),
                ("probe_untrained", "linear probe accuracy on untrained-encoder codes"),
                ("probe_ae", "linear probe accuracy on autoencoder codes"),
                ("probe_classifier", "linear probe accuracy on classifier codes"),
            )
        ],
    )

    fig = run.figure(
        "supervision",
        "Left: test digits (top) and the autoencoder's reconstructions "
        "(bottom), first seed. Right: linear-probe accuracy on each encoder's codes and the "
        "classifier's accuracy (dots: seeds).",
        width=11,
        height=3.8,
    )
    ax_img, ax_acc = fig.subplots(1, 2, width_ratios=[1.6, 1])
    originals, recons = shown
    strip = np.vstack([np.hstack([im.reshape(8, 8) for im in row]) for row in (originals, recons)])
    ax_img.imshow(strip, cmap="gray_r", vmin=0, vmax=1)
    ax_img.set_xticks([])
    ax_img.set_yticks([4, 12], ["input", "decoded"])
    bars = ("probe_untrained", "probe_ae", "probe_classifier", "classifier")
    labels = ("probe:\nuntrained", "probe:\nautoencoder", "probe:\nclassifier", "classifier")
    ax_acc.bar(range(len(bars)), [mean[k] for k in bars], color="lightgrey")
    for i, k in enumerate(bars):
        ax_acc.scatter([i] * n_seeds, m[k], color="black", s=10)
    ax_acc.set_xticks(range(len(bars)), labels, fontsize=8)
    ax_acc.set_ylabel("test accuracy")
    ax_acc.set_ylim(0, 1)

    worst_clf = min(m["classifier"])
    run.claim(
        "The classifier, trained with labels, reaches at least 90% test accuracy on every seed",
        worst_clf >= 0.90,
        f"lowest {worst_clf:.3f}",
    )
    ratio = max(a / b for a, b in zip(m["ae_mse"], m["mean_mse"]))
    run.claim(
        "The autoencoder, trained without labels, reconstructs test digits with at most half "
        "the error of the mean image, on every seed",
        ratio <= 0.5,
        f"largest ratio autoencoder/mean-image MSE {ratio:.3f}",
        quick=False,
    )
    gain = mean["probe_ae"] - mean["probe_untrained"]
    run.claim(
        "The autoencoder's codes, learned without labels, let a linear probe classify at least "
        "5 points better than the codes of the same encoder untrained",
        gain >= 0.05,
        f"probe on autoencoder {mean['probe_ae']:.3f}, on untrained {mean['probe_untrained']:.3f}",
    )
    run.claim(
        "The label-free codes fall short of what training with labels reaches (probe on "
        "autoencoder codes below the classifier's accuracy)",
        mean["probe_ae"] < mean["classifier"],
        f"probe on autoencoder {mean['probe_ae']:.3f}, classifier {mean['classifier']:.3f}",
    )
    run.answer(
        "Supervised learning fits a network to input-label pairs and is judged by how well it "
        "predicts the labels; unsupervised learning has inputs only and must find structure in "
        "them, here by squeezing each digit through a code and rebuilding it (an autoencoder: "
        f"the input is its own target). With the same {code}-number encoder shape and the same "
        f"batches, the classifier reached {mean['classifier']:.1%} test accuracy, while the "
        f"autoencoder rebuilt test digits with MSE {mean['ae_mse']:.4f} (the mean image: "
        f"{mean['mean_mse']:.4f}; PCA with {code} components: {mean['pca_mse']:.4f}). It never "
        "saw a label, yet a linear probe read the digit from its codes with "
        f"{mean['probe_ae']:.1%} accuracy, against {mean['probe_untrained']:.1%} for the "
        f"untrained encoder and {mean['probe_classifier']:.1%} for the classifier's own codes: "
        "unsupervised training keeps what describes the image, supervised training keeps what "
        "tells the labels apart."
    )
