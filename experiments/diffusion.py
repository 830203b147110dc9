"""Diffusion models, the other family of generative networks: a DDPM learns to predict the
noise that was added to data, and generates by removing noise step by step from pure noise.

Two experiments. On 2-D points drawn from eight Gaussians on a circle, where every sample
can be checked against the modes, a DDPM is trained once and then sampled with fewer and
fewer reverse steps. On 8×8 digits scaled to [-1, 1], samples are scored the way GAN
samples are: through a digits classifier trained separately, by the Fréchet distance of
its penultimate features to real held-out digits, its confidence and its class coverage;
a Gaussian fitted to the pixels and uniform noise are the baselines. Within a seed every
arm shares the trained model; each seed retrains from its own initialisation.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.metrics.generative import classifier_sample_scores, frechet_distance
from nnlab.models.diffusion import DDPMScheduler, DenoisingMLP, ddpm_sample, diffusion_loss

MODES = 8
MODE_STD = 0.1


def eight_gaussians(rng: np.random.Generator, n: int) -> np.ndarray:
    """n points from an equal mixture of 8 Gaussians (std 0.1) centred on the unit circle."""
    k = rng.integers(0, MODES, size=n)
    centres = np.stack([np.cos(2 * np.pi * k / MODES), np.sin(2 * np.pi * k / MODES)], axis=1)
    return (centres + MODE_STD * rng.standard_normal((n, 2))).astype(np.float32)


def mode_scores(samples: np.ndarray) -> tuple[float, np.ndarray]:
    """The fraction of samples within 3 std of their nearest mode, and how many such
    samples each mode received."""
    k = np.round(np.arctan2(samples[:, 1], samples[:, 0]) / (2 * np.pi / MODES)) % MODES
    centres = np.stack([np.cos(2 * np.pi * k / MODES), np.sin(2 * np.pi * k / MODES)], axis=1)
    near = np.linalg.norm(samples - centres, axis=1) < 3 * MODE_STD
    return float(near.mean()), np.bincount(k[near].astype(int), minlength=MODES)


def train_ddpm(
    model: nn.Module,
    scheduler: DDPMScheduler,
    x: np.ndarray,
    order: np.ndarray,
    lr: float,
) -> float:
    """Adam on the ε-prediction loss over the mini-batches whose indices are the rows of
    ``order``, the learning rate annealed to 0 on a cosine (so the final weights are not
    caught mid-jitter); the mean loss of the last tenth of the steps."""
    opt = nnlab.optim.Adam(model.parameters(), lr=lr)
    schedule = nnlab.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=len(order))
    xs = nnlab.tensor(x)
    losses = []
    for rows in order:
        loss = diffusion_loss(model, scheduler, xs[nnlab.tensor(rows)])
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
        losses.append(loss.item())
    return float(np.mean(losses[-max(len(losses) // 10, 1) :]))


@experiment(
    "diffusion-toy",
    answers=["gans"],
    quick=dict(T=100, hidden=64, blocks=2, steps=800, n_samples=800, step_counts=(5, 20, 100),
               n_seeds=2),
    full=dict(T=200, hidden=128, blocks=3, steps=4000, n_samples=2000,
              step_counts=(5, 10, 25, 50, 100, 200), n_seeds=3),
)  # fmt: skip
def diffusion_toy(
    run: Run,
    T: int,
    hidden: int,
    blocks: int,
    steps: int,
    n_samples: int,
    step_counts: tuple[int, ...],
    n_seeds: int,
) -> None:
    """Does a diffusion model cover every mode of a mixture, and how many sampling steps
    does it need?"""
    near: dict[int, list[float]] = {k: [] for k in step_counts}
    covered: dict[int, list[int]] = {k: [] for k in step_counts}
    fd: dict[int, list[float]] = {k: [] for k in step_counts}
    fd_real = []
    shown = {}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x = eight_gaussians(rng, 4096)
        held_out = eight_gaussians(rng, n_samples)
        fd_real.append(frechet_distance(eight_gaussians(rng, n_samples), held_out))
        order = rng.integers(0, len(x), size=(steps, 256))
        scheduler = DDPMScheduler(T, beta_schedule="squaredcos_cap_v2", clip_sample=False)
        nnlab.manual_seed(seed)
        model = DenoisingMLP(2, hidden_size=hidden, num_blocks=blocks)
        train_ddpm(model, scheduler, x, order, lr=2e-3)
        for k in step_counts:
            # the same starting noise for every step count
            samples = ddpm_sample(model, scheduler, (n_samples, 2), k, nnlab.Generator(seed))
            samples = samples.numpy()
            fraction, counts = mode_scores(samples)
            near[k].append(fraction)
            # a mode counts as covered when it gets a quarter of its fair share
            covered[k].append(int((counts >= n_samples / MODES / 4).sum()))
            fd[k].append(frechet_distance(samples, held_out))
            if seed == run.seeds(1)[0]:
                shown[k] = samples
        if seed == run.seeds(1)[0]:
            shown["data"] = held_out

    rows = []
    for k in step_counts:
        run.number(f"near_mode_fraction_{k}_steps", round(float(np.mean(near[k])), 4))
        run.number(f"frechet_{k}_steps", round(float(np.mean(fd[k])), 5))
        rows.append((k, round(float(np.mean(near[k])), 4), round(float(np.std(near[k])), 4),
                     min(covered[k]), round(float(np.mean(fd[k])), 5),
                     round(float(np.std(fd[k])), 5)))  # fmt: skip
    run.number("frechet_real_vs_real", round(float(np.mean(fd_real)), 5))
    run.table(
        f"DDPM (T = {T}) samples by number of reverse steps, over {n_seeds} seeds",
        ("reverse steps", "within 3σ of a mode (mean)", "std", "fewest modes covered",
         "Fréchet distance (mean)", "std"),
        rows,
    )  # fmt: skip

    fig = run.figure("samples", "Held-out data and DDPM samples with few and with all steps",
                     width=9.6, height=3.4)  # fmt: skip
    panels = [("data", "data")] + [(k, f"{k} reverse steps") for k in (step_counts[0], T)]
    for ax, (key, title) in zip(fig.subplots(1, 3, sharex=True, sharey=True), panels):
        ax.scatter(*shown[key][:1000].T, s=2, color="C0" if key == "data" else "C1")
        ax.set_title(title)
        ax.set_aspect("equal")
    fig = run.figure("steps", "Sample quality against the number of reverse steps, per seed")
    ax = fig.subplots()
    for k in step_counts:
        ax.scatter([k] * len(near[k]), near[k], color="C1")
    ax.plot(step_counts, [np.mean(near[k]) for k in step_counts], color="C1")
    ax.set_xscale("log")
    ax.set_xlabel("reverse (sampling) steps")
    ax.set_ylabel("fraction of samples within 3σ of a mode")

    few, full_steps = step_counts[0], T
    run.claim(
        f"Sampled with all {T} steps, every seed covers all {MODES} modes (each gets at least "
        "a quarter of its fair share of samples)",
        min(covered[full_steps]) == MODES,
        f"fewest modes covered {min(covered[full_steps])}",
    )
    run.claim(
        f"Sampled with all {T} steps, at least 80% of the samples of every seed lie within 3σ "
        "of a mode",
        min(near[full_steps]) >= 0.80,
        f"lowest fraction {min(near[full_steps]):.3f}",
        quick=False,
    )
    drop = float(np.mean(near[full_steps]) - np.mean(near[few]))
    run.claim(
        f"Too few steps hurt: with {few} steps the within-3σ fraction is at least 0.1 lower "
        f"than with {T} (mean over seeds)",
        drop >= 0.1,
        f"drop {drop:.3f}",
        quick=False,
    )
    run.answer(
        f"A DDPM (T = {T}, an MLP ε-network) trained on eight Gaussians and sampled with all "
        f"{T} reverse steps put {np.mean(near[full_steps]):.1%} of its samples within 3σ of a "
        f"mode and covered at least {min(covered[full_steps])} of {MODES} modes in every seed "
        f"(Fréchet distance {np.mean(fd[full_steps]):.4f}, against {np.mean(fd_real):.4f} "
        f"between two real samples). Unlike a GAN it has no discriminator to fool and no "
        f"mode to collapse to: the loss is a plain regression on noise. The price is "
        f"sampling: with {few} steps only {np.mean(near[few]):.1%} of the samples landed "
        f"near a mode."
    )


def digits_in_unit_range() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 8×8 digits as float32 rows of 64 pixels scaled from 0..16 to [-1, 1]."""
    data = load_digits()
    return (data.data / 8 - 1).astype(np.float32), data.target.astype(np.int64)


