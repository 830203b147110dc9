"""The variational autoencoder (Kingma and Welling, "Auto-Encoding Variational Bayes",
ICLR 2014; Rezende, Mohamed and Wierstra, ICML 2014), with the β weight of Higgins et
al. (β-VAE, ICLR 2017) and the KL warm-up of Bowman et al. (CoNLL 2016).

A VAE is a latent-variable model p(x, z) = p(z) p_θ(x | z) with the prior p(z) = N(0, I),
fitted with an encoder q_φ(z | x) = N(μ_φ(x), diag σ²_φ(x)) that approximates the
posterior. Both are trained together by maximising the evidence lower bound

    log p(x) ≥ ELBO(x) = E_q[log p_θ(x | z)] − KL(q_φ(z | x) ‖ p(z)),

so the loss is the negative ELBO, a reconstruction term plus a KL term:

    loss = −E_q[log p_θ(x | z)] + β · KL(q ‖ p),    β = 1 for the bound itself.

Reparameterisation trick: sampling z ~ q has no gradient with respect to μ and σ, but
writing the sample as a deterministic function of them and of parameter-free noise,

    z = μ + σ ⊙ ε,   σ = exp(log σ² / 2),   ε ~ N(0, I),

gives ∂z/∂μ = 1 and ∂z/∂(log σ²) = σ ⊙ ε / 2, so a one-sample Monte-Carlo estimate of the
reconstruction term backpropagates into the encoder. The encoder predicts log σ² rather
than σ so that any real output is a valid variance.

The KL between a diagonal Gaussian and the standard normal has a closed form, summed over
the latent dimensions j:

    KL(N(μ, σ²) ‖ N(0, 1)) = ½ Σⱼ (μⱼ² + σⱼ² − log σⱼ² − 1).

Its per-dimension value, averaged over the data, is the diagnostic for *posterior
collapse*: a dimension whose KL is ~0 for every x carries no information about x (its
posterior is the prior), which a large β or a decoder strong enough to model x alone
encourages; warming β up from 0 (:func:`kl_warmup`) lets the code become useful before
the KL term pushes it towards the prior.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from nnlab import creation
from nnlab.autograd.grad_mode import no_grad
from nnlab.models.registry import register_model
from nnlab.nn import functional as F
from nnlab.nn.module import Module
from nnlab.nn.modules.activation import ReLU
from nnlab.nn.modules.container import Sequential
from nnlab.nn.modules.linear import Linear
from nnlab.random import Generator
from nnlab.tensor import Tensor

__all__ = ["VAE", "ELBOTerms", "elbo_loss", "gaussian_kl", "kl_warmup", "reparameterize"]

LIKELIHOODS = ("bernoulli", "gaussian")


def _check_likelihood(where: str, likelihood: str) -> None:
    if likelihood not in LIKELIHOODS:
        raise ValueError(
            f"{where}: likelihood must be one of {list(LIKELIHOODS)}, got {likelihood!r}"
        )


def _check_same_shape(where: str, names: Sequence[str], tensors: Sequence[Tensor]) -> None:
    shapes = [tuple(t.shape) for t in tensors]
    if len(set(shapes)) > 1:
        listed = ", ".join(f"{n} {s}" for n, s in zip(names, shapes))
        raise ValueError(f"{where}: {', '.join(names)} must have the same shape, got {listed}")


def reparameterize(
    mu: Tensor, logvar: Tensor, eps: Tensor | None = None, generator: Generator | None = None
) -> Tensor:
    """A sample of N(mu, exp(logvar)) that is differentiable in mu and logvar:

        z = mu + exp(logvar / 2) · ε,   ∂z/∂mu = 1,   ∂z/∂logvar = exp(logvar / 2) · ε / 2.

    Args:
        mu: the means, any shape.
        logvar: the log-variances log σ², the shape of ``mu``.
        eps: the standard-normal noise ε (default: drawn from ``generator``); passing it
            makes the sample a deterministic function of mu and logvar.
        generator: where ε comes from (default: nnlab's default generator, which
            ``nnlab.manual_seed`` seeds).

    Example:
        >>> import nnlab
        >>> mu, logvar = nnlab.zeros(2, 3), nnlab.zeros(2, 3)
        >>> reparameterize(mu, logvar, eps=nnlab.ones(2, 3))
        tensor([[1., 1., 1.],
                [1., 1., 1.]])
    """
    _check_same_shape("reparameterize", ("mu", "logvar"), (mu, logvar))
    if eps is None:
        eps = creation.randn_like(mu, generator=generator)
    else:
        _check_same_shape("reparameterize", ("mu", "eps"), (mu, eps))
    return mu + (logvar * 0.5).exp() * eps


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, σ²) ‖ N(0, 1)) element by element, σ² = exp(logvar):

        KL = ½ (mu² + σ² − log σ² − 1)   (≥ 0, and 0 only at mu = 0, σ² = 1).

    Sum the result over the latent dimensions for the KL of a diagonal Gaussian; average
    it over examples for the KL per dimension, the posterior-collapse diagnostic.

    Shape:
        - mu, logvar: any shape, the same for both.
        - Output: the same shape.

    Example:
        >>> import nnlab
        >>> gaussian_kl(nnlab.tensor([0.0, 1.0]), nnlab.tensor([0.0, 0.0]))
        tensor([0. , 0.5])
    """
    _check_same_shape("gaussian_kl", ("mu", "logvar"), (mu, logvar))
    return (mu * mu + logvar.exp() - logvar - 1) * 0.5


