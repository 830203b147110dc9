"""Denoising diffusion probabilistic models (Ho, Jain and Abbeel, "Denoising Diffusion
Probabilistic Models", NeurIPS 2020): learn to undo a fixed process that turns data into
noise, then generate by running the undoing from pure noise.

The *forward process* adds a little Gaussian noise at each of T steps, with variances
β₁ … β_T (the *noise schedule*):

    q(x_t | x_{t-1}) = N(√α_t x_{t-1}, β_t I),     α_t = 1 - β_t,

and, because Gaussians compose, any step can be drawn from the data in one go:

    q(x_t | x_0) = N(√ᾱ_t x_0, (1 - ᾱ_t) I),      ᾱ_t = α_1 α_2 … α_t,
    x_t = √ᾱ_t x_0 + √(1 - ᾱ_t) ε,                ε ~ N(0, I)            (add_noise)

so ᾱ_T ≈ 0 makes x_T almost pure noise. Given x_0, the step back is Gaussian too (the
*posterior*):

    q(x_{t-1} | x_t, x_0) = N(μ̃_t, β̃_t I),
    μ̃_t = √ᾱ_{t-1} β_t / (1 - ᾱ_t) · x_0 + √α_t (1 - ᾱ_{t-1}) / (1 - ᾱ_t) · x_t,
    β̃_t = (1 - ᾱ_{t-1}) / (1 - ᾱ_t) · β_t.

A network ε_θ(x_t, t) learns to predict the noise that was added (the *ε-prediction*
loss, Ho et al.'s L_simple):

    L = E_{x_0, t ~ U{0..T-1}, ε} ‖ε - ε_θ(√ᾱ_t x_0 + √(1 - ᾱ_t) ε, t)‖²   (diffusion_loss)

and *ancestral sampling* starts from x_T ~ N(0, I) and at each step puts the estimate
x̂_0 = (x_t - √(1 - ᾱ_t) ε_θ) / √ᾱ_t into the posterior in place of x_0, then draws
x_{t-1} ~ N(μ̃_t(x̂_0, x_t), σ_t² I) with σ_t² = β̃_t or β_t (step, ddpm_sample).

Timesteps are 0-based as in diffusers: t = 0 … T-1, ``betas[t]`` is the paper's β_{t+1}
and ᾱ_{-1} = 1. Names follow diffusers' ``DDPMScheduler`` (``add_noise``, ``step``,
``set_timesteps``, ``beta_schedule="linear"`` or ``"squaredcos_cap_v2"``) and its
``get_timestep_embedding``. The schedule's tables are float64 NumPy-backed tensors; the
coefficients are cast to the sample's dtype where they are applied.

>>> import nnlab
>>> scheduler = DDPMScheduler(num_train_timesteps=50)
>>> model = DenoisingMLP(2, hidden_size=16, num_blocks=1)
>>> x0 = nnlab.randn(8, 2)
>>> diffusion_loss(model, scheduler, x0).shape
nnlab.Size([])
>>> ddpm_sample(model, scheduler, (4, 2), generator=nnlab.Generator(0)).shape
nnlab.Size([4, 2])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnlab import dtypes
from nnlab.autograd.grad_mode import no_grad
from nnlab.creation import randint, randn
from nnlab.models.registry import register_model
from nnlab.nn import functional as F
from nnlab.nn.module import Module
from nnlab.nn.modules.activation import SiLU
from nnlab.nn.modules.container import ModuleList, Sequential
from nnlab.nn.modules.linear import Linear
from nnlab.random import Generator
from nnlab.tensor import Tensor

__all__ = [
    "DDPMScheduler", "DDPMSchedulerOutput", "DenoisingMLP", "cosine_beta_schedule",
    "ddpm_sample", "diffusion_loss", "get_timestep_embedding", "linear_beta_schedule",
]  # fmt: skip

BETA_SCHEDULES = ("linear", "squaredcos_cap_v2")
VARIANCE_TYPES = ("fixed_small", "fixed_large")


# -- noise schedules ---------------------------------------------------------------------


def linear_beta_schedule(
    num_train_timesteps: int, beta_start: float = 0.0001, beta_end: float = 0.02
) -> np.ndarray:
    """Ho et al.'s schedule: β_t rises linearly from ``beta_start`` to ``beta_end``
    (their 1e-4 and 0.02 were chosen for T = 1000), float64 of shape (T,)."""
    return np.linspace(beta_start, beta_end, num_train_timesteps, dtype=np.float64)


def cosine_beta_schedule(
    num_train_timesteps: int, s: float = 0.008, max_beta: float = 0.999
) -> np.ndarray:
    """Nichol and Dhariwal's cosine schedule (2021), float64 of shape (T,): ᾱ follows

        f(t) = cos²((t/T + s) / (1 + s) · π/2),   ᾱ_t = f(t) / f(0),

    and β_t = 1 - ᾱ_{t+1}/ᾱ_t, capped at ``max_beta`` (the last steps would otherwise be
    β = 1, a singular posterior). ᾱ then falls gently at both ends instead of wasting the
    last quarter of a linear schedule on near-pure noise; ``s`` keeps β_0 from vanishing.
    """

    def f(t: np.ndarray) -> np.ndarray:
        return np.cos((t / num_train_timesteps + s) / (1 + s) * math.pi / 2) ** 2

    t = np.arange(num_train_timesteps, dtype=np.float64)
    return np.minimum(1 - f(t + 1) / f(t), max_beta)


# -- the scheduler: forward process, posterior, one reverse step ---------------------------


@dataclass
class DDPMSchedulerOutput:
    """What one reverse step returns: the sample x_{t-1} and the estimate x̂_0 it used."""

    prev_sample: Tensor
    pred_original_sample: Tensor


def _coefficient(values: np.ndarray, like: Tensor) -> Tensor:
    """Per-sample coefficients (N,) as a (N, 1, …, 1) tensor of ``like``'s dtype, so that
    they broadcast over each sample's features."""
    shape = (len(values),) + (1,) * (like.ndim - 1)
    return Tensor(values.reshape(shape).astype(like.array.dtype))