def train_classifier(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, steps: int
) -> nn.Sequential:
    """The judge: an MLP digits classifier 64-128-64-10 (Adam, batches of 128); its
    64-unit penultimate layer gives the features of the Fréchet distance."""
    model = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )
    opt = nnlab.optim.Adam(model.parameters(), lr=1e-3)
    xs, ys = nnlab.tensor(x), nnlab.tensor(y)
    for rows in rng.integers(0, len(x), size=(steps, 128)):
        idx = nnlab.tensor(rows)
        loss = F.cross_entropy(model(xs[idx]), ys[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def judge(classifier: nn.Sequential, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The classifier's penultimate features and its class probabilities on ``images``."""
    with nnlab.no_grad():
        features = classifier[:4](nnlab.tensor(images.astype(np.float32)))
        probs = F.softmax(classifier[4](features), dim=1)
    return features.numpy(), probs.numpy()


@experiment(
    "diffusion-digits",
    answers=["gans"],
    quick=dict(T=100, hidden=128, blocks=2, steps=800, n_samples=200, step_counts=(10, 100),
               clf_steps=300, n_seeds=2),
    full=dict(T=200, hidden=256, blocks=3, steps=3000, n_samples=500,
              step_counts=(10, 25, 50, 100, 200), clf_steps=1500, n_seeds=3),
)  # fmt: skip
def diffusion_digits(
    run: Run,
    T: int,
    hidden: int,
    blocks: int,
    steps: int,
    n_samples: int,
    step_counts: tuple[int, ...],
    clf_steps: int,
    n_seeds: int,
) -> None:
    """How good are a diffusion model's digits, judged as GAN samples are?"""
    x, y = digits_in_unit_range()
    split = run.rng(0).permutation(len(x))
    train, test = split[:1300], split[1300:]
    nnlab.manual_seed(run.seed)
    classifier = train_classifier(x[train], y[train], run.rng(1), clf_steps)
    accuracy = float((judge(classifier, x[test])[1].argmax(1) == y[test]).mean())
    real_features = judge(classifier, x[test])[0]

    def frechet(images: np.ndarray) -> float:
        return frechet_distance(judge(classifier, images)[0], real_features)

    # baselines: real training digits (the floor), a Gaussian fitted to the pixels, noise
    rng = run.rng(2)
    pick = rng.choice(train, size=len(test), replace=False)
    gaussian = rng.multivariate_normal(x[train].mean(0), np.cov(x[train].T), size=n_samples)
    baselines = {
        "real training digits": frechet(x[pick]),
        "Gaussian fit to the pixels": frechet(np.clip(gaussian, -1, 1)),
        "uniform noise": frechet(rng.uniform(-1, 1, size=(n_samples, 64))),
    }
    fd: dict[int, list[float]] = {k: [] for k in step_counts}
    confidence: dict[int, list[float]] = {k: [] for k in step_counts}
    smallest_class: dict[int, list[float]] = {k: [] for k in step_counts}
    grid = None
    for seed in run.seeds(n_seeds):
        order = np.random.default_rng(seed).choice(train, size=(steps, 128))
        scheduler = DDPMScheduler(T, beta_schedule="squaredcos_cap_v2")
        nnlab.manual_seed(seed)
        model = DenoisingMLP(64, hidden_size=hidden, num_blocks=blocks)
        train_ddpm(model, scheduler, x, order, lr=2e-3)
        for k in step_counts:
            images = ddpm_sample(model, scheduler, (n_samples, 64), k, nnlab.Generator(seed))
            images = images.numpy()
            scores = classifier_sample_scores(judge(classifier, images)[1])
            fd[k].append(frechet(images))
            confidence[k].append(scores.mean_confidence)
            smallest_class[k].append(float(scores.counts.min() / n_samples))
            if grid is None and k == T:
                grid = images[:40]

    run.number("classifier_test_accuracy", round(accuracy, 4))
    for name, value in baselines.items():
        run.number(f"frechet_{name.replace(' ', '_')}", round(value, 3))
    rows = [(f"baseline: {name}", "", round(value, 3), "", "", "")
            for name, value in baselines.items()]  # fmt: skip
    for k in step_counts:
        run.number(f"frechet_ddpm_{k}_steps", round(float(np.mean(fd[k])), 3))
        rows.append((f"DDPM, T = {T}", k, round(float(np.mean(fd[k])), 3),
                     round(float(np.std(fd[k])), 3), round(float(np.mean(confidence[k])), 4),
                     round(min(smallest_class[k]), 4)))  # fmt: skip
    run.table(
        f"Fréchet distance to held-out digits on the judge's features ({n_seeds} seeds)",
        ("samples", "reverse steps", "Fréchet distance (mean)", "std", "mean confidence",
         "smallest class share (min)"),
        rows,
    )  # fmt: skip

    fig = run.figure("samples", f"DDPM digits, all {T} reverse steps (first seed)",
                     width=6.4, height=2.8)  # fmt: skip
    for ax, image in zip(fig.subplots(4, 10).flat, grid):
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=-1, vmax=1)
        ax.set_axis_off()
    fig = run.figure("frechet", "Fréchet distance against the number of reverse steps")
    ax = fig.subplots()
    for k in step_counts:
        ax.scatter([k] * len(fd[k]), fd[k], color="C1")
    ax.plot(step_counts, [np.mean(fd[k]) for k in step_counts], color="C1", label="DDPM")
    for (name, value), style in zip(baselines.items(), (":", "--", "-.")):
        if name != "uniform noise":
            ax.axhline(value, color="grey", linestyle=style, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("reverse (sampling) steps")
    ax.set_ylabel("Fréchet distance (judge features)")
    ax.legend()

    full_fd, few = fd[T], step_counts[0]
    noise_fd = baselines["uniform noise"]
    gaussian_fd = baselines["Gaussian fit to the pixels"]
    run.claim(
        "DDPM digits are far from noise: every seed's Fréchet distance is under a fifth of "
        "uniform noise's",
        max(full_fd) < 0.2 * noise_fd,
        f"worst DDPM {max(full_fd):.2f}, noise {noise_fd:.2f}",
    )
    run.claim(
        "A DDPM beats a Gaussian fitted to the pixels: its Fréchet distance (all steps, mean "
        "over seeds) is lower",
        np.mean(full_fd) < gaussian_fd,
        f"DDPM {np.mean(full_fd):.2f}, Gaussian {gaussian_fd:.2f}",
        quick=False,
    )
    run.claim(
        "No mode collapse: in every seed each of the 10 classes gets at least 3% of the samples",
        min(smallest_class[T]) >= 0.03,
        f"smallest class share {min(smallest_class[T]):.3f}",
        quick=False,
    )
    run.claim(
        f"Fewer reverse steps give worse digits: the Fréchet distance with {few} steps is "
        f"higher than with {T} (mean over seeds)",
        np.mean(fd[few]) > np.mean(full_fd),
        f"{few} steps {np.mean(fd[few]):.2f}, {T} steps {np.mean(full_fd):.2f}",
        quick=False,
    )
    by_steps = ", ".join(f"{k} steps {np.mean(fd[k]):.1f}" for k in step_counts)
    run.answer(
        f"Judged by a separately trained digits classifier ({accuracy:.1%} held-out "
        f"accuracy), DDPM digits sampled with all {T} steps had a Fréchet distance of "
        f"{np.mean(full_fd):.1f} ± {np.std(full_fd):.1f} to held-out digits over {n_seeds} "
        f"seeds, against {baselines['real training digits']:.1f} for real training digits, "
        f"{gaussian_fd:.1f} for a Gaussian fitted to the pixels and {noise_fd:.0f} for "
        f"noise. By number of reverse steps: {by_steps}. Every class appeared (smallest share "
        f"{min(smallest_class[T]):.1%}, mean confidence {np.mean(confidence[T]):.2f}): "
        "trained by regression on noise, the model has no reason to drop a mode, which is "
        "what GAN training risks; it pays at sampling time, one network call per step."
    )