class ELBOTerms(NamedTuple):
    """The VAE loss and its two terms, each averaged over the batch (and summed over the
    features or latent dimensions of one example): ``loss = reconstruction + beta · kl``;
    with beta = 1, ``loss`` is the negative ELBO in nats per example."""

    loss: Tensor
    reconstruction: Tensor
    kl: Tensor


def elbo_loss(
    reconstruction: Tensor,
    target: Tensor,
    mu: Tensor,
    logvar: Tensor,
    beta: float = 1.0,
    likelihood: str = "bernoulli",
) -> ELBOTerms:
    """The β-weighted negative ELBO of a batch, with its terms kept apart:

        reconstruction = −log p(x | z), summed over the features, then
            Bernoulli: Σᵢ BCEWithLogits(logitᵢ, xᵢ)
            Gaussian (unit variance): Σᵢ ½ (x̂ᵢ − xᵢ)² + (D / 2) · log 2π
        kl = Σⱼ ½ (μⱼ² + σⱼ² − log σⱼ² − 1)
        loss = reconstruction + beta · kl

    all three averaged over the N examples of the batch.

    Args:
        reconstruction: the decoder's output for z sampled from q(z | x): logits for the
            Bernoulli likelihood, means for the Gaussian one; shape (N, D).
        target: the data x, shape (N, D); in [0, 1] for the Bernoulli likelihood (grey
            levels act as soft targets of the binary cross-entropy).
        mu, logvar: the encoder's Gaussian, shape (N, latent_dim) each.
        beta: the weight of the KL term, ≥ 0 (default 1: the ELBO itself).
        likelihood: 'bernoulli' or 'gaussian' (default 'bernoulli').

    Example:
        >>> import nnlab
        >>> terms = elbo_loss(nnlab.zeros(2, 4), nnlab.ones(2, 4), nnlab.zeros(2, 3),
        ...                   nnlab.zeros(2, 3))
        >>> round(terms.reconstruction.item(), 4), terms.kl.item()   # 4 · log 2, 0
        (2.7726, 0.0)
    """
    _check_likelihood("elbo_loss", likelihood)
    _check_same_shape("elbo_loss", ("reconstruction", "target"), (reconstruction, target))
    _check_same_shape("elbo_loss", ("mu", "logvar"), (mu, logvar))
    if reconstruction.ndim != 2 or mu.ndim != 2 or reconstruction.shape[0] != mu.shape[0]:
        raise ValueError(
            "elbo_loss: expected reconstruction and target of shape (N, D) and mu, logvar of "
            f"shape (N, latent_dim), got {tuple(reconstruction.shape)} and {tuple(mu.shape)}"
        )
    if not beta >= 0:  # also rejects NaN
        raise ValueError(f"elbo_loss: beta must be >= 0, got {beta}")
    n, features = reconstruction.shape
    if likelihood == "bernoulli":
        values = target.array
        if values.size and (values.min() < 0 or values.max() > 1):
            raise ValueError(
                "elbo_loss: the Bernoulli likelihood needs targets in [0, 1], got values in "
                f"[{values.min():.4g}, {values.max():.4g}]; scale the data or use "
                "likelihood='gaussian'"
            )
        nll = F.binary_cross_entropy_with_logits(reconstruction, target, reduction="sum") / n
    else:
        squared = F.mse_loss(reconstruction, target, reduction="sum") / n
        nll = squared * 0.5 + 0.5 * features * math.log(2 * math.pi)
    kl = gaussian_kl(mu, logvar).sum() / n
    return ELBOTerms(nll + kl * beta, nll, kl)


