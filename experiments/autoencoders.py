"""What an autoencoder learns and what it is good for, measured on the 8×8 digits.

An autoencoder rebuilds its input through a narrow code. Four uses are measured here,
each against a baseline that sees the same data and batches:
compression (held-out reconstruction error against PCA at the same code size), anomaly
detection (a digit class never seen in training reconstructs badly), denoising (PSNR of
noisy held-out digits before and after) and sparse codes (how many code units an L1 or KL
penalty switches off); a fifth measures what the contractive penalty does to the code's
sensitivity to its input.

Pixels are scaled to [0, 1] (the raw 0-16 grey levels divided by 16), so PSNR has a peak
of 1 and the mean squared error is per pixel. Each seed draws its own train/test split and
batch order; the arms of a seed share both, and ``nnlab.manual_seed(seed)`` before each
model gives arms of the same shape the same initial weights.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.linalg
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab.metrics import roc_auc_score
from nnlab.models.autoencoder import Autoencoder
from nnlab.nn.autoencoder_regularizers import (
    contractive_penalty,
    gaussian_noise,
    kl_sparsity_penalty,
    l1_sparsity_penalty,
)

BATCH = 64
LR = 3e-3

Loss = Callable[[Autoencoder, nnlab.Tensor], nnlab.Tensor]


def digit_split(
    rng: np.random.Generator, test_fraction: float = 1 / 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 1797 digits as float32 rows of 64 pixels in [0, 1], shuffled and split into
    (x_train, y_train, x_test, y_test)."""
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    order = rng.permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    test, train = order[:n_test], order[n_test:]
    return x[train], data.target[train], x[test], data.target[test]


def reconstruction_loss(model: Autoencoder, batch: nnlab.Tensor) -> nnlab.Tensor:
    """The plain objective: the mean squared error of x̂ = g(f(x)) against x."""
    return F.mse_loss(model(batch), batch)


def code_penalised_loss(penalty: Callable[[nnlab.Tensor], nnlab.Tensor] | None) -> Loss:
    """The objective ‖g(h) − x‖² + penalty(h) on the code h = f(x) (no penalty: None)."""

    def loss(model: Autoencoder, batch: nnlab.Tensor) -> nnlab.Tensor:
        h = model.encode(batch)
        value = F.mse_loss(model.decode(h), batch)
        return value if penalty is None else value + penalty(h)

    return loss


def fit(model: Autoencoder, x: np.ndarray, order: np.ndarray, loss: Loss) -> Autoencoder:
    """Adam on ``loss`` over the mini-batches whose indices are the rows of ``order``; the
    learning rate decays from ``LR`` to 0 on a cosine so the last steps settle."""
    opt = nnlab.optim.Adam(model.parameters(), lr=LR)
    schedule = nnlab.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=len(order))
    xs = nnlab.tensor(x)
    for rows in order:
        value = loss(model, xs[nnlab.tensor(rows)])
        opt.zero_grad()
        value.backward()
        opt.step()
        schedule.step()
    return model


def reconstruct(model: Autoencoder, x: np.ndarray) -> np.ndarray:
    """The model's reconstructions x̂ of the rows of ``x``."""
    with nnlab.no_grad():
        return model(nnlab.tensor(x)).numpy()


def codes(model: Autoencoder, x: np.ndarray) -> np.ndarray:
    """The codes h = f(x) of the rows of ``x``."""
    with nnlab.no_grad():
        return model.encode(nnlab.tensor(x)).numpy()


