"""GAN, DDPM and VAE digits scored by one judge, so that their Fréchet distances compare.

``gans.py`` and ``diffusion.py`` each train their own digits classifier as the judge, at
their own resolution, so the Fréchet distances they publish are on different feature
spaces. Here one judge per seed (``diffusion.train_classifier``, an MLP on 8×8 digits in
[-1, 1]) scores the samples of three generative families trained on the same training
digits with their own modules' recipes:

* the GAN: the MLP WGAN-GP of ``gans.py`` (the recipe that covered every class there, five
  critic steps per generator step), trained by ``gans.train_gan`` on the 8×8 digits in
  [-1, 1]: an MLP generator does not care about the resolution, and training it at 8×8
  spares down-sampling its 16×16 samples, which would blur them but not the others;
* the DDPM of ``diffusion.py`` (``diffusion.train_ddpm``), sampled with all T steps;
* the VAE of ``vae.py`` (``vae.train_vae``, β = 1, Bernoulli decoder) on the same digits
  in [0, 1]; its prior samples E[x | z] are mapped back to [-1, 1] by 2x − 1.

Every family's samples and the reference rows (real training digits, the floor; a
Gaussian fitted to the pixels; uniform noise) are scored against the same real held-out
digits. Each family also reports how many network evaluations one sample costs, counted
by a forward hook on the network that draws it.
"""

from __future__ import annotations

from functools import partial

import numpy as np

import nnlab
from experiments.diffusion import digits_in_unit_range, judge, train_classifier, train_ddpm
from experiments.gans import LATENT, train_gan
from experiments.lab.core import Run, experiment
from experiments.vae import HIDDEN, train_vae
from nnlab import nn
from nnlab.metrics.generative import classifier_sample_scores, frechet_distance
from nnlab.models.diffusion import DDPMScheduler, DenoisingMLP, ddpm_sample
from nnlab.models.gan import MLPDiscriminator, MLPGenerator
from nnlab.models.vae import VAE, kl_warmup

N_TRAIN = 1300  # as in diffusion-digits: the other 497 digits are held out
FAMILIES = ("GAN (WGAN-GP)", "DDPM", "VAE")
REFERENCES = ("real training digits", "Gaussian fit to the pixels", "uniform noise")


class EvaluationCounter:
    """Counts the rows a module's forward sees, through a forward hook: after drawing n
    samples, ``rows / n`` is the number of network evaluations one sample cost."""

    def __init__(self, module: nn.Module) -> None:
        self.rows = 0
        self.remove = module.register_forward_hook(self.count)

    def count(self, module: nn.Module, inputs: tuple, output: nnlab.Tensor) -> None:
        self.rows += inputs[0].shape[0]


def sample_gan(run_seed: int, x: np.ndarray, steps: int, n: int) -> tuple[np.ndarray, float]:
    """Samples of the MLP WGAN-GP trained for ``steps`` critic steps, and network
    evaluations per sample."""
    order = np.random.default_rng([run_seed, 3]).integers(0, len(x), size=(steps, 64))
    nnlab.manual_seed(run_seed)
    generator, critic = MLPGenerator(LATENT, x.shape[1]), MLPDiscriminator(x.shape[1])
    train_gan(generator, critic, x, np.zeros(len(x), np.int64), order, "wgan_gp", d_steps=5)
    counter = EvaluationCounter(generator)
    with nnlab.no_grad():
        # training mode, as gans.generate: batch norm uses this large batch's statistics
        samples = generator(nnlab.randn(n, LATENT, generator=nnlab.Generator(run_seed)))
    counter.remove()
    return samples.numpy(), counter.rows / n


