"""What a variational autoencoder learns on the 8×8 digits, and when its code collapses.

A VAE (``nnlab.models.vae``) is fitted to the digits scaled to [0, 1] with a Bernoulli
decoder, by minimising the β-weighted negative ELBO. One experiment sweeps β and measures
the held-out ELBO and its two terms, draws samples from the prior, interpolates between
codes and maps a 2-D code; the other detects posterior collapse through the KL of each
latent dimension, with a large β, a stronger decoder and a KL warm-up.

In every comparison the arms of a seed start from the same encoder weights (the decoder's
too where it has the same shape), see the same mini-batches and draw the same ε; the
held-out ELBO averages the reconstruction over several ε drawn from one fixed generator
per seed, so it is the same estimate for every arm.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
from matplotlib.figure import Figure
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

import nnlab
from experiments.lab.core import Run, experiment
from nnlab.models.vae import VAE, elbo_loss, gaussian_kl, kl_warmup, reparameterize

BATCH = 64
LR = 1e-3
HIDDEN = (128,)
N_TEST = 397  # 1400 training digits
EVAL_SAMPLES = 8  # ε draws per held-out example in the ELBO estimate
ACTIVE_KL = 0.01  # nats: a latent dimension with less mean KL than this carries nothing


def unit_digits(run: Run) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The digits as float32 rows of 64 grey levels in [0, 1], split once for the run
    into training and held-out parts: (x_train, y_train, x_test, y_test)."""
    data = load_digits()
    x, y = (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)
    order = run.rng(0).permutation(len(x))
    test, train = order[:N_TEST], order[N_TEST:]
    return x[train], y[train], x[test], y[test]


def train_vae(
    model: VAE,
    x: np.ndarray,
    order: np.ndarray,
    beta_at: Callable[[int], float],
    probe: Callable[[], float] | None = None,
    every: int = 0,
) -> list[float]:
    """Adam on the negative ELBO with weight ``beta_at(step)`` on the KL, one step per
    row of ``order`` (the mini-batch indices). With a ``probe``, returns its value before
    the first step and after every ``every`` steps."""
    opt = nnlab.optim.Adam(model.parameters(), lr=LR)
    xs = nnlab.tensor(x)
    curve = [] if probe is None else [probe()]
    for step, rows in enumerate(order):
        loss = model.loss(xs[nnlab.tensor(rows)], beta=beta_at(step)).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if probe is not None and (step + 1) % every == 0:
            curve.append(probe())
    return curve


def held_out(model: VAE, x: np.ndarray, seed: int) -> dict[str, float | np.ndarray]:
    """The β = 1 negative ELBO on ``x`` in nats per digit, its reconstruction and KL terms,
    and the KL of each latent dimension averaged over the digits; the reconstruction is
    averaged over ``EVAL_SAMPLES`` draws of ε from a generator seeded with ``seed``."""
    generator = nnlab.Generator(seed)
    with nnlab.no_grad():
        xs = nnlab.tensor(x)
        mu, logvar = model.encode(xs)
        reconstruction = 0.0
        for _ in range(EVAL_SAMPLES):
            z = reparameterize(mu, logvar, generator=generator)
            reconstruction += elbo_loss(model.decode(z), xs, mu, logvar).reconstruction.item()
        kl_per_dim = gaussian_kl(mu, logvar).mean(0).numpy().astype(np.float64)
    reconstruction /= EVAL_SAMPLES
    kl = float(kl_per_dim.sum())
    return {
        "neg_elbo": reconstruction + kl,
        "reconstruction": reconstruction,
        "kl": kl,
        "kl_per_dim": kl_per_dim,
    }


def held_out_kl(model: VAE, x: np.ndarray) -> float:
    """The KL term of :func:`held_out` alone (it needs no sample), to follow it during
    training."""
    with nnlab.no_grad():
        mu, logvar = model.encode(nnlab.tensor(x))
        return gaussian_kl(mu, logvar).sum().item() / len(x)


def codes(model: VAE, x: np.ndarray) -> np.ndarray:
    """The posterior means μ(x), the code a VAE gives each digit."""
    with nnlab.no_grad():
        return model.encode(nnlab.tensor(x))[0].numpy()


def knn_accuracy(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y: np.ndarray) -> float:
    """Held-out accuracy of a 5-nearest-neighbour classifier on the codes."""
    return float(KNeighborsClassifier(5).fit(train, y_train).score(test, y))


