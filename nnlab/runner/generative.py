"""The own training loops of the reconstruction and generation tasks, and what they write.

These models do not fit the general loop's one loss of (outputs, targets) and one
optimizer (see :mod:`nnlab.runner.training`):

- **reconstruction**: an autoencoder learns x̂ = g(f(x)) ≈ x (``loss.name`` "mse" or "l1");
  a VAE maximises the ELBO, ``loss = reconstruction + β·KL`` with β warmed up linearly
  over ``loss.warmup_steps`` optimizer steps (:func:`~nnlab.models.vae.kl_warmup`);
- **generation**: a GAN's two players step in turn, each with its own optimizer (both
  configured by ``[optimizer]``): the discriminator on binary cross-entropy (real → 1,
  fake → 0), then the generator on the non-saturating (or minimax) loss; a DDPM's
  ε-network learns the noise added at a random step of its schedule
  (:func:`~nnlab.models.diffusion.diffusion_loss`).

The loop is named by the model's registry entry (``loop``), and so is the range its data
must lie in (``input_range``: the generators' [-1, 1], a Bernoulli VAE's [0, 1]): the
config then insists on min-max scaling, and the training split's [0, 1] is mapped onto
the range, values of the other splits outside it clipped.

Every random draw (batch order, noise, latent codes) comes from generators seeded by the
run's seed, so a seed reproduces the weights; the final metrics draw from a fresh
generator of the same seed, so ``nnlab evaluate`` recomputes them exactly. The loops cannot
resume (the runner refuses ``--resume`` for them).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

import nnlab
import nnlab.io
from nnlab.analysis import plots as P
from nnlab.config import RunConfig
from nnlab.creation import randn
from nnlab.metrics.generative import frechet_distance
from nnlab.models.diffusion import ddpm_sample, diffusion_loss
from nnlab.models.gan import (
    discriminator_loss,
    minimax_generator_loss,
    non_saturating_generator_loss,
)
from nnlab.models.registry import model_entry
from nnlab.models.vae import kl_warmup
from nnlab.nn import functional as F
from nnlab.nn.utils.clip_grad import clip_grad_norm_
from nnlab.random import Generator
from nnlab.runner import builders as B
from nnlab.runner import run_files as RF
from nnlab.runner.data import Splits
from nnlab.tensor import Tensor
from nnlab.train import NonFiniteLossError

__all__ = [
    "build_optimizers", "fit_generative", "generative_metrics", "model_inputs",
    "reconstruction_errors",
]  # fmt: skip

#: Samples drawn (and real ones compared) for a generation run's metrics, per split.
_METRIC_SAMPLES = 500
#: Images in a grid: ten a row.
_GRID = 40


def _loop(cfg: RunConfig) -> str:
    """The own loop the model's registry entry names (see ``registry.LOOPS``)."""
    return str(model_entry(cfg.model.type).loop)


def model_inputs(cfg: RunConfig, x: np.ndarray) -> np.ndarray:
    """Data as the model reads it: min-max scaled [0, 1] mapped onto the fixed range of the
    model's registry entry (``input_range``: a generator's [-1, 1], a Bernoulli VAE's
    [0, 1]), values of other splits outside the training range clipped; else as given."""
    x = np.asarray(x, dtype=np.float32)
    span = model_entry(cfg.model.type).input_range
    if span is None:
        return x
    low, high = span
    return np.clip(low + (high - low) * x, low, high).astype(np.float32)


#: The modules each optimizer steps, by loop: a GAN's two players, else the whole model.
_PLAYERS = {"adversarial": ("discriminator", "generator")}


def build_optimizers(cfg: RunConfig, model: Any) -> dict[str, Any]:
    """One optimizer per player of a GAN ("discriminator", "generator"), else one
    ("model"), each as ``[optimizer]`` configures it (checked: ConfigError naming the key)."""
    players = _PLAYERS.get(_loop(cfg))
    if players is None:
        return {"model": B.build_optimizer(cfg, model)}
    return {name: B.build_optimizer(cfg, model[name]) for name in players}


# -- one optimizer step of each loop -------------------------------------------------------


def _step(opt: Any, loss: Tensor, module: Any, cfg: RunConfig) -> None:
    opt.zero_grad()
    loss.backward()
    if cfg.training.grad_clip is not None:
        clip_grad_norm_(list(module.parameters()), cfg.training.grad_clip)
    opt.step()