def sample_ddpm(
    run_seed: int, x: np.ndarray, steps: int, n: int, T: int, hidden: int, blocks: int
) -> tuple[np.ndarray, float]:
    """Samples of the DDPM (all T reverse steps) trained for ``steps`` steps, and network
    evaluations per sample."""
    order = np.random.default_rng([run_seed, 4]).integers(0, len(x), size=(steps, 128))
    scheduler = DDPMScheduler(T, beta_schedule="squaredcos_cap_v2")
    nnlab.manual_seed(run_seed)
    model = DenoisingMLP(x.shape[1], hidden_size=hidden, num_blocks=blocks)
    train_ddpm(model, scheduler, x, order, lr=2e-3)
    counter = EvaluationCounter(model)
    samples = ddpm_sample(model, scheduler, (n, x.shape[1]), T, nnlab.Generator(run_seed))
    counter.remove()
    return samples.numpy(), counter.rows / n


def sample_vae(
    run_seed: int, x: np.ndarray, steps: int, n: int, latent_dim: int
) -> tuple[np.ndarray, float]:
    """Prior samples E[x | z] of the β = 1 VAE trained for ``steps`` steps on ``x`` mapped
    to [0, 1], mapped back to [-1, 1]; and network evaluations per sample."""
    order = np.random.default_rng([run_seed, 5]).integers(0, len(x), size=(steps, 64))
    nnlab.manual_seed(run_seed)
    model = VAE(x.shape[1], latent_dim, hidden=HIDDEN)
    train_vae(model, (x + 1) / 2, order, partial(kl_warmup, warmup_steps=0, beta=1.0))
    counter = EvaluationCounter(model.decoder)
    samples = model.sample(n, generator=nnlab.Generator(run_seed))
    counter.remove()
    return 2 * samples.numpy() - 1, counter.rows / n


def reference_samples(
    rng: np.random.Generator, x: np.ndarray, n_real: int, n: int
) -> dict[str, np.ndarray]:
    """Real training digits (``n_real`` of them), a Gaussian fitted to the training pixels
    (clipped to [-1, 1]) and uniform noise in [-1, 1]."""
    gaussian = rng.multivariate_normal(x.mean(0), np.cov(x.T), size=n)
    return {
        "real training digits": x[rng.choice(len(x), size=n_real, replace=False)],
        "Gaussian fit to the pixels": np.clip(gaussian, -1, 1).astype(np.float32),
        "uniform noise": rng.uniform(-1, 1, size=(n, x.shape[1])).astype(np.float32),
    }


def scores(
    classifier: nn.Sequential, images: np.ndarray, real_features: np.ndarray
) -> dict[str, float]:
    """The judge's Fréchet distance to the real held-out features, its mean confidence, and
    the class coverage, a class counting when it gets a quarter of its fair share (10%)."""
    features, probabilities = judge(classifier, images)
    summary = classifier_sample_scores(probabilities, min_count=int(np.ceil(len(images) / 40)))
    return {
        "fd": frechet_distance(features, real_features),
        "confidence": summary.mean_confidence,
        "coverage": summary.coverage,
    }


def image_grid(ax, images: np.ndarray, columns: int) -> None:
    """Draw ``images`` (N, 64 pixels in [-1, 1]) on one axis as a grid of 8×8 digits."""
    rows = int(np.ceil(len(images) / columns))
    canvas = np.ones((rows * 9 + 1, columns * 9 + 1))  # 1 is ink: dark frames between digits
    for k, image in enumerate(images):
        r, c = divmod(k, columns)
        canvas[r * 9 + 1 : r * 9 + 9, c * 9 + 1 : c * 9 + 9] = image.reshape(8, 8)
    ax.imshow(canvas, cmap="gray_r", vmin=-1, vmax=1)
    ax.set_axis_off()