def image_grid(ax, images: np.ndarray, rows: int, cols: int) -> None:
    """Draw ``rows × cols`` 8×8 images as one picture, separated by a pixel of white."""
    canvas = np.ones((rows * 9 - 1, cols * 9 - 1))
    for k, image in enumerate(images[: rows * cols]):
        r, c = divmod(k, cols)
        canvas[r * 9 : r * 9 + 8, c * 9 : c * 9 + 8] = 1.0 - image.reshape(8, 8)
    ax.imshow(canvas, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def spread(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


BETAS = (0.25, 0.5, 1.0, 2.0, 4.0)
INTERPOLATION_PAIRS = ((0, 6), (1, 7), (3, 8), (4, 9))


@experiment(
    "vae-digits",
    answers=["autoencoders", "dimensionality-reduction"],
    quick=dict(latent_dim=8, steps=300, n_seeds=2, n_samples=100),
    full=dict(latent_dim=8, steps=4000, n_seeds=3, n_samples=100),
)
def vae_digits(run: Run, latent_dim: int, steps: int, n_seeds: int, n_samples: int) -> None:
    """What does a variational autoencoder learn on digits, and what does β trade?"""
    x_train, y_train, x_test, y_test = unit_digits(run)
    judge = LogisticRegression(max_iter=2000).fit(x_train, y_train)
    run.number("judge_test_accuracy", round(judge.score(x_test, y_test), 4))

    terms = {beta: {"neg_elbo": [], "reconstruction": [], "kl": []} for beta in BETAS}
    coverage, confidence, knn_vae = [], [], []
    pca = PCA(2).fit(x_train)
    knn_pca_value = knn_accuracy(pca.transform(x_train), y_train, pca.transform(x_test), y_test)
    shown: dict[str, VAE] = {}
    for seed in run.seeds(n_seeds):
        order = np.random.default_rng(seed).integers(0, len(x_train), size=(steps, BATCH))
        for beta in BETAS:
            nnlab.manual_seed(seed)  # every β starts from the same weights and draws the same ε
            model = VAE(64, latent_dim, hidden=HIDDEN)
            train_vae(model, x_train, order, partial(kl_warmup, warmup_steps=0, beta=beta))
            result = held_out(model, x_test, seed)
            for key, values in terms[beta].items():
                values.append(result[key])
            if beta == 1.0:
                probs = judge.predict_proba(
                    model.sample(n_samples, generator=nnlab.Generator(seed)).numpy()
                )
                coverage.append(len(np.unique(probs.argmax(1))))
                confidence.append(float(probs.max(1).mean()))
                shown.setdefault("sampler", model)
        nnlab.manual_seed(seed)
        planar = VAE(64, 2, hidden=HIDDEN)
        train_vae(planar, x_train, order, partial(kl_warmup, warmup_steps=0, beta=1.0))
        knn_vae.append(knn_accuracy(codes(planar, x_train), y_train, codes(planar, x_test), y_test))
        shown.setdefault("planar", planar)

    rows = []
    for beta in BETAS:
        row = [beta]
        for key in ("neg_elbo", "reconstruction", "kl"):
            mean, std = spread(terms[beta][key])
            run.number(f"beta{beta:g}_{key}", round(mean, 3))
            row += [round(mean, 3), round(std, 3)]
        rows.append(tuple(row))
    run.table(
        f"Held-out terms in nats per digit, {n_seeds} seeds (latent {latent_dim}, Bernoulli)",
        ("beta", "-ELBO", "std", "reconstruction", "std", "KL", "std"),
        rows,
    )
    run.number("samples_classes_min", min(coverage))
    run.number("samples_confidence_mean", round(spread(confidence)[0], 4))
    run.number("knn_vae_2d_mean", round(spread(knn_vae)[0], 4))
    run.number("knn_vae_2d_min", round(min(knn_vae), 4))
    run.number("knn_pca_2d", round(knn_pca_value, 4))

    plot_beta_sweep(run.figure("beta", "Held-out -ELBO and its terms against β"), terms)
    fig = run.figure(
        "samples", "Digits decoded from 100 codes drawn from the prior (β = 1)", width=5, height=5
    )
    image_grid(fig.subplots(), shown["sampler"].sample(100, generator=nnlab.Generator(0)).numpy(),
               10, 10)  # fmt: skip
    plot_interpolations(
        run.figure(
            "interpolation",
            "Decoding the straight line between the codes of two held-out digits",
            height=2.6,
        ),
        shown["sampler"],
        x_test,
        y_test,
    )
    plot_latent_map(
        run.figure("latent-map", "Held-out digits in a 2-D VAE code and in 2-D PCA", width=9),
        codes(shown["planar"], x_test),
        pca.transform(x_test),
        y_test,
    )

    mean = {beta: {k: spread(v)[0] for k, v in terms[beta].items()} for beta in BETAS}
    best = min(BETAS, key=lambda b: mean[b]["neg_elbo"])
    run.claim(
        "Of the β values tried, β = 1 (the ELBO itself) gives the best mean held-out ELBO",
        best == 1.0,
        f"best β {best:g}; -ELBO by β: "
        + ", ".join(f"{b:g}: {mean[b]['neg_elbo']:.2f}" for b in BETAS),
        quick=False,
    )
    low, high = terms[BETAS[0]], terms[BETAS[-1]]
    run.claim(
        f"On every seed, β = {BETAS[-1]:g} has a smaller KL and a larger reconstruction term "
        f"than β = {BETAS[0]:g}",
        all(a > b for a, b in zip(low["kl"], high["kl"]))
        and all(a < b for a, b in zip(low["reconstruction"], high["reconstruction"])),
        f"KL {np.round(low['kl'], 2).tolist()} vs {np.round(high['kl'], 2).tolist()}, "
        f"reconstruction {np.round(low['reconstruction'], 2).tolist()} vs "
        f"{np.round(high['reconstruction'], 2).tolist()}",
    )
    kl_means = [mean[b]["kl"] for b in BETAS]
    rec_means = [mean[b]["reconstruction"] for b in BETAS]
    run.claim(
        "As β grows the mean KL term falls and the mean reconstruction term rises, at every step",
        all(np.diff(kl_means) < 0) and all(np.diff(rec_means) > 0),
        f"KL {np.round(kl_means, 2).tolist()}, reconstruction {np.round(rec_means, 2).tolist()}",
        quick=False,
    )
    run.claim(
        f"On every seed, {n_samples} samples from the prior (β = 1) cover at least 8 of the 10 "
        "classes, as judged by a classifier trained on real digits",
        min(coverage) >= 8,
        f"classes covered per seed {coverage}",
        quick=False,
    )
    run.claim(
        "A 2-D VAE code keeps the classes apart: 5-NN accuracy on held-out codes is at "
        "least 50% (chance 10%) on every seed",
        min(knn_vae) >= 0.5,
        f"5-NN accuracy per seed {np.round(knn_vae, 3).tolist()}",
        quick=False,
    )
    run.claim(
        "The 2-D VAE code separates the classes at least as well as the 2-D PCA projection",
        spread(knn_vae)[0] >= knn_pca_value,
        f"5-NN accuracy: VAE mean {spread(knn_vae)[0]:.3f}, PCA {knn_pca_value:.3f}",
        quick=False,
    )
    run.answer(
        f"A VAE encodes each digit as a Gaussian over a {latent_dim}-D code and decodes a "
        "sample of it, trained on reconstruction plus β·KL to the N(0, I) prior. On held-out "
        f"digits the negative ELBO was {mean[1.0]['neg_elbo']:.2f} nats at β = 1 "
        f"(reconstruction {mean[1.0]['reconstruction']:.2f}, KL {mean[1.0]['kl']:.2f}); β "
        f"= {BETAS[0]:g} spent {mean[BETAS[0]]['kl']:.2f} nats of KL for a reconstruction of "
        f"{mean[BETAS[0]]['reconstruction']:.2f}, β = {BETAS[-1]:g} only "
        f"{mean[BETAS[-1]]['kl']:.2f} nats for {mean[BETAS[-1]]['reconstruction']:.2f}; the "
        f"best ELBO came at β = {best:g}. Because the code space is filled by the prior, "
        f"decoding prior samples generates new digits: {n_samples} samples covered "
        f"{min(coverage)}-{max(coverage)} of the 10 classes (mean classifier confidence "
        f"{spread(confidence)[0]:.2f}), and a straight line between two codes decodes to "
        f"a path of digit-like images (figure). As dimensionality reduction, a 2-D code gave "
        f"a held-out 5-NN accuracy of "
        f"{spread(knn_vae)[0]:.1%} against {knn_pca_value:.1%} for 2-D PCA."
    )


def plot_beta_sweep(fig: Figure, terms: dict[float, dict[str, list[float]]]) -> None:
    """The three held-out terms against β, one panel each, every seed and the mean."""
    axes = fig.subplots(1, 3)
    labels = {"neg_elbo": "-ELBO (nats)", "reconstruction": "reconstruction", "kl": "KL"}
    for ax, (key, label) in zip(axes, labels.items()):
        for i, beta in enumerate(BETAS):
            values = terms[beta][key]
            ax.scatter([i] * len(values), values, color="C0", s=12)
            ax.scatter([i], [np.mean(values)], color="C3", marker="_", s=300)
        ax.set_xticks(range(len(BETAS)), [f"{b:g}" for b in BETAS])
        ax.set_xlabel("β")
        ax.set_title(label)


def plot_interpolations(fig: Figure, model: VAE, x: np.ndarray, y: np.ndarray) -> None:
    """One row per pair of classes: the first held-out digit of each class, and the
    decoded path between their codes."""
    steps = 10
    images = []
    for a, b in INTERPOLATION_PAIRS:
        x0, x1 = x[np.flatnonzero(y == a)[0]], x[np.flatnonzero(y == b)[0]]
        path = model.interpolate(nnlab.tensor(x0), nnlab.tensor(x1), steps=steps).numpy()
        images += [x0, *path, x1]
    image_grid(fig.subplots(), np.array(images), len(INTERPOLATION_PAIRS), steps + 2)


def plot_latent_map(fig: Figure, vae: np.ndarray, pca: np.ndarray, y: np.ndarray) -> None:
    """Scatter of held-out codes coloured by class, VAE and PCA side by side."""
    for ax, points, title in zip(fig.subplots(1, 2), (vae, pca), ("VAE μ(x)", "PCA")):
        for digit in range(10):
            inside = y == digit
            ax.scatter(*points[inside].T, s=6, color=f"C{digit}", label=str(digit))
        ax.set_title(title)
    ax.legend(markerscale=2, fontsize=7, loc="upper right")


ARMS = {
    "beta 1": dict(beta=1.0, warmup=False, decoder_hidden=None),
    "beta 1, KL warm-up": dict(beta=1.0, warmup=True, decoder_hidden=None),
    "beta 4": dict(beta=4.0, warmup=False, decoder_hidden=None),
    "beta 1, strong decoder": dict(beta=1.0, warmup=False, decoder_hidden=(512, 512)),
}


@experiment(
    "vae-posterior-collapse",
    answers=["autoencoders"],
    quick=dict(latent_dim=16, steps=300, n_seeds=2, log_every=100),
    full=dict(latent_dim=16, steps=4000, n_seeds=3, log_every=200),
)
def vae_posterior_collapse(
    run: Run, latent_dim: int, steps: int, n_seeds: int, log_every: int
) -> None:
    """When does a VAE stop using its latent code (posterior collapse), and does a KL
    warm-up prevent it?"""
    x_train, _, x_test, _ = unit_digits(run)
    active = {arm: [] for arm in ARMS}
    neg_elbo = {arm: [] for arm in ARMS}
    kl_dims = {arm: [] for arm in ARMS}
    curves = {arm: [] for arm in ("beta 1", "beta 1, KL warm-up")}
    for seed in run.seeds(n_seeds):
        order = np.random.default_rng(seed).integers(0, len(x_train), size=(steps, BATCH))
        for arm, setting in ARMS.items():
            nnlab.manual_seed(seed)  # same encoder weights, batches and ε for every arm
            model = VAE(64, latent_dim, hidden=HIDDEN, decoder_hidden=setting["decoder_hidden"])
            warmup = steps // 2 if setting["warmup"] else 0
            beta_at = partial(kl_warmup, warmup_steps=warmup, beta=setting["beta"])
            probe = partial(held_out_kl, model, x_test)
            curve = train_vae(model, x_train, order, beta_at, probe, log_every)
            if arm in curves:
                curves[arm].append(curve)
            result = held_out(model, x_test, seed)
            active[arm].append(int((result["kl_per_dim"] > ACTIVE_KL).sum()))
            neg_elbo[arm].append(result["neg_elbo"])
            kl_dims[arm].append(np.sort(result["kl_per_dim"])[::-1])

    rows = []
    for arm in ARMS:
        key = arm.replace(" ", "_").replace(",", "").replace("-", "_")
        run.number(f"{key}_active_units_mean", round(spread(active[arm])[0], 2))
        run.number(f"{key}_neg_elbo_mean", round(spread(neg_elbo[arm])[0], 3))
        rows.append(
            (arm, *np.round(spread(active[arm]), 2), min(active[arm]), max(active[arm]),
             *np.round(spread(neg_elbo[arm]), 3))
        )  # fmt: skip
    run.table(
        f"Active units (held-out KL > {ACTIVE_KL} nats) of {latent_dim}, {n_seeds} seeds",
        ("arm", "active mean", "std", "min", "max", "-ELBO mean", "std"),
        rows,
    )
    plot_kl_per_dimension(
        run.figure("kl-per-dimension", "Held-out KL of each latent unit, sorted", width=8),
        kl_dims,
    )
    plot_kl_curves(
        run.figure("kl-curve", "Held-out KL term during training, with and without warm-up"),
        curves,
        log_every,
        steps // 2,
    )

    mean_active = {arm: spread(v)[0] for arm, v in active.items()}
    mean_elbo = {arm: spread(v)[0] for arm, v in neg_elbo.items()}
    run.claim(
        "A large β collapses the posterior: on every seed β = 4 leaves at most half as many "
        "active units as β = 1",
        all(2 * b4 <= b1 for b4, b1 in zip(active["beta 4"], active["beta 1"])),
        f"active units β = 4 {active['beta 4']}, β = 1 {active['beta 1']}",
    )
    run.claim(
        "With β = 1 the code is used: at least 2 units are active on every seed",
        min(active["beta 1"]) >= 2,
        f"active units per seed {active['beta 1']}",
        quick=False,
    )
    run.claim(
        "A KL warm-up keeps at least as many active units as β = 1 from the first step "
        "(mean over seeds)",
        mean_active["beta 1, KL warm-up"] >= mean_active["beta 1"],
        f"{mean_active['beta 1, KL warm-up']:.2f} vs {mean_active['beta 1']:.2f}",
        quick=False,
    )
    run.claim(
        "A KL warm-up reaches a held-out ELBO at least as good as training without it "
        "(mean over seeds)",
        mean_elbo["beta 1, KL warm-up"] <= mean_elbo["beta 1"],
        f"-ELBO {mean_elbo['beta 1, KL warm-up']:.3f} vs {mean_elbo['beta 1']:.3f}",
        quick=False,
    )
    run.claim(
        "A stronger decoder uses no more active units than the standard one (mean over seeds)",
        mean_active["beta 1, strong decoder"] <= mean_active["beta 1"],
        f"{mean_active['beta 1, strong decoder']:.2f} vs {mean_active['beta 1']:.2f}",
        quick=False,
    )
    run.answer(
        "Posterior collapse is when q(z | x) equals the prior for every x, so a latent unit "
        f"carries no information; it shows as a held-out KL near 0 in that unit (here below "
        f"{ACTIVE_KL} nats). Of {latent_dim} units, β = 1 kept {mean_active['beta 1']:.1f} "
        f"active on average over {n_seeds} seeds (-ELBO {mean_elbo['beta 1']:.2f} nats), β = 4 "
        f"kept {mean_active['beta 4']:.1f}, a decoder with two 512-wide layers kept "
        f"{mean_active['beta 1, strong decoder']:.1f} (-ELBO "
        f"{mean_elbo['beta 1, strong decoder']:.2f}), and warming β up from 0 over the first "
        f"half of training kept {mean_active['beta 1, KL warm-up']:.1f} (-ELBO "
        f"{mean_elbo['beta 1, KL warm-up']:.2f}). The sorted KL per unit (figure) shows "
        "how many units each setting pays for and how far below the threshold the others sit."
    )


def plot_kl_per_dimension(fig: Figure, kl_dims: dict[str, list[np.ndarray]]) -> None:
    """One panel per arm: each unit's held-out KL, sorted, per seed (dots) and their mean
    (bars), on a log scale with the active-unit threshold drawn."""
    axes = fig.subplots(1, len(kl_dims), sharey=True)
    for ax, (arm, per_seed) in zip(axes, kl_dims.items()):
        values = np.maximum(np.array(per_seed), 1e-5)  # a log axis cannot show 0
        units = np.arange(1, values.shape[1] + 1)
        ax.bar(units, values.mean(0), color="C0", alpha=0.5)
        for row in values:
            ax.scatter(units, row, color="C0", s=6)
        ax.axhline(ACTIVE_KL, color="C3", linestyle=":", label=f"{ACTIVE_KL} nats")
        ax.set_yscale("log")
        ax.set_title(arm, fontsize=9)
        ax.set_xlabel("unit (sorted)")
    axes[0].set_ylabel("held-out KL (nats)")
    axes[0].legend(fontsize=7)


def plot_kl_curves(
    fig: Figure, curves: dict[str, list[list[float]]], log_every: int, warmup_end: int
) -> None:
    """The held-out KL term against the training step, each seed thin and the mean thick."""
    ax = fig.subplots()
    for i, (arm, per_seed) in enumerate(curves.items()):
        values = np.array(per_seed)
        steps = np.arange(values.shape[1]) * log_every
        for row in values:
            ax.plot(steps, row, color=f"C{i}", linewidth=0.6, alpha=0.5)
        ax.plot(steps, values.mean(0), color=f"C{i}", linewidth=2, label=arm)
    ax.axvline(warmup_end, color="grey", linestyle=":", label="end of warm-up")
    ax.set_xlabel("training step")
    ax.set_ylabel("held-out KL term (nats per digit)")
    ax.legend()