def _reconstruction_loss(cfg: RunConfig, out: Tensor, x: Tensor) -> Tensor:
    return F.l1_loss(out, x) if cfg.loss.name == "l1" else F.mse_loss(out, x)


def _generator_loss(cfg: RunConfig) -> Any:
    return minimax_generator_loss if cfg.loss.name == "minimax" else non_saturating_generator_loss


def _reconstruction_step(cfg, model, opts, xb, step, gen):  # type: ignore[no-untyped-def]
    """x̂ = g(f(x)); the mean squared (or absolute) difference from x."""
    loss = _reconstruction_loss(cfg, model(xb), xb)
    _step(opts["model"], loss, model, cfg)
    return {"loss": float(loss.array)}


def _elbo_step(cfg, model, opts, xb, step, gen):  # type: ignore[no-untyped-def]
    """The negative ELBO with β warmed up linearly over ``loss.warmup_steps`` steps."""
    beta = kl_warmup(step, cfg.loss.warmup_steps, cfg.loss.beta)
    terms = model.loss(xb, beta=beta, generator=gen)
    _step(opts["model"], terms.loss, model, cfg)
    return {
        "loss": float(terms.loss.array),
        "reconstruction": float(terms.reconstruction.array),
        "kl": float(terms.kl.array),
        "beta": beta,
    }


def _adversarial_step(cfg, model, opts, xb, step, gen):  # type: ignore[no-untyped-def]
    """The discriminator on real → 1 and (detached) fakes → 0, then the generator on its
    loss of the updated discriminator's logits for the same fakes."""
    g, d = model["generator"], model["discriminator"]
    fake = g(randn(len(xb), g.latent_dim, generator=gen))
    d_loss = discriminator_loss(d(xb), d(fake.detach()))
    _step(opts["discriminator"], d_loss, d, cfg)
    g_loss = _generator_loss(cfg)(d(fake))
    _step(opts["generator"], g_loss, g, cfg)  # D's gradients from it are cleared next step
    return {"d_loss": float(d_loss.array), "g_loss": float(g_loss.array)}


def _diffusion_step(cfg, model, opts, xb, step, gen):  # type: ignore[no-untyped-def]
    """The ε-prediction loss at one random step of the schedule per sample."""
    loss = diffusion_loss(model, model.scheduler, xb, generator=gen)
    _step(opts["model"], loss, model, cfg)
    return {"loss": float(loss.array)}


_STEPS = {
    "reconstruction": _reconstruction_step, "elbo": _elbo_step,
    "adversarial": _adversarial_step, "diffusion": _diffusion_step,
}  # fmt: skip


# -- the loop -----------------------------------------------------------------------------


def _check_finite(logs: dict[str, float], epoch: int, step: int) -> None:
    for key, value in logs.items():
        if not math.isfinite(value):
            raise NonFiniteLossError(
                f"{key} is {value} at epoch {epoch + 1}, step {step + 1}; lower the learning "
                "rate or clip gradients (training.grad_clip)"
            )