@experiment(
    "generative-comparison",
    answers=["gans", "autoencoders"],
    quick=dict(clf_steps=300, gan_steps=250, ddpm_steps=400, vae_steps=300, T=50, hidden=128,
               blocks=2, n_samples=300, n_seeds=2),
    full=dict(clf_steps=1500, gan_steps=2000, ddpm_steps=3000, vae_steps=4000, T=200,
              hidden=256, blocks=3, n_samples=500, n_seeds=3),
)  # fmt: skip
def generative_comparison(
    run: Run,
    clf_steps: int,
    gan_steps: int,
    ddpm_steps: int,
    vae_steps: int,
    T: int,
    hidden: int,
    blocks: int,
    n_samples: int,
    n_seeds: int,
) -> None:
    """Which draws the more realistic digits, a GAN, a diffusion model or a VAE, when one
    judge scores them all?"""
    x, y = digits_in_unit_range()
    order = run.rng(0).permutation(len(x))
    train, test = order[:N_TRAIN], order[N_TRAIN:]
    x_train, y_train, x_test, y_test = x[train], y[train], x[test], y[test]
    rows = FAMILIES + REFERENCES
    results: dict[str, list[dict[str, float]]] = {name: [] for name in rows}
    evaluations: dict[str, list[float]] = {name: [] for name in FAMILIES}
    accuracy = []
    shown = {"real held-out digits": x_test[:40]}
    for seed in run.seeds(n_seeds):
        nnlab.manual_seed(seed)
        classifier = train_classifier(x_train, y_train, np.random.default_rng([seed, 1]), clf_steps)
        real_features, probabilities = judge(classifier, x_test)
        accuracy.append(float((probabilities.argmax(1) == y_test).mean()))
        drawn = {
            "GAN (WGAN-GP)": sample_gan(seed, x_train, gan_steps, n_samples),
            "DDPM": sample_ddpm(seed, x_train, ddpm_steps, n_samples, T, hidden, blocks),
            "VAE": sample_vae(seed, x_train, vae_steps, n_samples, latent_dim=8),
        }
        for name, (images, per_sample) in drawn.items():
            results[name].append(scores(classifier, images, real_features))
            evaluations[name].append(per_sample)
            shown.setdefault(name, images[:40])
        rng = np.random.default_rng([seed, 2])
        for name, images in reference_samples(rng, x_train, len(test), n_samples).items():
            results[name].append(scores(classifier, images, real_features))

    def per_seed(name: str, key: str) -> np.ndarray:
        return np.array([r[key] for r in results[name]])

    fd = {name: per_seed(name, "fd") for name in rows}
    confidence = {name: per_seed(name, "confidence").mean() for name in rows}
    coverage = {name: per_seed(name, "coverage") for name in rows}
    cost = {name: float(np.mean(evaluations[name])) for name in FAMILIES}
    keys = {"GAN (WGAN-GP)": "gan", "DDPM": "ddpm", "VAE": "vae"}
    run.number("judge_accuracy_min", round(min(accuracy), 4))
    for name in rows:
        key = keys.get(name, name.split()[0].lower())
        run.number(f"{key}_fd", round(float(fd[name].mean()), 3))
        run.number(f"{key}_fd_std", round(float(fd[name].std()), 3))
        run.number(f"{key}_confidence", round(float(confidence[name]), 4))
        run.number(f"{key}_coverage", round(float(coverage[name].mean()), 3))
        if name in FAMILIES:
            run.number(f"{key}_evaluations_per_sample", cost[name])
    run.table(
        f"One judge for all samples: {n_seeds} seeds, {n_samples} samples per family against "
        f"{len(test)} real held-out digits",
        ("samples", "FD mean", "FD std", "FD worst seed", "confidence", "coverage (mean)",
         "network evaluations per sample"),
        [(name, round(float(fd[name].mean()), 3), round(float(fd[name].std()), 3),
          round(float(fd[name].max()), 3), round(float(confidence[name]), 3),
          round(float(coverage[name].mean()), 3), cost.get(name, ""))
         for name in rows],
    )  # fmt: skip

    fig = run.figure("samples", "Real held-out digits and each family's samples (first seed)",
                     width=9.6, height=4.4)  # fmt: skip
    for ax, (title, images) in zip(fig.subplots(1, len(shown)), shown.items()):
        image_grid(ax, images, columns=5)
        ax.set_title(title, fontsize=9)
    fig = run.figure("frechet", "Fréchet distance to real held-out digits under one judge")
    ax = fig.subplots()
    for i, name in enumerate(rows):
        ax.scatter([i] * n_seeds, fd[name], color="C0" if name in FAMILIES else "grey")
    ax.set_xticks(range(len(rows)), [name.replace(" ", "\n", 2) for name in rows], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("Fréchet distance (judge features), per seed")

    gan, ddpm, vae = (fd[name] for name in FAMILIES)
    real, gaussian, noise = (fd[name] for name in REFERENCES)
    run.claim(
        "The judge is a competent classifier: at least 90% held-out accuracy on every seed",
        min(accuracy) >= 0.9,
        f"lowest held-out accuracy {min(accuracy):.3f}",
    )
    run.claim(
        "Real training digits are the floor: on every seed their Fréchet distance is lower "
        "than every family's",
        all((real < fd[name]).all() for name in FAMILIES),
        f"real {np.round(real, 2).tolist()}, lowest family per seed "
        f"{np.round(np.minimum(np.minimum(gan, ddpm), vae), 2).tolist()}",
    )
    run.claim(
        "Every family is far from noise: on every seed each family's Fréchet distance is "
        "under a fifth of uniform noise's",
        all((fd[name] < noise / 5).all() for name in FAMILIES),
        f"worst family FD {max(fd[name].max() for name in FAMILIES):.2f}, "
        f"lowest noise FD {noise.min():.2f}",
        quick=False,
    )
    run.claim(
        "Every family beats a Gaussian fitted to the pixels: each family's mean Fréchet "
        "distance is lower than the Gaussian's",
        all(fd[name].mean() < gaussian.mean() for name in FAMILIES),
        ", ".join(f"{name} {fd[name].mean():.2f}" for name in FAMILIES)
        + f"; Gaussian {gaussian.mean():.2f}",
        quick=False,
    )
    run.claim(
        "The DDPM's Fréchet distance is lower than the GAN's on every seed",
        bool((ddpm < gan).all()),
        f"DDPM {np.round(ddpm, 2).tolist()}, GAN {np.round(gan, 2).tolist()}",
        quick=False,
    )
    run.claim(
        "The VAE's prior samples are the least convincing: the judge's mean confidence on "
        "them is lower than on the GAN's and on the DDPM's",
        confidence["VAE"] < min(confidence["GAN (WGAN-GP)"], confidence["DDPM"]),
        ", ".join(f"{name} {confidence[name]:.3f}" for name in FAMILIES),
        quick=False,
    )
    run.claim(
        "No family collapses: on every seed each family gives every one of the 10 classes at "
        "least a quarter of its fair share of samples",
        all((coverage[name] == 1).all() for name in FAMILIES),
        ", ".join(f"{name} lowest coverage {coverage[name].min():.1f}" for name in FAMILIES),
        quick=False,
    )
    ranked = sorted(FAMILIES, key=lambda name: fd[name].mean())
    run.answer(
        f"One digits classifier per seed (held-out accuracy at least {min(accuracy):.1%}) "
        f"scored every family's {n_samples} samples against the same {len(test)} real "
        f"held-out digits, over {n_seeds} seeds. Fréchet distances on its features: "
        + ", ".join(f"{name} {fd[name].mean():.1f} ± {fd[name].std():.1f}" for name in FAMILIES)
        + f"; real training digits {real.mean():.1f} (the floor), a Gaussian fitted to the "
        f"pixels {gaussian.mean():.1f}, uniform noise {noise.mean():.0f}. Ranked by mean "
        f"distance: {', '.join(ranked)}. The judge's mean confidence was "
        + ", ".join(f"{confidence[name]:.2f} ({name})" for name in FAMILIES)
        + ". What a sample costs, counted as network evaluations: the GAN's generator "
        f"{cost['GAN (WGAN-GP)']:g} and the VAE's decoder {cost['VAE']:g} per sample (one "
        f"pass from noise or code to digit), the DDPM's denoiser {cost['DDPM']:g} (one per "
        "reverse step). The VAE, an autoencoder whose code is pushed towards N(0, I), "
        "generates by decoding codes drawn from that prior."
    )
