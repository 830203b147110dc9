"""The variational autoencoder: its KL term against the closed form and against
``torch.distributions``, the reparameterised sample's gradient against finite differences,
the reconstruction term against torch's losses, seeded sampling, the KL warm-up, errors.

The KL and the loss have torch twins (``kl_divergence`` of two ``Normal``s, the summed
``binary_cross_entropy_with_logits`` / ``mse_loss``), so they are compared value and
gradient in float32 and float64; the reparameterised sample is new, so it is checked with
float64 gradcheck at a fixed ε, through the whole loss as well as alone.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from torch.distributions import Normal, kl_divergence

import nnlab
from nnlab.autograd import gradcheck
from nnlab.models.vae import VAE, elbo_loss, gaussian_kl, kl_warmup, reparameterize
from nnlab.nn.module import ShapeError
from tests.parity import DTYPES, TOLERANCES, Tol, assert_close

#: float32 sums of a few dozen terms (the loss) keep ~6 significant digits.
FLOAT32_SUM = Tol(rtol=1e-5, atol=1e-5)


def _tol(dtype: np.dtype, summed: bool = False) -> Tol:
    return FLOAT32_SUM if summed and dtype == np.float32 else TOLERANCES[dtype]


def _gaussian(rng: np.random.Generator, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Means and log-variances with large and small variances among them."""
    return rng.standard_normal((n, d)) * 1.5, rng.uniform(-4.0, 3.0, (n, d))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_gaussian_kl_matches_closed_form_and_torch_distributions(dtype: np.dtype) -> None:
    mu, logvar = (a.astype(dtype) for a in _gaussian(np.random.default_rng(0), 5, 7))
    m, lv = nnlab.tensor(mu, requires_grad=True), nnlab.tensor(logvar, requires_grad=True)
    kl = gaussian_kl(m, lv)

    m64, lv64 = mu.astype(np.float64), logvar.astype(np.float64)
    closed = 0.5 * (m64**2 + np.exp(lv64) - lv64 - 1)
    assert_close(kl.detach().numpy().astype(np.float64), closed, _tol(dtype), "KL vs closed form")

    tm = torch.tensor(mu, requires_grad=True)
    tlv = torch.tensor(logvar, requires_grad=True)
    prior = Normal(torch.zeros_like(tm), torch.ones_like(tm))
    expected = kl_divergence(Normal(tm, torch.exp(0.5 * tlv)), prior)
    assert_close(kl.detach().numpy(), expected.detach().numpy(), _tol(dtype), "KL vs torch")

    upstream = np.random.default_rng(1).standard_normal(mu.shape).astype(dtype)
    kl.backward(nnlab.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    assert_close(m.grad.numpy(), tm.grad.numpy(), _tol(dtype), "dKL/dmu")
    assert_close(lv.grad.numpy(), tlv.grad.numpy(), _tol(dtype), "dKL/dlogvar")


def test_gaussian_kl_is_zero_only_at_the_prior() -> None:
    zero = nnlab.zeros(3, dtype=nnlab.float64)
    assert np.array_equal(gaussian_kl(zero, zero).numpy(), np.zeros(3))
    mu, logvar = _gaussian(np.random.default_rng(2), 50, 4)
    assert (gaussian_kl(nnlab.tensor(mu), nnlab.tensor(logvar)).numpy() > 0).all()


def test_reparameterized_sample_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(3)
    mu, logvar = (nnlab.tensor(a, requires_grad=True) for a in _gaussian(rng, 3, 4))
    eps = nnlab.tensor(rng.standard_normal((3, 4)))
    assert gradcheck(lambda m, lv: reparameterize(m, lv, eps=eps), [mu, logvar])


def test_reparameterized_sample_gradient_is_the_formula() -> None:
    """∂z/∂mu = 1 and ∂z/∂logvar = exp(logvar / 2) · ε / 2, for ε drawn inside."""
    mu, logvar = (
        nnlab.tensor(a, requires_grad=True) for a in _gaussian(np.random.default_rng(4), 6, 3)
    )
    generator = nnlab.Generator(11)
    z = reparameterize(mu, logvar, generator=generator)
    eps = nnlab.Generator(11).numpy.standard_normal((6, 3))
    sigma = np.exp(logvar.detach().numpy() / 2)
    np.testing.assert_allclose(z.detach().numpy(), mu.detach().numpy() + sigma * eps, rtol=1e-12)
    z.sum().backward()
    np.testing.assert_array_equal(mu.grad.numpy(), np.ones((6, 3)))
    np.testing.assert_allclose(logvar.grad.numpy(), sigma * eps / 2, rtol=1e-12)


def test_loss_gradient_through_the_sample_matches_finite_differences() -> None:
    """The encoder's outputs reach the loss through the sample and through the KL."""
    rng = np.random.default_rng(5)
    nnlab.manual_seed(0)
    vae = VAE(6, latent_dim=2, hidden=(5,)).double()
    x = nnlab.tensor(rng.uniform(0, 1, (3, 6)))
    eps = nnlab.tensor(rng.standard_normal((3, 2)))
    mu, logvar = (nnlab.tensor(a, requires_grad=True) for a in _gaussian(rng, 3, 2))

    def loss(m: nnlab.Tensor, lv: nnlab.Tensor) -> nnlab.Tensor:
        z = reparameterize(m, lv, eps=eps)
        return elbo_loss(vae.decode(z), x, m, lv, beta=0.7).loss

    assert gradcheck(loss, [mu, logvar])


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_elbo_terms_match_torch_losses(dtype: np.dtype, likelihood: str) -> None:
    rng = np.random.default_rng(6)
    n, d, k, beta = 4, 9, 3, 0.5
    recon = (rng.standard_normal((n, d)) * 2).astype(dtype)
    target = rng.uniform(0, 1, (n, d)).astype(dtype)
    mu, logvar = (a.astype(dtype) for a in _gaussian(rng, n, k))

    inputs = [nnlab.tensor(a, requires_grad=True) for a in (recon, mu, logvar)]
    terms = elbo_loss(inputs[0], nnlab.tensor(target), inputs[1], inputs[2], beta, likelihood)

    t_inputs = [torch.tensor(a, requires_grad=True) for a in (recon, mu, logvar)]
    t_recon, t_mu, t_logvar = t_inputs
    t_target = torch.tensor(target)
    if likelihood == "bernoulli":
        nll = TF.binary_cross_entropy_with_logits(t_recon, t_target, reduction="sum") / n
    else:
        nll = 0.5 * TF.mse_loss(t_recon, t_target, reduction="sum") / n
        nll = nll + 0.5 * d * math.log(2 * math.pi)
    prior = Normal(torch.zeros_like(t_mu), torch.ones_like(t_mu))
    kl = kl_divergence(Normal(t_mu, torch.exp(0.5 * t_logvar)), prior).sum() / n
    t_loss = nll + beta * kl

    tol = _tol(dtype, summed=True)
    for name, ours, theirs in (
        ("reconstruction", terms.reconstruction, nll),
        ("kl", terms.kl, kl),
        ("loss", terms.loss, t_loss),
    ):
        assert_close(ours.detach().numpy(), theirs.detach().numpy(), tol, f"{likelihood} {name}")
    terms.loss.backward()
    t_loss.backward()
    for name, ours, theirs in zip(("recon", "mu", "logvar"), inputs, t_inputs):
        assert_close(ours.grad.numpy(), theirs.grad.numpy(), tol, f"d loss / d {name}")


def test_vae_forward_shapes_and_loss() -> None:
    nnlab.manual_seed(0)
    vae = VAE(10, latent_dim=3, hidden=(8, 6))
    x = nnlab.rand(4, 10)
    recon, mu, logvar = vae(x)
    assert (recon.shape, mu.shape, logvar.shape) == ((4, 10), (4, 3), (4, 3))
    assert [m.out_features for m in vae.decoder if hasattr(m, "out_features")] == [6, 8, 10]
    terms = vae.loss(x, beta=2.0)
    np.testing.assert_allclose(
        terms.loss.item(), terms.reconstruction.item() + 2.0 * terms.kl.item(), rtol=1e-6
    )
    assert "latent_dim=3" in repr(vae)


def test_training_lowers_the_negative_elbo() -> None:
    rng = np.random.default_rng(7)
    prototypes = rng.uniform(0, 1, (4, 12)) > 0.5
    x = nnlab.tensor(prototypes[rng.integers(0, 4, 64)].astype(np.float32))
    nnlab.manual_seed(0)
    vae = VAE(12, latent_dim=2, hidden=(16,))
    opt = nnlab.optim.Adam(vae.parameters(), lr=1e-2)
    evaluation = nnlab.Generator(0)
    before = vae.loss(x, generator=evaluation).loss.item()
    for _ in range(150):
        loss = vae.loss(x).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = vae.loss(x, generator=evaluation.manual_seed(0)).loss.item()
    assert after < 0.5 * before


def test_seeded_sampling_is_reproducible() -> None:
    nnlab.manual_seed(0)
    vae = VAE(5, latent_dim=2, hidden=(4,))
    x = nnlab.rand(3, 5)
    nnlab.manual_seed(1)
    first = [vae(x)[0].detach().numpy(), vae.sample(4).numpy()]
    nnlab.manual_seed(1)
    again = [vae(x)[0].detach().numpy(), vae.sample(4).numpy()]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    own = vae.sample(4, generator=nnlab.Generator(1)).numpy()
    np.testing.assert_array_equal(own, vae.sample(4, generator=nnlab.Generator(1)).numpy())
    assert not np.array_equal(own, vae.sample(4, generator=nnlab.Generator(2)).numpy())
    assert ((first[1] > 0) & (first[1] < 1)).all()  # Bernoulli means are probabilities


def test_interpolation_runs_between_the_two_posterior_means() -> None:
    nnlab.manual_seed(0)
    vae = VAE(6, latent_dim=2, hidden=(4,), likelihood="gaussian")
    x = nnlab.rand(2, 6)
    path = vae.interpolate(x[0], x[1], steps=5)
    assert path.shape == (5, 6)
    mu, _ = vae.encode(x)
    np.testing.assert_allclose(path.numpy()[[0, -1]], vae.mean(mu).detach().numpy(), atol=1e-6)
    midpoint = vae.mean((mu[0:1] + mu[1:2]) * 0.5).detach().numpy()[0]
    np.testing.assert_allclose(path.numpy()[2], midpoint, atol=1e-6)


def test_kl_warmup_is_linear_then_constant() -> None:
    assert [kl_warmup(s, 4) for s in range(7)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert kl_warmup(5, 10, beta=4.0) == pytest.approx(2.0)
    assert kl_warmup(0, 0, beta=3.0) == 3.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: kl_warmup(-1, 10), "step and warmup_steps must be >= 0"),
        (lambda: kl_warmup(1, -10), "step and warmup_steps must be >= 0"),
        (lambda: kl_warmup(1, 10, beta=-1.0), "beta must be >= 0"),
        (lambda: reparameterize(nnlab.zeros(2, 3), nnlab.zeros(2, 4)), r"logvar \(2, 4\)"),
        (
            lambda: reparameterize(nnlab.zeros(2, 3), nnlab.zeros(2, 3), eps=nnlab.zeros(3)),
            r"mu, eps must have the same shape",
        ),
        (lambda: gaussian_kl(nnlab.zeros(2), nnlab.zeros(3)), "gaussian_kl: mu, logvar"),
        (
            lambda: elbo_loss(nnlab.zeros(2, 4), nnlab.ones(2, 4) * 2, *[nnlab.zeros(2, 3)] * 2),
            r"targets in \[0, 1\], got values in \[2, 2\]",
        ),
        (
            lambda: elbo_loss(nnlab.zeros(2, 4), nnlab.ones(2, 5), *[nnlab.zeros(2, 3)] * 2),
            r"reconstruction \(2, 4\), target \(2, 5\)",
        ),
        (
            lambda: elbo_loss(nnlab.zeros(2, 4), nnlab.ones(2, 4), *[nnlab.zeros(3, 3)] * 2),
            r"shape \(N, latent_dim\), got \(2, 4\) and \(3, 3\)",
        ),
        (
            lambda: elbo_loss(*[nnlab.zeros(2, 4)] * 2, *[nnlab.zeros(2, 3)] * 2, beta=-0.1),
            "beta must be >= 0",
        ),
        (
            lambda: elbo_loss(*[nnlab.zeros(2, 4)] * 4, likelihood="poisson"),
            "likelihood must be one of",
        ),
        (lambda: VAE(8, latent_dim=0), "latent_dim must be a positive integer, got 0"),
        (lambda: VAE(8, 2, likelihood="laplace"), "VAE: likelihood must be one of"),
        (lambda: VAE(8, 2, hidden=(4, 0)), "hidden widths must be positive"),
        (lambda: VAE(8, 2, hidden=(4,)).sample(-1), "n must be a non-negative integer"),
        (
            lambda: VAE(8, 2, hidden=(4,)).interpolate(nnlab.zeros(8), nnlab.zeros(8), 1),
            "steps must be >= 2, got 1",
        ),
    ],
)
def test_bad_arguments_raise_clear_errors(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_input_shapes_name_the_expected_shape() -> None:
    vae = VAE(8, latent_dim=2, hidden=(4,))
    with pytest.raises(ShapeError, match=r"expected input of shape \(N, 8\), got \(3, 7\)"):
        vae(nnlab.zeros(3, 7))
    with pytest.raises(ShapeError, match=r"\(N, 2\), got \(3, 3\).*the code z"):
        vae.decode(nnlab.zeros(3, 3))
    with pytest.raises(ShapeError, match=r"\(8,\), got \(1, 8\).*x0 is one example"):
        vae.interpolate(nnlab.zeros(1, 8), nnlab.zeros(8))