def fit_generative(
    model: Any, opts: dict[str, Any], cfg: RunConfig, s: Splits, run_dir: Path, verbose: bool
) -> tuple[dict[str, dict[str, float]], dict[str, Any], dict[str, Any]]:
    """Train ``model`` with its own loop for ``training.epochs`` epochs, then write
    the kept (last) weights, metrics, history, run info and plots, and the digests.
    Returns (metrics per split, history, run info)."""
    x_train = model_inputs(cfg, s.x_train)
    x_val = model_inputs(cfg, s.x_val) if s.x_val is not None else None
    order = np.random.default_rng(cfg.seed)  # batch order
    gen = Generator(cfg.seed)  # noise, latent codes, timesteps
    train_step = _STEPS[_loop(cfg)]
    rows: list[dict[str, float]] = []
    step, n, bs = 0, len(x_train), cfg.data.batch_size
    for epoch in range(cfg.training.epochs):
        model.train()
        start = time.perf_counter()
        sums: dict[str, float] = {}
        batches = 0
        perm = order.permutation(n)
        for i in range(0, n, bs):
            index = perm[i : i + bs]
            if len(index) < 2:  # batch norm needs two samples; a lone leftover is skipped
                continue
            logs = train_step(cfg, model, opts, nnlab.from_numpy(x_train[index]), step, gen)
            _check_finite(logs, epoch, step)
            for key, value in logs.items():
                sums[key] = sums.get(key, 0.0) + value
            step += 1
            batches += 1
        row: dict[str, float] = {"epoch": epoch + 1}
        row.update({k: v / max(batches, 1) for k, v in sums.items()})
        if x_val is not None:
            for key, value in generative_metrics(cfg, model, x_val, samples=False).items():
                row[f"val_{key}"] = value
        row["time"] = time.perf_counter() - start
        rows.append(row)
        if verbose:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in ("epoch", "time"))
            print(f"epoch {epoch + 1}/{cfg.training.epochs}  {shown}", flush=True)
    metrics = {"train": generative_metrics(cfg, model, x_train)}
    if x_val is not None:
        metrics["validation"] = generative_metrics(cfg, model, x_val)
    metrics["test"] = generative_metrics(cfg, model, model_inputs(cfg, s.x_test))
    info = {"epochs_trained": len(rows), "optimizer_steps": step,
            "selected_epoch": len(rows), "selected_by": "last epoch"}  # fmt: skip
    nnlab.io.save_weights(model, run_dir / "model.safetensors")
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
    (run_dir / "history.json").write_text(json.dumps({"epochs": rows}, indent=1))
    keys = list(rows[0]) if rows else ["epoch"]
    lines = [",".join(keys)] + [",".join(str(r.get(k, "")) for k in keys) for r in rows]
    (run_dir / "history.csv").write_text("\n".join(lines) + "\n")
    (run_dir / "run.json").write_text(json.dumps(info, indent=1))
    _plots(cfg, model, s, rows, run_dir / "plots")
    RF.write_digests(run_dir)
    return metrics, {"epochs": rows}, info


# -- metrics ------------------------------------------------------------------------------


def _batches(fn: Any, x: np.ndarray, size: int = 512) -> np.ndarray:
    """``fn`` over ``x`` in batches, without gradients, joined."""
    with nnlab.no_grad():
        parts = [fn(nnlab.from_numpy(x[i : i + size])) for i in range(0, len(x), size)]
    return np.concatenate(parts)


def _rebuilt(cfg: RunConfig, model: Any, x: np.ndarray) -> np.ndarray:
    """Reconstructions, eval mode: g(f(x)), or a VAE's E[x | z = μ(x)]."""
    model.eval()
    if _loop(cfg) == "elbo":
        return _batches(lambda t: model.mean(model.encode(t)[0]).numpy(), x)
    return _batches(lambda t: model(t).numpy(), x)


def reconstruction_errors(cfg: RunConfig, model: Any, x: np.ndarray) -> np.ndarray:
    """Each row's mean squared reconstruction error (an anomaly score), float64."""
    x = model_inputs(cfg, x)
    return ((_rebuilt(cfg, model, x) - x) ** 2).reshape(len(x), -1).mean(1).astype(np.float64)


def _generate(cfg: RunConfig, model: Any, n: int, gen: Generator) -> np.ndarray:
    """``n`` samples in the data's layout and [-1, 1] scale, eval mode, without gradients."""
    model.eval()
    if _loop(cfg) == "diffusion":
        return ddpm_sample(model, model.scheduler, (n, model.data_dim), generator=gen).numpy()
    g = model["generator"]
    with nnlab.no_grad():
        return g(randn(n, g.latent_dim, generator=gen)).numpy()


def _reconstruction_metrics(cfg, model, x, gen):  # type: ignore[no-untyped-def]
    out = _rebuilt(cfg, model, x)
    loss = np.abs(out - x).mean() if cfg.loss.name == "l1" else ((out - x) ** 2).mean()
    return {"loss": float(loss), "mse": float(((out - x) ** 2).mean())}


def _elbo_metrics(cfg, model, x, gen):  # type: ignore[no-untyped-def]
    with nnlab.no_grad():
        terms = model.loss(nnlab.from_numpy(x), beta=cfg.loss.beta, generator=gen)
    reconstruction, kl = float(terms.reconstruction.array), float(terms.kl.array)
    return {
        "loss": float(terms.loss.array), "reconstruction": reconstruction, "kl": kl,
        "neg_elbo": reconstruction + kl,
        "mse": float(((_rebuilt(cfg, model, x) - x) ** 2).mean()),
    }  # fmt: skip