def mse(estimate: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error per pixel."""
    return float(((estimate - target) ** 2).mean())


def psnr(estimate: np.ndarray, clean: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for pixels in [0, 1]: 10·log10(1 / MSE)."""
    return float(10 * np.log10(1.0 / mse(estimate, clean)))


def spread(values: list[float]) -> str:
    """'mean ± std' of a measurement over seeds, for the tables."""
    return f"{np.mean(values):.4g} ± {np.std(values):.2g}"


@experiment(
    "autoencoder-vs-pca",
    answers=["dimensionality-reduction", "autoencoders"],
    quick=dict(code_sizes=[2, 8], hidden=[64], steps=1000, n_seeds=2),
    full=dict(code_sizes=[2, 4, 8, 16], hidden=[128, 64], steps=4000, n_seeds=3),
)
def autoencoder_vs_pca(
    run: Run, code_sizes: list[int], hidden: list[int], steps: int, n_seeds: int
) -> None:
    """Does a neural network compress digits better than PCA at the same code size?"""
    arms = ("pca", "linear", "nonlinear")
    err = {(arm, k): [] for arm in arms for k in code_sizes}
    angle = {k: [] for k in code_sizes}
    gap = {k: [] for k in code_sizes}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x_train, _, x_test, _ = digit_split(rng)
        # PCA centres the data; the autoencoders get the same centred pixels, so that the
        # linear one is PCA's model exactly (the error is the same in either coordinates).
        centre = x_train.mean(0)
        x_train, x_test = x_train - centre, x_test - centre
        order = rng.integers(0, len(x_train), size=(steps, BATCH))
        pca = PCA().fit(x_train)
        for k in code_sizes:
            top = pca.components_[:k]  # (k, 64): PCA with k components
            err["pca", k].append(mse(x_test @ top.T @ top, x_test))
            # How much more variance the k-th component has than the next: near 1, the
            # error hardly changes when the subspace turns between them.
            gap[k].append(float(pca.explained_variance_[k - 1] / pca.explained_variance_[k]))
            nnlab.manual_seed(seed)
            linear = fit(Autoencoder(64, k), x_train, order, reconstruction_loss)
            err["linear", k].append(mse(reconstruct(linear, x_test), x_test))
            # The linear decoder's columns should span PCA's top-k subspace.
            columns = linear.decoder[0].weight.detach().numpy()
            angles = scipy.linalg.subspace_angles(columns, top.T)
            angle[k].append(float(np.degrees(angles.max())))
            nnlab.manual_seed(seed)
            deep = fit(Autoencoder(64, k, hidden), x_train, order, reconstruction_loss)
            err["nonlinear", k].append(mse(reconstruct(deep, x_test), x_test))

    mean = {key: float(np.mean(values)) for key, values in err.items()}
    rows = []
    for k in code_sizes:
        for arm in arms:
            run.number(f"{arm}_mse_code{k}", round(mean[arm, k], 6))
        run.number(f"linear_pca_max_angle_deg_code{k}", round(float(np.mean(angle[k])), 3))
        rows.append(
            (k, spread(err["pca", k]), spread(err["linear", k]), spread(err["nonlinear", k]),
             spread(angle[k]), round(float(np.mean(gap[k])), 3))
        )  # fmt: skip
    run.table(
        f"Held-out reconstruction MSE per pixel (mean ± std over {n_seeds} seeds)",
        ("code size", "PCA", "linear AE", f"non-linear AE {hidden}",
         "largest angle linear AE / PCA (°)", "variance ratio λk/λk+1"),
        rows,
    )  # fmt: skip

    fig = run.figure("mse", "Held-out reconstruction error against code size")
    ax = fig.subplots()
    for arm, style in zip(arms, ("o-", "s--", "^-")):
        ys = [mean[arm, k] for k in code_sizes]
        es = [float(np.std(err[arm, k])) for k in code_sizes]
        ax.errorbar(code_sizes, ys, yerr=es, fmt=style, capsize=3, label=arm)
    ax.set_xscale("log", base=2)
    ax.set_xticks(code_sizes, [str(k) for k in code_sizes])
    ax.set_xlabel("code size")
    ax.set_ylabel("held-out MSE per pixel")
    ax.legend()

    deviation = max(abs(mean["linear", k] / mean["pca", k] - 1) for k in code_sizes)
    run.claim(
        "A linear autoencoder's held-out error is within 5% of PCA's at every code size",
        deviation <= 0.05,
        f"largest relative difference of the mean errors {deviation:.2%}",
        quick=False,
    )
    smallest = code_sizes[0]
    worst_angle = max(angle[smallest])
    run.claim(
        f"At code size {smallest} the linear autoencoder's decoder spans PCA's subspace "
        "(largest principal angle under 10 degrees on every seed)",
        worst_angle < 10.0,
        f"largest angle {worst_angle:.2f}°",
        quick=False,
    )
    gain = 1 - max(err["nonlinear", smallest]) / min(err["pca", smallest])
    run.claim(
        f"At code size {smallest} the non-linear autoencoder's held-out error is at least 10% "
        "below PCA's on every seed",
        gain >= 0.10,
        f"worst-case reduction {gain:.1%}",
        quick=False,
    )
    largest = code_sizes[-1]
    run.answer(
        f"An autoencoder compresses by reconstructing its input through a narrow code. "
        f"Without non-linearities it is PCA's model: its held-out error was within "
        f"{deviation:.1%} of PCA's at every code size. Its subspace approached "
        f"PCA's more slowly than its error: at code size {smallest} the largest principal "
        f"angle was {np.mean(angle[smallest]):.1f}° on average (worst seed {worst_angle:.1f}°), "
        f"where component {smallest} has only {np.mean(gap[smallest]):.2f}× the variance of "
        f"component {smallest + 1}, so turning between them barely changes the error. With "
        f"hidden layers {hidden} the network can bend: at code size {smallest} its held-out "
        f"error was {mean['nonlinear', smallest]:.4f} against PCA's "
        f"{mean['pca', smallest]:.4f}; at code size {largest}, {mean['nonlinear', largest]:.4f} "
        f"against {mean['pca', largest]:.4f}."
    )


@experiment(
    "autoencoder-anomalies",
    answers=["autoencoders"],
    quick=dict(anomaly_classes=[0, 7], code_size=8, steps=800, n_seeds=2),
    full=dict(anomaly_classes=list(range(10)), code_size=8, steps=3000, n_seeds=3),
)
def autoencoder_anomalies(
    run: Run, anomaly_classes: list[int], code_size: int, steps: int, n_seeds: int
) -> None:
    """Can an autoencoder's reconstruction error flag digits of a class it never saw?"""
    auc = {(arm, c): [] for arm in ("ae", "pca") for c in anomaly_classes}
    example = None
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x_train, y_train, x_test, y_test = digit_split(rng)
        for c in anomaly_classes:
            normal = x_train[y_train != c]  # the anomaly class is never trained on
            order = rng.integers(0, len(normal), size=(steps, BATCH))
            nnlab.manual_seed(seed)
            model = fit(Autoencoder(64, code_size, [64]), normal, order, reconstruction_loss)
            is_anomaly = (y_test == c).astype(np.int64)
            score = ((reconstruct(model, x_test) - x_test) ** 2).mean(1)
            auc["ae", c].append(float(roc_auc_score(is_anomaly, score)))
            pca = PCA(code_size).fit(normal)
            pca_score = ((pca.inverse_transform(pca.transform(x_test)) - x_test) ** 2).mean(1)
            auc["pca", c].append(float(roc_auc_score(is_anomaly, pca_score)))
            if example is None:
                example = (c, score, is_anomaly)

    rows = []
    for c in anomaly_classes:
        run.number(f"ae_auc_class{c}", round(float(np.mean(auc["ae", c])), 4))
        rows.append((c, spread(auc["ae", c]), spread(auc["pca", c])))
    ae_all = [v for c in anomaly_classes for v in auc["ae", c]]
    pca_all = [v for c in anomaly_classes for v in auc["pca", c]]
    ae_mean = run.number("ae_auc_mean", round(float(np.mean(ae_all)), 4))
    pca_mean = run.number("pca_auc_mean", round(float(np.mean(pca_all)), 4))
    run.table(
        f"ROC-AUC of the reconstruction error, anomaly = the held-out class "
        f"(mean ± std over {n_seeds} seeds; code size {code_size})",
        ("held-out class", "autoencoder", "PCA"),
        rows,
    )

    fig = run.figure("anomalies", "Reconstruction error of normal and never-seen digits")
    left, right = fig.subplots(1, 2)
    c, score, is_anomaly = example
    bins = np.linspace(0, score.max(), 40)
    left.hist(score[is_anomaly == 0], bins=bins, alpha=0.6, density=True, label="trained classes")
    left.hist(score[is_anomaly == 1], bins=bins, alpha=0.6, density=True, label=f"class {c}")
    left.set_xlabel("reconstruction MSE (first seed)")
    left.set_ylabel("density")
    left.legend()
    xs = np.arange(len(anomaly_classes))
    for offset, arm in ((-0.15, "ae"), (0.15, "pca")):
        means = [np.mean(auc[arm, c]) for c in anomaly_classes]
        stds = [np.std(auc[arm, c]) for c in anomaly_classes]
        right.bar(xs + offset, means, width=0.3, yerr=stds, label=arm)
    right.axhline(0.5, color="grey", linestyle=":", label="chance")
    right.set_xticks(xs, [str(c) for c in anomaly_classes])
    right.set_xlabel("held-out (anomaly) class")
    right.set_ylabel("ROC-AUC")
    right.set_ylim(0, 1)
    right.legend(fontsize="small", loc="lower right")

    run.claim(
        "Reconstruction error separates a never-seen digit class from the trained ones: "
        "ROC-AUC averaged over the held-out classes and seeds is at least 0.75",
        ae_mean >= 0.75,
        f"mean ROC-AUC {ae_mean:.3f}",
        quick=False,
    )
    worst = min(float(np.mean(auc["ae", c])) for c in anomaly_classes)
    run.claim(
        "Every held-out class is detected better than chance (mean ROC-AUC above 0.5)",
        worst > 0.5,
        f"lowest per-class mean ROC-AUC {worst:.3f}",
        quick=False,
    )
    easiest = max(anomaly_classes, key=lambda c: np.mean(auc["ae", c]))
    hardest = min(anomaly_classes, key=lambda c: np.mean(auc["ae", c]))
    run.answer(
        f"Trained only on the other classes, an autoencoder with a {code_size}-unit code "
        f"reconstructs a never-seen class worse, so its error is an anomaly score: ROC-AUC "
        f"{ae_mean:.3f} on average over {len(anomaly_classes)} held-out classes and "
        f"{n_seeds} seeds (PCA with the same code size: {pca_mean:.3f}). It ranged from "
        f"{np.mean(auc['ae', hardest]):.3f} (class {hardest}) to "
        f"{np.mean(auc['ae', easiest]):.3f} (class {easiest})."
    )


@experiment(
    "denoising-autoencoder",
    answers=["autoencoders"],
    quick=dict(noise_std=0.3, code_size=32, hidden=[128], steps=800, n_seeds=2),
    full=dict(noise_std=0.3, code_size=32, hidden=[128], steps=4000, n_seeds=3),
)
def denoising_autoencoder(
    run: Run, noise_std: float, code_size: int, hidden: list[int], steps: int, n_seeds: int
) -> None:
    """How much noise does a denoising autoencoder remove from digits it never saw?"""
    arms = ("noisy input", "plain AE", "denoising AE")
    db = {arm: [] for arm in arms}
    shown = None
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x_train, _, x_test, _ = digit_split(rng)
        order = rng.integers(0, len(x_train), size=(steps, BATCH))
        # One fixed noisy copy of the held-out digits, the same for every arm.
        noisy = (x_test + noise_std * rng.standard_normal(x_test.shape)).astype(np.float32)

        def denoising_loss(model: Autoencoder, batch: nnlab.Tensor) -> nnlab.Tensor:
            # Fresh noise at every step, from nnlab's generator (seeded below).
            return F.mse_loss(model(gaussian_noise(batch, noise_std)), batch)

        nnlab.manual_seed(seed)
        plain = fit(Autoencoder(64, code_size, hidden), x_train, order, reconstruction_loss)
        nnlab.manual_seed(seed)
        dae = fit(Autoencoder(64, code_size, hidden), x_train, order, denoising_loss)
        outputs = {"noisy input": noisy, "plain AE": reconstruct(plain, noisy),
                   "denoising AE": reconstruct(dae, noisy)}  # fmt: skip
        for arm in arms:
            db[arm].append(psnr(outputs[arm], x_test))
        if shown is None:
            shown = [x_test[:8]] + [outputs[arm][:8] for arm in arms]

    for arm in arms:
        run.number(f"psnr_{arm.replace(' ', '_')}", round(float(np.mean(db[arm])), 3))
    run.table(
        f"PSNR (dB) against the clean held-out digits, noise σ = {noise_std} "
        f"(mean ± std over {n_seeds} seeds)",
        ("images", "PSNR dB"),
        [(arm, spread(db[arm])) for arm in arms],
    )

    fig = run.figure(
        "denoised", "Held-out digits: clean, noisy, plain AE, denoising AE (first seed)",
        width=6.4, height=3.6,
    )  # fmt: skip
    grid = fig.subplots(4, 8)
    for r, (label, images) in enumerate(zip(("clean",) + arms, shown)):
        for i in range(8):
            grid[r, i].imshow(images[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            grid[r, i].set_xticks([])
            grid[r, i].set_yticks([])
        grid[r, 0].set_ylabel(label, fontsize=7)

    gain = [d - n for d, n in zip(db["denoising AE"], db["noisy input"])]
    over_plain = [d - p for d, p in zip(db["denoising AE"], db["plain AE"])]
    run.claim(
        "The denoising autoencoder's output is closer to the clean digits than its noisy "
        "input on every seed",
        min(gain) > 0,
        f"smallest PSNR gain {min(gain):.2f} dB",
    )
    run.claim(
        "Denoising raises the PSNR of noisy held-out digits by at least 5 dB on every seed",
        min(gain) >= 5.0,
        f"smallest gain {min(gain):.2f} dB",
        quick=False,
    )
    run.claim(
        "Trained on corrupted inputs, the autoencoder denoises at least 1 dB better than the "
        "same autoencoder trained on clean digits, on every seed",
        min(over_plain) >= 1.0,
        f"smallest advantage {min(over_plain):.2f} dB",
        quick=False,
    )
    run.answer(
        f"Trained to rebuild clean digits from copies with Gaussian noise σ = {noise_std}, "
        f"the autoencoder took noisy held-out digits from {np.mean(db['noisy input']):.2f} dB "
        f"to {np.mean(db['denoising AE']):.2f} dB PSNR (mean over {n_seeds} seeds). The same "
        f"network trained on clean digits reached {np.mean(db['plain AE']):.2f} dB on the "
        "noisy inputs: the corruption during training is what teaches it to remove noise."
    )


@experiment(
    "sparse-autoencoder",
    answers=["autoencoders"],
    quick=dict(code_size=64, steps=500, n_seeds=2, l1_weight=1e-3, kl_weight=1e-2),
    full=dict(code_size=64, steps=4000, n_seeds=3, l1_weight=1e-3, kl_weight=1e-2),
)
def sparse_autoencoder(
    run: Run, code_size: int, steps: int, n_seeds: int, l1_weight: float, kl_weight: float
) -> None:
    """Does a sparsity penalty make most code units of an autoencoder silent?"""
    target, near_zero = 0.05, 0.01
    arms = {
        # name: (code activation, penalty on the code)
        "relu": ("relu", None),
        "relu + L1": ("relu", lambda h: l1_weight * l1_sparsity_penalty(h)),
        "sigmoid": ("sigmoid", None),
        "sigmoid + KL": ("sigmoid", lambda h: kl_weight * kl_sparsity_penalty(h, target)),
    }
    zero = {arm: [] for arm in arms}
    active = {arm: [] for arm in arms}
    err = {arm: [] for arm in arms}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x_train, _, x_test, _ = digit_split(rng)
        order = rng.integers(0, len(x_train), size=(steps, BATCH))
        for arm, (code_activation, penalty) in arms.items():
            nnlab.manual_seed(seed)
            model = Autoencoder(64, code_size, [128], code_activation=code_activation)
            fit(model, x_train, order, code_penalised_loss(penalty))
            h = codes(model, x_test)
            zero[arm].append(float((np.abs(h) < near_zero).mean()))
            active[arm].append(float(h.mean()))
            err[arm].append(mse(reconstruct(model, x_test), x_test))

    for arm in arms:
        key = arm.replace(" + ", "_").lower()
        run.number(f"near_zero_{key}", round(float(np.mean(zero[arm])), 4))
        run.number(f"mean_activation_{key}", round(float(np.mean(active[arm])), 4))
        run.number(f"mse_{key}", round(float(np.mean(err[arm])), 6))
    run.table(
        f"Held-out codes ({code_size} units; mean ± std over {n_seeds} seeds)",
        ("code", f"fraction |h| < {near_zero}", "mean activation", "reconstruction MSE"),
        [(arm, spread(zero[arm]), spread(active[arm]), spread(err[arm])) for arm in arms],
    )

    fig = run.figure("sparsity", "Fraction of near-zero code entries on held-out digits")
    ax = fig.subplots()
    for i, arm in enumerate(arms):
        ax.scatter([i] * n_seeds, zero[arm], color="C3" if "+" in arm else "C0")
    ax.set_xticks(range(len(arms)), list(arms))
    ax.set_ylabel(f"fraction of code entries with |h| < {near_zero}")
    ax.set_ylim(0, 1)

    l1_gain = [s - p for s, p in zip(zero["relu + L1"], zero["relu"])]
    run.claim(
        "An L1 penalty on a ReLU code leaves more code entries at (near) zero on every seed",
        min(l1_gain) > 0,
        f"smallest increase {min(l1_gain):.3f}",
    )
    run.claim(
        "The L1 penalty raises the fraction of near-zero code entries by at least 0.25 on "
        "every seed",
        min(l1_gain) >= 0.25,
        f"smallest increase {min(l1_gain):.3f}",
        quick=False,
    )
    kl_active = active["sigmoid + KL"]
    run.claim(
        f"The KL penalty brings the sigmoid code's mean activation within a factor 2 of the "
        f"target {target} on every seed",
        all(target / 2 <= a <= 2 * target for a in kl_active),
        f"mean activations {', '.join(f'{a:.3f}' for a in kl_active)}",
        quick=False,
    )
    cost = min(
        np.mean(err[sparse]) / np.mean(err[dense])
        for sparse, dense in (("relu + L1", "relu"), ("sigmoid + KL", "sigmoid"))
    )
    run.claim(
        "Sparsity costs reconstruction: each penalised code's held-out error is higher than "
        "the unpenalised one's",
        cost > 1.0,
        f"smallest error ratio penalised / unpenalised {cost:.3f}",
        quick=False,
    )
    run.answer(
        f"With an L1 penalty (weight {l1_weight}) on a {code_size}-unit ReLU code, "
        f"{np.mean(zero['relu + L1']):.1%} of the held-out code entries were below "
        f"{near_zero}, against {np.mean(zero['relu']):.1%} without it. The KL penalty "
        f"(target {target}, weight {kl_weight}) moved the sigmoid code's mean activation "
        f"from {np.mean(active['sigmoid']):.3f} to {np.mean(kl_active):.3f}, yet only "
        f"{np.mean(zero['sigmoid + KL']):.1%} of its entries fell below {near_zero}: it sets "
        "each unit's average activation, not how many units are off for a given input. "
        "The price is "
        f"reconstruction: held-out MSE {np.mean(err['relu + L1']):.4f} against "
        f"{np.mean(err['relu']):.4f} (L1) and {np.mean(err['sigmoid + KL']):.4f} against "
        f"{np.mean(err['sigmoid']):.4f} (KL)."
    )


def jacobian_norms(model: Autoencoder, x: np.ndarray) -> np.ndarray:
    """‖∂h/∂x‖²_F of the encoder at each row of ``x``."""
    xs = nnlab.tensor(x).requires_grad_()
    return contractive_penalty(model.encode(xs), xs, reduction="none").detach().numpy()


@experiment(
    "contractive-autoencoder",
    answers=["autoencoders"],
    quick=dict(code_size=8, steps=200, n_seeds=2, weight=0.01, probe_std=0.05),
    full=dict(code_size=8, steps=2000, n_seeds=3, weight=0.01, probe_std=0.05),
)
def contractive_autoencoder(
    run: Run, code_size: int, steps: int, n_seeds: int, weight: float, probe_std: float
) -> None:
    """Does penalising the encoder's Jacobian make the code insensitive to small input changes?"""
    arms = ("plain", "contractive")
    jac = {arm: [] for arm in arms}
    moved = {arm: [] for arm in arms}
    err = {arm: [] for arm in arms}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x_train, _, x_test, _ = digit_split(rng)
        order = rng.integers(0, len(x_train), size=(steps, BATCH))
        probe = (x_test + probe_std * rng.standard_normal(x_test.shape)).astype(np.float32)

        def contractive_loss(model: Autoencoder, batch: nnlab.Tensor) -> nnlab.Tensor:
            x = batch.detach().requires_grad_()  # the penalty differentiates h with respect to x
            h = model.encode(x)
            return F.mse_loss(model.decode(h), batch) + weight * contractive_penalty(h, x)

        for arm, loss in zip(arms, (reconstruction_loss, contractive_loss)):
            nnlab.manual_seed(seed)
            model = Autoencoder(64, code_size, [64], code_activation="sigmoid")
            fit(model, x_train, order, loss)
            jac[arm].append(float(jacobian_norms(model, x_test).mean()))
            # How far the code moves when the input moves by small Gaussian noise.
            shift = np.linalg.norm(codes(model, probe) - codes(model, x_test), axis=1)
            moved[arm].append(float(shift.mean()))
            err[arm].append(mse(reconstruct(model, x_test), x_test))

    for arm in arms:
        run.number(f"jacobian_sq_norm_{arm}", round(float(np.mean(jac[arm])), 5))
        run.number(f"code_shift_{arm}", round(float(np.mean(moved[arm])), 5))
        run.number(f"mse_{arm}", round(float(np.mean(err[arm])), 6))
    run.table(
        f"Held-out digits (code size {code_size}, penalty weight {weight}; mean ± std over "
        f"{n_seeds} seeds)",
        ("encoder", "‖∂h/∂x‖²_F", f"code shift under noise σ = {probe_std}", "MSE"),
        [(arm, spread(jac[arm]), spread(moved[arm]), spread(err[arm])) for arm in arms],
    )

    fig = run.figure("contraction", "Encoder sensitivity against reconstruction error")
    ax = fig.subplots()
    for arm, colour in zip(arms, ("C0", "C3")):
        ax.scatter(err[arm], jac[arm], color=colour, label=arm)
    ax.set_xlabel("held-out reconstruction MSE")
    ax.set_ylabel("mean ‖∂h/∂x‖²_F on held-out digits")
    ax.set_yscale("log")
    ax.legend()

    shrink = [c / p for c, p in zip(jac["contractive"], jac["plain"])]
    steadier = [c / p for c, p in zip(moved["contractive"], moved["plain"])]
    run.claim(
        "The contractive penalty lowers the encoder's held-out Jacobian norm on every seed",
        max(shrink) < 1.0,
        f"largest ratio contractive / plain {max(shrink):.3f}",
    )
    run.claim(
        "The contractive penalty at least halves the held-out ‖∂h/∂x‖²_F on every seed",
        max(shrink) <= 0.5,
        f"largest ratio contractive / plain {max(shrink):.3f}",
        quick=False,
    )
    run.claim(
        f"Its code moves less under input noise of σ = {probe_std} on every seed",
        max(steadier) < 1.0,
        f"largest ratio of mean code shifts {max(steadier):.3f}",
        quick=False,
    )
    run.answer(
        f"A contractive autoencoder adds {weight}·‖∂h/∂x‖²_F (computed by double backward) to "
        f"the reconstruction error. On held-out digits it brought the encoder's squared "
        f"Jacobian norm from {np.mean(jac['plain']):.3g} to {np.mean(jac['contractive']):.3g} "
        f"and the code's shift under input noise σ = {probe_std} from "
        f"{np.mean(moved['plain']):.3g} to {np.mean(moved['contractive']):.3g}, for a "
        f"reconstruction error of {np.mean(err['contractive']):.4f} against "
        f"{np.mean(err['plain']):.4f} (mean over {n_seeds} seeds)."
    )