class DDPMScheduler:
    """The fixed forward process of a DDPM and its reverse step (diffusers' names).

    Args:
        num_train_timesteps: T, the number of noising steps (default: 1000).
        beta_start, beta_end: the ends of the linear schedule (default: 1e-4, 0.02).
        beta_schedule: ``"linear"`` (Ho et al.) or ``"squaredcos_cap_v2"`` (the cosine
            schedule of Nichol and Dhariwal) (default: ``"linear"``).
        variance_type: the reverse step's variance σ_t²: ``"fixed_small"`` is the
            posterior's β̃_t, ``"fixed_large"`` is β_t (Ho et al. found both work)
            (default: ``"fixed_small"``).
        clip_sample: clip x̂_0 to [-clip_sample_range, clip_sample_range] in each step,
            for data scaled to [-1, 1] (default: True, as diffusers).
        clip_sample_range: see above (default: 1.0).

    Attributes:
        betas, alphas, alphas_cumprod: β_t, α_t = 1 - β_t and ᾱ_t, float64 tensors (T,).
        timesteps: the steps ``step`` visits, in order (T-1 … 0, or those of
            :meth:`set_timesteps`), an int64 array.

    Example:
        >>> s = DDPMScheduler(num_train_timesteps=4, beta_schedule="linear",
        ...                   beta_start=0.1, beta_end=0.4)
        >>> s.alphas_cumprod.numpy().round(4).tolist()
        [0.9, 0.72, 0.504, 0.3024]
    """

    def __init__(
        self,
        num_train_timesteps: int = 1000,
        beta_start: float = 0.0001,
        beta_end: float = 0.02,
        beta_schedule: str = "linear",
        variance_type: str = "fixed_small",
        clip_sample: bool = True,
        clip_sample_range: float = 1.0,
    ) -> None:
        if not isinstance(num_train_timesteps, int) or num_train_timesteps < 1:
            raise ValueError(
                f"DDPMScheduler: num_train_timesteps must be a positive int, "
                f"got {num_train_timesteps!r}"
            )
        if beta_schedule == "linear":
            if not 0 < beta_start <= beta_end < 1:
                raise ValueError(
                    "DDPMScheduler: the linear schedule needs 0 < beta_start <= beta_end < 1, "
                    f"got beta_start={beta_start}, beta_end={beta_end}"
                )
            betas = linear_beta_schedule(num_train_timesteps, beta_start, beta_end)
        elif beta_schedule == "squaredcos_cap_v2":
            betas = cosine_beta_schedule(num_train_timesteps)
        else:
            raise ValueError(
                f"DDPMScheduler: beta_schedule must be one of {BETA_SCHEDULES}, "
                f"got {beta_schedule!r}"
            )
        if variance_type not in VARIANCE_TYPES:
            raise ValueError(
                f"DDPMScheduler: variance_type must be one of {VARIANCE_TYPES}, "
                f"got {variance_type!r}"
            )
        self.num_train_timesteps = num_train_timesteps
        self.beta_schedule = beta_schedule
        self.variance_type = variance_type
        self.clip_sample = clip_sample
        self.clip_sample_range = clip_sample_range
        self.betas = Tensor(betas)
        self.alphas = Tensor(1.0 - betas)
        self.alphas_cumprod = Tensor(np.cumprod(1.0 - betas))
        self.num_inference_steps = num_train_timesteps
        self.timesteps = np.arange(num_train_timesteps - 1, -1, -1, dtype=np.int64)

    def __repr__(self) -> str:
        return (
            f"DDPMScheduler(num_train_timesteps={self.num_train_timesteps}, "
            f"beta_schedule={self.beta_schedule!r}, variance_type={self.variance_type!r}, "
            f"clip_sample={self.clip_sample})"
        )

    # -- checking the caller's timesteps --

    def _timesteps(self, timesteps: Any, batch: int, argument: str = "timesteps") -> np.ndarray:
        """``timesteps`` (an int, or one per sample) as an int64 array of length ``batch``,
        each in 0 … T-1."""
        t = timesteps.numpy() if isinstance(timesteps, Tensor) else np.asarray(timesteps)
        if not np.issubdtype(t.dtype, np.integer):
            raise TypeError(
                f"DDPMScheduler: {argument} must be integers in 0..{self.num_train_timesteps - 1}"
                f", got dtype {t.dtype}"
            )
        if t.ndim == 0:
            t = np.full(batch, int(t), dtype=np.int64)
        if t.shape != (batch,):
            raise ValueError(
                f"DDPMScheduler: {argument} must be one int or one per sample, shape "
                f"({batch},), got shape {t.shape}"
            )
        if t.size and (t.min() < 0 or t.max() >= self.num_train_timesteps):
            raise ValueError(
                f"DDPMScheduler: {argument} must lie in 0..{self.num_train_timesteps - 1} "
                f"(num_train_timesteps={self.num_train_timesteps}), got values from "
                f"{t.min()} to {t.max()}"
            )
        return t.astype(np.int64)

    @staticmethod
    def _batched(sample: Tensor, argument: str) -> None:
        if not isinstance(sample, Tensor):
            raise TypeError(f"DDPMScheduler: {argument} must be a Tensor, got {type(sample)}")
        if sample.ndim < 1:
            raise ValueError(
                f"DDPMScheduler: {argument} must have a batch dim, shape (N, *), "
                f"got shape {tuple(sample.shape)}"
            )

    def _step_pair(self, timesteps: Any, prev_timesteps: Any | None) -> tuple[np.ndarray, ...]:
        """A reverse step's t and t' as int64 arrays, checked: t' < t <= T-1 (any t' < 0
        is the end of the chain, ᾱ = 1)."""
        raw = timesteps.numpy() if isinstance(timesteps, Tensor) else np.asarray(timesteps)
        t = self._timesteps(raw.reshape(-1), raw.size)
        if prev_timesteps is None:
            return t, t - 1
        prev = np.broadcast_to(np.asarray(prev_timesteps, dtype=np.int64), t.shape)
        if (prev >= t).any():
            raise ValueError(
                f"DDPMScheduler: prev_timesteps must be below timesteps, got "
                f"prev {prev.tolist()} for timesteps {t.tolist()}"
            )
        return t, prev

    def _alpha_prod_prev(self, prev_t: np.ndarray) -> np.ndarray:
        """ᾱ at ``prev_t``, with ᾱ_{-1} = 1 (nothing has been added before step 0)."""
        ab = self.alphas_cumprod.numpy()
        return np.where(prev_t >= 0, ab[np.maximum(prev_t, 0)], 1.0)

    # -- the forward process --

    def add_noise(self, original_samples: Tensor, noise: Tensor, timesteps: Any) -> Tensor:
        """A draw of q(x_t | x_0): x_t = √ᾱ_t x_0 + √(1 - ᾱ_t) ε (``q_sample`` in Ho et
        al.'s code), differentiable in ``original_samples`` and ``noise``.

        Args:
            original_samples: x_0, shape (N, *).
            noise: ε, the same shape.
            timesteps: t, one int or (N,) ints in 0 … T-1.
        """
        self._batched(original_samples, "original_samples")
        if tuple(noise.shape) != tuple(original_samples.shape):
            raise ValueError(
                f"DDPMScheduler.add_noise: noise must have the samples' shape "
                f"{tuple(original_samples.shape)}, got {tuple(noise.shape)}"
            )
        t = self._timesteps(timesteps, original_samples.shape[0])
        ab = self.alphas_cumprod.numpy()[t]
        return (
            _coefficient(np.sqrt(ab), original_samples) * original_samples
            + _coefficient(np.sqrt(1 - ab), original_samples) * noise
        )

    # -- the reverse process --

    def set_timesteps(self, num_inference_steps: int) -> None:
        """Sample with ``num_inference_steps`` ≤ T steps, evenly spaced from 0 (diffusers'
        ``"leading"`` spacing: t = k·⌊T/n⌋ for k = n-1 … 0). A strided step from t to
        t' < t is the exact posterior of the sub-chain with ᾱ_{t'} → ᾱ_t, so
        β becomes 1 - ᾱ_t/ᾱ_{t'} (see :meth:`step`)."""
        if not isinstance(num_inference_steps, int) or not (
            1 <= num_inference_steps <= self.num_train_timesteps
        ):
            raise ValueError(
                f"DDPMScheduler.set_timesteps: num_inference_steps must be an int in "
                f"1..{self.num_train_timesteps} (num_train_timesteps), "
                f"got {num_inference_steps!r}"
            )
        ratio = self.num_train_timesteps // num_inference_steps
        self.num_inference_steps = num_inference_steps
        self.timesteps = (np.arange(num_inference_steps, dtype=np.int64) * ratio)[::-1].copy()

    def previous_timestep(self, timestep: int) -> int:
        """The step after ``timestep`` in the sampling order (-1 after the last)."""
        return int(timestep) - self.num_train_timesteps // self.num_inference_steps

    def posterior_mean_coefficients(
        self, timesteps: Any, prev_timesteps: Any | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The two weights of μ̃ = c₀ · x_0 + c_t · x_t, for a step from t to t' (default
        t' = t - 1), as float64 arrays:

            c₀ = √ᾱ_{t'} β / (1 - ᾱ_t),   c_t = √α (1 - ᾱ_{t'}) / (1 - ᾱ_t),
            α = ᾱ_t / ᾱ_{t'},  β = 1 - α.
        """
        t, prev = self._step_pair(timesteps, prev_timesteps)
        ab_t = self.alphas_cumprod.numpy()[t]
        ab_prev = self._alpha_prod_prev(prev)
        alpha = ab_t / ab_prev
        c0 = np.sqrt(ab_prev) * (1 - alpha) / (1 - ab_t)
        ct = np.sqrt(alpha) * (1 - ab_prev) / (1 - ab_t)
        return c0, ct

    def get_variance(self, timesteps: Any, prev_timesteps: Any | None = None) -> np.ndarray:
        """σ² of the reverse step from t to t' (default t - 1), float64: the posterior's
        β̃ = (1 - ᾱ_{t'}) / (1 - ᾱ_t) · β for ``"fixed_small"``, β itself for
        ``"fixed_large"``, with β = 1 - ᾱ_t/ᾱ_{t'}. β̃ is 0 at t = 0 (x_0 is then known)."""
        t, prev = self._step_pair(timesteps, prev_timesteps)
        ab_t = self.alphas_cumprod.numpy()[t]
        ab_prev = self._alpha_prod_prev(prev)
        beta = 1 - ab_t / ab_prev
        if self.variance_type == "fixed_large":
            return beta
        return (1 - ab_prev) / (1 - ab_t) * beta

    def step(
        self,
        model_output: Tensor,
        timestep: int,
        sample: Tensor,
        generator: Generator | None = None,
    ) -> DDPMSchedulerOutput:
        """One ancestral step x_t → x_{t-1} ~ N(μ̃(x̂_0, x_t), σ² I), where ε_θ =
        ``model_output`` gives x̂_0 = (x_t - √(1 - ᾱ_t) ε_θ) / √ᾱ_t (clipped if
        ``clip_sample``). No noise is added on the last step (t' = -1). Noise comes from
        ``generator`` (default: nnlab's, seeded by ``nnlab.manual_seed``).

        Args:
            model_output: ε_θ(x_t, t), the shape of ``sample``.
            timestep: t, one int (the whole batch is at the same step).
            sample: x_t, shape (N, *).
        """
        self._batched(sample, "sample")
        if tuple(model_output.shape) != tuple(sample.shape):
            raise ValueError(
                f"DDPMScheduler.step: model_output must have the sample's shape "
                f"{tuple(sample.shape)}, got {tuple(model_output.shape)}"
            )
        t = int(self._timesteps(timestep, 1, "timestep")[0])
        prev = self.previous_timestep(t)
        ab_t = float(self.alphas_cumprod.numpy()[t])
        x0 = (sample - math.sqrt(1 - ab_t) * model_output) / math.sqrt(ab_t)
        if self.clip_sample:
            x0 = x0.clamp(-self.clip_sample_range, self.clip_sample_range)
        c0, ct = self.posterior_mean_coefficients(t, prev)
        mean = float(c0[0]) * x0 + float(ct[0]) * sample
        if prev >= 0:
            variance = max(float(self.get_variance(t, prev)[0]), 1e-20)
            noise = randn(*sample.shape, generator=generator, dtype=sample.dtype)
            mean = mean + math.sqrt(variance) * noise
        return DDPMSchedulerOutput(prev_sample=mean, pred_original_sample=x0)


# -- the noise-prediction network --------------------------------------------------------


def get_timestep_embedding(
    timesteps: Any, embedding_dim: int, max_period: float = 10000.0, dtype: Any = None
) -> Tensor:
    """Sinusoidal embedding of integer timesteps (the transformer's positional encoding,
    as in Ho et al. and diffusers), shape (N, embedding_dim):

        e(t) = [sin(t ω_0) … sin(t ω_{h-1}), cos(t ω_0) … cos(t ω_{h-1})],
        ω_i = max_period^(-i/(h-1)),   h = embedding_dim // 2,

    frequencies from 1 down to 1/max_period, so nearby steps get nearby codes and far
    ones differ; an odd ``embedding_dim`` gets a zero last column. A constant: timesteps
    carry no gradient.
    """
    t = timesteps.numpy() if isinstance(timesteps, Tensor) else np.asarray(timesteps)
    if t.ndim != 1:
        raise ValueError(f"get_timestep_embedding: timesteps must be 1-D (N,), got shape {t.shape}")
    if embedding_dim < 2:
        raise ValueError(f"get_timestep_embedding: embedding_dim must be >= 2, got {embedding_dim}")
    half = embedding_dim // 2
    freqs = np.exp(-math.log(max_period) * np.arange(half) / max(half - 1, 1))
    angles = t.astype(np.float64)[:, None] * freqs[None, :]
    emb = np.concatenate([np.sin(angles), np.cos(angles)], axis=1)
    if embedding_dim % 2:
        emb = np.pad(emb, ((0, 0), (0, 1)))
    d = dtypes.get_default_dtype() if dtype is None else dtype
    return Tensor(emb.astype(dtypes.to_dtype(d)))


class DenoisingMLP(Module):
    """ε_θ(x_t, t) for flat data (2-D points, flattened images): a residual MLP told the
    step by a sinusoidal time embedding added in every block:

        τ = W₂ SiLU(W₁ e(t))                       (time_embedding, e: sinusoidal)
        h = W_in x_t
        h ← h + W_k SiLU(h + τ)       k = 1 … num_blocks
        ε_θ = W_out SiLU(h)

    The same x_t needs a different ε at different t (x_t is mostly signal early, mostly
    noise late), hence the time input at every block.

    Args:
        data_dim: features per sample (2 for points, 64 for 8×8 digits).
        hidden_size: width of every hidden layer (default: 128).
        num_blocks: residual blocks (default: 3).
        time_embed_dim: size of the sinusoidal embedding e(t) (default: 32).

    Shape:
        - Input: x_t (N, data_dim), timesteps (N,) ints.
        - Output: (N, data_dim).

    Example:
        >>> import nnlab
        >>> DenoisingMLP(64, hidden_size=32)(nnlab.randn(5, 64), [0, 1, 2, 3, 4]).shape
        nnlab.Size([5, 64])
    """

    def __init__(
        self,
        data_dim: int,
        hidden_size: int = 128,
        num_blocks: int = 3,
        time_embed_dim: int = 32,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.data_dim = data_dim
        self.time_embed_dim = time_embed_dim
        self.time_embedding = Sequential(
            Linear(time_embed_dim, hidden_size, dtype=dtype),
            SiLU(),
            Linear(hidden_size, hidden_size, dtype=dtype),
        )
        self.input = Linear(data_dim, hidden_size, dtype=dtype)
        self.blocks = ModuleList(
            [Linear(hidden_size, hidden_size, dtype=dtype) for _ in range(num_blocks)]
        )
        self.output = Linear(hidden_size, data_dim, dtype=dtype)

    def forward(self, sample: Tensor, timesteps: Any) -> Tensor:
        if sample.ndim != 2 or sample.shape[1] != self.data_dim:
            raise self.shape_error(
                f"(N, {self.data_dim})", sample.shape,
                "flatten images to (N, features) first."
                if sample.ndim > 2 else "data_dim must match the samples' features.",
            )  # fmt: skip
        t = timesteps.numpy() if isinstance(timesteps, Tensor) else np.asarray(timesteps)
        if t.ndim == 0:
            t = np.full(sample.shape[0], int(t))
        if t.shape != (sample.shape[0],):
            raise self.shape_error(
                f"timesteps ({sample.shape[0]},), one per sample", t.shape,
                "pass one int or one timestep per row of the sample.",
            )  # fmt: skip
        emb = get_timestep_embedding(t, self.time_embed_dim, dtype=sample.dtype)
        tau = self.time_embedding(emb)
        h = self.input(sample)
        for block in self.blocks:
            h = h + block(F.silu(h + tau))
        return self.output(F.silu(h))

    def extra_repr(self) -> str:
        return f"data_dim={self.data_dim}, time_embed_dim={self.time_embed_dim}"


@register_model(
    "ddpm",
    reads="features",
    tasks="generation",
    own_fit=True,
    loop="diffusion",
    losses="diffusion",
    input_range=(-1.0, 1.0),
    args=lambda d: {"data_dim": d.input_shape[0]},
)
def _ddpm(
    data_dim: int,
    hidden_size: int = 128,
    num_blocks: int = 3,
    time_embed_dim: int = 32,
    num_train_timesteps: int = 100,
    beta_schedule: str = "linear",
) -> DenoisingMLP:
    """A run config's DDPM: the ε-network with its noise schedule as ``.scheduler``."""
    model = DenoisingMLP(data_dim, hidden_size, num_blocks, time_embed_dim)
    model.scheduler = DDPMScheduler(num_train_timesteps, beta_schedule=beta_schedule)
    return model


# -- training and sampling ---------------------------------------------------------------


def diffusion_loss(
    model: Module,
    scheduler: DDPMScheduler,
    original_samples: Tensor,
    timesteps: Any | None = None,
    noise: Tensor | None = None,
    generator: Generator | None = None,
) -> Tensor:
    """Ho et al.'s L_simple, the mean over samples and features of

        (ε - ε_θ(√ᾱ_t x_0 + √(1 - ᾱ_t) ε, t))²,

    with t ~ U{0 … T-1} and ε ~ N(0, I) drawn from ``generator`` (default: nnlab's)
    unless given. Every t is weighted alike, which Ho et al. found to sample better than
    the true variational bound's weights.

    Args:
        model: ε_θ, called as ``model(x_t, t)``.
        original_samples: x_0, shape (N, *).
        timesteps, noise: fixed t (N,) and ε, to reproduce a loss (default: drawn).
    """
    DDPMScheduler._batched(original_samples, "original_samples")
    n = original_samples.shape[0]
    if timesteps is None:
        timesteps = randint(0, scheduler.num_train_timesteps, (n,), generator=generator)
    if noise is None:
        noise = randn(*original_samples.shape, generator=generator, dtype=original_samples.dtype)
    noisy = scheduler.add_noise(original_samples, noise, timesteps)
    return F.mse_loss(model(noisy, timesteps), noise)


def ddpm_sample(
    model: Module,
    scheduler: DDPMScheduler,
    shape: Sequence[int],
    num_inference_steps: int | None = None,
    generator: Generator | None = None,
    dtype: Any = None,
) -> Tensor:
    """Ancestral sampling: x_T ~ N(0, I), then ``scheduler.step`` down to x_0 with the
    model's ε-prediction at each of ``num_inference_steps`` steps (default: all T).
    Every draw comes from ``generator`` (default: nnlab's), so a seed fixes the samples.
    Like a diffusers pipeline it sets the scheduler's ``timesteps`` (``set_timesteps``).

    Args:
        shape: (N, *) of the samples, as the model takes them.
    """
    shape = tuple(int(s) for s in shape)
    if not shape or min(shape) < 1:
        raise ValueError(f"ddpm_sample: shape must be (N, *) of positive sizes, got {shape}")
    scheduler.set_timesteps(num_inference_steps or scheduler.num_train_timesteps)
    with no_grad():
        x = randn(*shape, generator=generator, dtype=dtype)
        for t in scheduler.timesteps:
            eps = model(x, np.full(shape[0], t, dtype=np.int64))
            x = scheduler.step(eps, int(t), x, generator=generator).prev_sample
    return x