def _adversarial_metrics(cfg, model, x, gen):  # type: ignore[no-untyped-def]
    g, d = model["generator"], model["discriminator"]
    with nnlab.no_grad():
        fake = g(randn(len(x), g.latent_dim, generator=gen))
        real = nnlab.from_numpy(x)
        return {"d_loss": float(discriminator_loss(d(real), d(fake)).array),
                "g_loss": float(_generator_loss(cfg)(d(fake)).array)}  # fmt: skip


def _diffusion_metrics(cfg, model, x, gen):  # type: ignore[no-untyped-def]
    with nnlab.no_grad():
        loss = diffusion_loss(model, model.scheduler, nnlab.from_numpy(x), generator=gen)
    return {"loss": float(loss.array)}


_METRICS = {
    "reconstruction": _reconstruction_metrics, "elbo": _elbo_metrics,
    "adversarial": _adversarial_metrics, "diffusion": _diffusion_metrics,
}  # fmt: skip


def generative_metrics(
    cfg: RunConfig, model: Any, x: np.ndarray, samples: bool = True
) -> dict[str, float]:
    """A split's final metrics from data ``x`` as the model reads it (:func:`model_inputs`),
    drawing from a generator seeded by the run's seed (so they are recomputable):

    - autoencoder: ``loss`` and the reconstruction ``mse`` (mean over samples and features);
    - VAE: ``loss`` (reconstruction + β·KL), its ``reconstruction`` (−log p(x|z)) and ``kl``
      terms per example, ``neg_elbo`` (β = 1, in nats) and the ``mse`` of the posterior
      mean's reconstruction E[x | z = μ(x)];
    - GAN: both players' losses on the split's samples against as many fakes;
    - DDPM: the ε-prediction ``loss``;

    and for a generation task, with ``samples``, the ``pixel_frechet_distance`` of up to
    500 generated samples to as many of the split's (pixels in [-1, 1]: a Fréchet distance
    on raw pixels, not FID's Inception features).
    """
    model.eval()
    gen = Generator(cfg.seed)
    out = _METRICS[_loop(cfg)](cfg, model, x, gen)
    if samples and cfg.task == "generation":
        n = min(len(x), _METRIC_SAMPLES)
        fakes = _generate(cfg, model, n, gen).reshape(n, -1)
        out["pixel_frechet_distance"] = frechet_distance(fakes, x[:n].reshape(n, -1))
    return out


# -- plots --------------------------------------------------------------------------------


def _plots(
    cfg: RunConfig, model: Any, s: Splits, rows: list[dict[str, float]], folder: Path
) -> None:
    """Loss curves (both players' for a GAN; the ELBO's terms for a VAE), and grids of
    reconstructions (test digits above, their reconstructions below) or of samples."""
    loop = _loop(cfg)
    curves = {"adversarial": ("d_loss", "g_loss"), "elbo": ("loss", "reconstruction", "kl")}
    series = {k: [r[k] for r in rows] for k in curves.get(loop, ("loss",))}
    title = cfg.name
    if loop == "adversarial":
        title = "discriminator and generator losses"
    elif rows and "val_loss" in rows[0]:
        series["validation loss"] = [r["val_loss"] for r in rows]
    P.plot_curves(series, folder / "losses.png", title=title)
    x_test = model_inputs(cfg, s.x_test)
    gen = Generator(cfg.seed)
    if cfg.task == "reconstruction":
        originals = x_test[:20]
        rebuilt = _rebuilt(cfg, model, originals)
        grid = [originals[:10], rebuilt[:10], originals[10:], rebuilt[10:]]
        title = "test digits (rows 1, 3) and their reconstructions (rows 2, 4)"
        P.plot_image_grid(np.concatenate(grid), folder / "reconstructions.png", title=title)
        if loop == "elbo":
            samples = model.sample(_GRID, generator=gen).numpy()
            P.plot_image_grid(
                samples, folder / "samples.png", title="samples: E[x | z], z ~ N(0, I)"
            )
        return
    P.plot_image_grid(_generate(cfg, model, _GRID, gen), folder / "samples.png",
                      title=f"{cfg.model.type} samples after {len(rows)} epochs")  # fmt: skip
    P.plot_image_grid(x_test[:_GRID], folder / "real.png", title="real test digits")