def kl_warmup(step: int, warmup_steps: int, beta: float = 1.0) -> float:
    """The β of a linear KL warm-up (annealing) at optimiser step ``step`` (0-based):

        β(step) = beta · min(1, step / warmup_steps),

    0 at the first step, rising linearly to ``beta`` at ``warmup_steps`` and constant
    after; ``warmup_steps = 0`` is no warm-up.

    Example:
        >>> [kl_warmup(s, 4) for s in range(6)]
        [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """
    if step < 0 or warmup_steps < 0:
        raise ValueError(
            f"kl_warmup: step and warmup_steps must be >= 0, got step={step}, "
            f"warmup_steps={warmup_steps}"
        )
    if not beta >= 0:
        raise ValueError(f"kl_warmup: beta must be >= 0, got {beta}")
    if warmup_steps == 0:
        return float(beta)
    return float(beta) * min(1.0, step / warmup_steps)


def _mlp(sizes: Sequence[int]) -> list[Module]:
    """Linear layers through ``sizes`` with a ReLU after each one."""
    layers: list[Module] = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [Linear(fan_in, fan_out), ReLU()]
    return layers


@register_model(
    "vae", reads="features", tasks="reconstruction", own_fit=True, loop="elbo", losses="elbo",
    input_range=(0.0, 1.0),
    args=lambda d: {"in_features": d.input_shape[0], "latent_dim": 8,
                    "hidden": tuple(d.config.hidden_sizes)},
)  # fmt: skip
class VAE(Module):
    """A fully connected variational autoencoder with a Gaussian encoder.

        (μ, log σ²) = encoder(x),   z = μ + σ ⊙ ε,   x̂ = decoder(z)

    The encoder is an MLP (``hidden`` ReLU layers) followed by two Linear heads, ``fc_mu``
    and ``fc_logvar``; the decoder mirrors it (``decoder_hidden``, default ``hidden``
    reversed) and ends in a Linear layer whose output is the logit of each feature
    (Bernoulli likelihood, for data in [0, 1]) or its mean (unit-variance Gaussian).
    Train with :func:`elbo_loss` on ``(*model(x), ...)``, or :meth:`loss`.

    Args:
        in_features: size of each data vector D.
        latent_dim: size of the code z.
        hidden: widths of the encoder's hidden layers (default (256,)).
        likelihood: 'bernoulli' or 'gaussian' (default 'bernoulli').
        decoder_hidden: widths of the decoder's hidden layers (default: ``hidden``
            reversed); wider or deeper than the encoder makes a stronger decoder.

    Shape:
        - Input: (N, in_features).
        - Output: ``(reconstruction, mu, logvar)`` of shapes (N, in_features),
          (N, latent_dim), (N, latent_dim).

    Example:
        >>> import nnlab
        >>> vae = VAE(64, latent_dim=2, hidden=(32,))
        >>> reconstruction, mu, logvar = vae(nnlab.rand(5, 64))
        >>> reconstruction.shape, mu.shape
        (nnlab.Size([5, 64]), nnlab.Size([5, 2]))
        >>> vae.sample(3).shape
        nnlab.Size([3, 64])
    """

    def __init__(
        self,
        in_features: int,
        latent_dim: int,
        hidden: Sequence[int] = (256,),
        likelihood: str = "bernoulli",
        decoder_hidden: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        _check_likelihood("VAE", likelihood)
        for name, value in (("in_features", in_features), ("latent_dim", latent_dim)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"VAE: {name} must be a positive integer, got {value!r}")
        hidden = tuple(hidden)
        decoder_hidden = (
            tuple(reversed(hidden)) if decoder_hidden is None else tuple(decoder_hidden)
        )
        if any(w < 1 for w in hidden + decoder_hidden):
            raise ValueError(
                f"VAE: hidden widths must be positive, got hidden={hidden}, "
                f"decoder_hidden={decoder_hidden}"
            )
        self.in_features = in_features
        self.latent_dim = latent_dim
        self.likelihood = likelihood
        self.encoder = Sequential(*_mlp((in_features, *hidden)))
        width = hidden[-1] if hidden else in_features
        self.fc_mu = Linear(width, latent_dim)
        self.fc_logvar = Linear(width, latent_dim)
        sizes = (latent_dim, *decoder_hidden)
        self.decoder = Sequential(*_mlp(sizes), Linear(sizes[-1], in_features))

    def _check_input(self, x: Tensor, features: int, name: str) -> None:
        if x.ndim != 2 or x.shape[1] != features:
            raise self.shape_error(
                f"(N, {features})", x.shape, f"{name} is a batch of rows of {features} values."
            )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The Gaussian q(z | x): its means and log-variances, (N, latent_dim) each."""
        self._check_input(x, self.in_features, "the input")
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z: Tensor) -> Tensor:
        """The decoder's raw output for codes z: logits (Bernoulli) or means (Gaussian)."""
        self._check_input(z, self.latent_dim, "the code z")
        return self.decoder(z)

    def mean(self, z: Tensor) -> Tensor:
        """E[x | z]: the probabilities σ(logits) (Bernoulli) or the means (Gaussian)."""
        out = self.decode(z)
        return out.sigmoid() if self.likelihood == "bernoulli" else out

    def forward(
        self, x: Tensor, generator: Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, generator=generator)
        return self.decode(z), mu, logvar

    def loss(self, x: Tensor, beta: float = 1.0, generator: Generator | None = None) -> ELBOTerms:
        """:func:`elbo_loss` of the batch x with one sample of z per example."""
        reconstruction, mu, logvar = self(x, generator=generator)
        return elbo_loss(reconstruction, x, mu, logvar, beta=beta, likelihood=self.likelihood)

    def sample(self, n: int, generator: Generator | None = None) -> Tensor:
        """E[x | z] for ``n`` codes drawn from the prior N(0, I), without gradients."""
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"VAE.sample: n must be a non-negative integer, got {n!r}")
        dtype = self.fc_mu.weight.dtype
        with no_grad():
            z = creation.randn(n, self.latent_dim, generator=generator, dtype=dtype)
            return self.mean(z)

    def interpolate(self, x0: Tensor, x1: Tensor, steps: int = 8) -> Tensor:
        """Decode the straight line between the posterior means of two examples:

            z(t) = (1 − t) · μ(x0) + t · μ(x1),   t = 0, 1/(steps − 1), …, 1,

        returning E[x | z(t)] as rows (steps, in_features), without gradients.
        ``x0`` and ``x1`` are single examples of shape (in_features,).
        """
        if steps < 2:
            raise ValueError(f"VAE.interpolate: steps must be >= 2, got {steps}")
        for name, x in (("x0", x0), ("x1", x1)):
            if x.ndim != 1 or x.shape[0] != self.in_features:
                raise self.shape_error(
                    f"({self.in_features},)", x.shape, f"{name} is one example, not a batch."
                )
        with no_grad():
            mu, _ = self.encode(creation.tensor(np.stack([x0.array, x1.array])))
            t = creation.linspace(0.0, 1.0, steps, dtype=mu.dtype).reshape(steps, 1)
            return self.mean(mu[0:1] * (1 - t) + mu[1:2] * t)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, latent_dim={self.latent_dim}, "
            f"likelihood={self.likelihood!r}"
        )
