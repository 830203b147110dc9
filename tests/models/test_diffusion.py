"""DDPM: the noise schedules against their closed forms, the posterior against Gaussian
conditioning worked out independently, the forward process's moments by Monte Carlo with
bounds from the sample size, the ε-prediction loss by hand, its gradients by float64
gradcheck, and ancestral sampling (seeded, exact on a point mass).

torch has no diffusion model, so nothing here is a torch parity check.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import nnlab
from nnlab.autograd import gradcheck
from nnlab.models.diffusion import (
    DDPMScheduler,
    DenoisingMLP,
    cosine_beta_schedule,
    ddpm_sample,
    diffusion_loss,
    get_timestep_embedding,
    linear_beta_schedule,
)

pytestmark = pytest.mark.usefixtures("one_blas_thread")


# -- schedules ---------------------------------------------------------------------------


def test_linear_schedule_is_evenly_spaced_from_start_to_end():
    betas = linear_beta_schedule(5, 0.1, 0.5)
    np.testing.assert_allclose(betas, [0.1, 0.2, 0.3, 0.4, 0.5], rtol=0, atol=1e-15)
    assert betas.dtype == np.float64


def test_cosine_schedule_follows_nichol_and_dhariwal():
    T, s = 50, 0.008
    betas = cosine_beta_schedule(T)

    def f(t):
        return math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2

    for t in range(T):
        expected = min(1 - f(t + 1) / f(t), 0.999)
        assert betas[t] == pytest.approx(expected, rel=1e-12, abs=1e-15)
    # ᾱ_t = f(t+1)/f(0) wherever the cap does not bite (the product telescopes)
    alpha_bar = np.cumprod(1 - betas)
    uncapped = np.cumprod(betas < 0.999).astype(bool)
    expected = np.array([f(t + 1) / f(0) for t in range(T)])
    np.testing.assert_allclose(alpha_bar[uncapped], expected[uncapped], rtol=1e-12)
    assert betas[-1] == 0.999  # f(T) = 0 would make β = 1: the cap keeps it invertible


@pytest.mark.parametrize("schedule", ["linear", "squaredcos_cap_v2"])
def test_scheduler_tables_are_alpha_and_its_running_product(schedule):
    sch = DDPMScheduler(40, beta_schedule=schedule)
    betas = sch.betas.numpy()
    np.testing.assert_array_equal(sch.alphas.numpy(), 1 - betas)
    for t in (0, 1, 17, 39):
        assert sch.alphas_cumprod.numpy()[t] == pytest.approx(math.prod(1 - betas[: t + 1]))
    assert sch.timesteps.tolist() == list(range(39, -1, -1))


def posterior_by_conditioning(ab_t, ab_prev, x0, xt):
    """Mean and variance of x' given x_t and x_0, from Bayes' rule on the two Gaussians
    x' | x_0 ~ N(√ᾱ' x_0, 1 - ᾱ') and x_t | x' ~ N(√α x', β), α = ᾱ_t/ᾱ' (precisions
    add; the mean is the precision-weighted average)."""
    alpha = ab_t / ab_prev
    beta = 1 - alpha
    precision = 1 / (1 - ab_prev) + alpha / beta
    variance = 1 / precision
    mean = variance * (math.sqrt(ab_prev) * x0 / (1 - ab_prev) + math.sqrt(alpha) * xt / beta)
    return mean, variance


@pytest.mark.parametrize("schedule", ["linear", "squaredcos_cap_v2"])
@pytest.mark.parametrize("stride", [1, 7])
def test_posterior_mean_and_variance_match_gaussian_conditioning(schedule, stride):
    sch = DDPMScheduler(100, beta_schedule=schedule)
    ab = sch.alphas_cumprod.numpy()
    x0, xt = 0.7, -1.3
    t = np.arange(stride, 100, 5)
    c0, ct = sch.posterior_mean_coefficients(t, t - stride)
    variance = sch.get_variance(t, t - stride)
    for i, ti in enumerate(t):
        mean_ref, var_ref = posterior_by_conditioning(ab[ti], ab[ti - stride], x0, xt)
        assert c0[i] * x0 + ct[i] * xt == pytest.approx(mean_ref, rel=1e-10, abs=1e-12)
        assert variance[i] == pytest.approx(var_ref, rel=1e-10, abs=1e-15)


def test_fixed_large_variance_is_beta_and_first_step_posterior_is_exact():
    sch = DDPMScheduler(10, variance_type="fixed_large")
    np.testing.assert_allclose(sch.get_variance(np.arange(1, 10)), sch.betas.numpy()[1:])
    small = DDPMScheduler(10)
    assert small.get_variance(0)[0] == 0.0  # from x_0 itself there is nothing to guess
    c0, ct = small.posterior_mean_coefficients(0)
    assert (c0[0], ct[0]) == (1.0, 0.0)


# -- the forward process -----------------------------------------------------------------


def moment_bounds(n, variance, z=5.0):
    """z standard errors of a sample mean and of an unbiased sample variance of n normal
    draws (Var(s²) = 2σ⁴/(n-1))."""
    return z * math.sqrt(variance / n), z * variance * math.sqrt(2 / (n - 1))


@pytest.mark.parametrize("t", [0, 30, 99])
def test_add_noise_has_the_moments_of_q_xt_given_x0(t):
    sch = DDPMScheduler(100, beta_schedule="squaredcos_cap_v2")
    ab = sch.alphas_cumprod.numpy()[t]
    n = 20000
    x0 = nnlab.tensor(np.tile([[1.5, -0.5]], (n, 1)))
    noise = nnlab.randn(n, 2, generator=nnlab.Generator(7), dtype=nnlab.float64)
    xt = sch.add_noise(x0, noise, np.full(n, t)).numpy()
    mean_tol, var_tol = moment_bounds(n, 1 - ab)
    np.testing.assert_allclose(xt.mean(0), math.sqrt(ab) * np.array([1.5, -0.5]), atol=mean_tol)
    np.testing.assert_allclose(xt.var(0, ddof=1), 1 - ab, atol=var_tol)


def test_add_noise_in_one_go_matches_the_step_by_step_chain():
    """x_t from t+1 small steps x ← √α x + √β z has the moments add_noise gives in one."""
    sch = DDPMScheduler(20, beta_start=0.01, beta_end=0.2)
    rng = np.random.default_rng(3)
    n, t = 20000, 12
    x = np.full(n, 0.8)
    for k in range(t + 1):
        beta = sch.betas.numpy()[k]
        x = math.sqrt(1 - beta) * x + math.sqrt(beta) * rng.standard_normal(n)
    ab = sch.alphas_cumprod.numpy()[t]
    mean_tol, var_tol = moment_bounds(n, 1 - ab)
    assert abs(x.mean() - math.sqrt(ab) * 0.8) < mean_tol
    assert abs(x.var(ddof=1) - (1 - ab)) < var_tol
    one_go = sch.add_noise(nnlab.tensor([[0.8]]), nnlab.tensor([[1.0]]), t).item()
    assert one_go == pytest.approx(math.sqrt(ab) * 0.8 + math.sqrt(1 - ab))


def test_add_noise_keeps_the_sample_dtype_and_takes_one_timestep_per_sample():
    sch = DDPMScheduler(10)
    x0 = nnlab.ones(3, 2, 2)
    out = sch.add_noise(x0, nnlab.zeros(3, 2, 2), nnlab.tensor([0, 5, 9]))
    assert out.dtype == nnlab.float32 and out.shape == (3, 2, 2)
    expected = np.sqrt(sch.alphas_cumprod.numpy()[[0, 5, 9]])
    np.testing.assert_allclose(out.numpy()[:, 0, 0], expected, rtol=1e-6)


# -- the network and the loss ------------------------------------------------------------


def test_timestep_embedding_is_sines_then_cosines_of_geometric_frequencies():
    emb = get_timestep_embedding(np.array([0, 3, 250]), 8, dtype=nnlab.float64).numpy()
    freqs = 10000.0 ** (-np.arange(4) / 3)  # 1 down to 1/10000
    for row, t in zip(emb, (0, 3, 250)):
        np.testing.assert_allclose(row, np.r_[np.sin(t * freqs), np.cos(t * freqs)], atol=1e-12)
    odd = get_timestep_embedding([1, 2], 7).numpy()
    assert odd.shape == (2, 7) and (odd[:, -1] == 0).all()


def affine_eps(x, t):
    """A stand-in ε-network whose output is easy to compute by hand."""
    return 0.5 * x + nnlab.tensor(0.01 * np.asarray(t, dtype=np.float64)).reshape(-1, 1)


def test_loss_is_the_mean_squared_noise_error_computed_by_hand():
    sch = DDPMScheduler(30, beta_schedule="squaredcos_cap_v2")
    rng = np.random.default_rng(0)
    x0, eps = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    t = np.array([0, 7, 19, 29])
    loss = diffusion_loss(affine_eps, sch, nnlab.tensor(x0), t, nnlab.tensor(eps)).item()
    ab = sch.alphas_cumprod.numpy()[t][:, None]
    xt = np.sqrt(ab) * x0 + np.sqrt(1 - ab) * eps
    expected = np.mean((eps - (0.5 * xt + 0.01 * t[:, None])) ** 2)
    assert loss == pytest.approx(expected, rel=1e-12)


def test_loss_draws_timesteps_and_noise_from_the_generator():
    sch = DDPMScheduler(30)
    nnlab.manual_seed(0)
    model = DenoisingMLP(2, hidden_size=8, num_blocks=1)
    x0 = nnlab.randn(16, 2)
    a = diffusion_loss(model, sch, x0, generator=nnlab.Generator(5)).item()
    b = diffusion_loss(model, sch, x0, generator=nnlab.Generator(5)).item()
    c = diffusion_loss(model, sch, x0, generator=nnlab.Generator(6)).item()
    assert a == b and a != c


def test_loss_gradients_pass_gradcheck_in_float64():
    sch = DDPMScheduler(20, beta_schedule="squaredcos_cap_v2")
    nnlab.manual_seed(0)
    model = DenoisingMLP(3, hidden_size=4, num_blocks=1, time_embed_dim=4, dtype=nnlab.float64)
    rng = np.random.default_rng(1)
    x0 = nnlab.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    eps = nnlab.tensor(rng.standard_normal((3, 3)))
    t = np.array([1, 10, 19])
    params = list(model.parameters())

    def loss(x, *weights):
        # gradcheck nudges the parameters' arrays in place, so the model sees each nudge
        return diffusion_loss(model, sch, x, t, eps)

    assert gradcheck(loss, [x0, *params], eps=1e-6, atol=1e-5, rtol=1e-3)


def test_network_output_has_the_input_shape_and_dtype():
    model = DenoisingMLP(64, hidden_size=16, num_blocks=2, dtype=nnlab.float64)
    out = model(nnlab.randn(5, 64, dtype=nnlab.float64), 3)
    assert out.shape == (5, 64) and out.dtype == nnlab.float64
    assert sorted(dict(model.named_parameters())) == sorted(
        ["time_embedding.0.weight", "time_embedding.0.bias", "time_embedding.2.weight",
         "time_embedding.2.bias", "input.weight", "input.bias", "blocks.0.weight",
         "blocks.0.bias", "blocks.1.weight", "blocks.1.bias", "output.weight", "output.bias"]
    )  # fmt: skip


# -- sampling ----------------------------------------------------------------------------


def test_sampling_is_reproducible_under_a_seed_and_shape_correct():
    sch = DDPMScheduler(25)
    nnlab.manual_seed(0)
    model = DenoisingMLP(2, hidden_size=8, num_blocks=1)
    a = ddpm_sample(model, sch, (6, 2), generator=nnlab.Generator(1))
    b = ddpm_sample(model, sch, (6, 2), generator=nnlab.Generator(1))
    c = ddpm_sample(model, sch, (6, 2), generator=nnlab.Generator(2))
    assert a.shape == (6, 2) and a.dtype == nnlab.float32 and not a.requires_grad
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())
    nnlab.manual_seed(4)
    d = ddpm_sample(model, sch, (6, 2), num_inference_steps=5)
    nnlab.manual_seed(4)
    e = ddpm_sample(model, sch, (6, 2), num_inference_steps=5)
    np.testing.assert_array_equal(d.numpy(), e.numpy())


def test_set_timesteps_spaces_steps_evenly_from_zero():
    sch = DDPMScheduler(100)
    sch.set_timesteps(4)
    assert sch.timesteps.tolist() == [75, 50, 25, 0]
    assert [sch.previous_timestep(t) for t in sch.timesteps] == [50, 25, 0, -25]


@pytest.mark.parametrize("steps", [None, 7])
def test_sampling_with_the_true_noise_of_a_point_mass_returns_the_point(steps):
    """For data that is always c, ε = (x_t - √ᾱ_t c)/√(1 - ᾱ_t) exactly, so every x̂_0 is
    c and the last step (no noise, weight 1 on x̂_0) lands on c."""
    sch = DDPMScheduler(50, beta_schedule="squaredcos_cap_v2", clip_sample=False)
    ab = sch.alphas_cumprod.numpy()
    c = np.array([2.5, -1.0])

    def true_eps(x, t):
        a = ab[np.asarray(t)][:, None]
        return (x - nnlab.tensor(np.sqrt(a) * c)) / nnlab.tensor(np.sqrt(1 - a))

    out = ddpm_sample(true_eps, sch, (3, 2), steps, nnlab.Generator(0), dtype=nnlab.float64)
    np.testing.assert_allclose(out.numpy(), np.tile(c, (3, 1)), rtol=1e-9)


def test_step_adds_the_posterior_noise_from_the_generator():
    sch = DDPMScheduler(10, clip_sample=False)
    x = nnlab.tensor(np.array([[0.3, -0.2]]))
    eps = nnlab.tensor(np.array([[0.1, 0.4]]))
    out = sch.step(eps, 6, x, generator=nnlab.Generator(3))
    ab = sch.alphas_cumprod.numpy()
    x0 = (x.numpy() - math.sqrt(1 - ab[6]) * eps.numpy()) / math.sqrt(ab[6])
    np.testing.assert_allclose(out.pred_original_sample.numpy(), x0, rtol=1e-12)
    mean, var = posterior_by_conditioning(ab[6], ab[5], x0, x.numpy())
    z = nnlab.Generator(3).numpy.standard_normal((1, 2))
    np.testing.assert_allclose(out.prev_sample.numpy(), mean + math.sqrt(var) * z, rtol=1e-10)


# -- errors ------------------------------------------------------------------------------


def test_errors_name_the_argument_the_expected_and_the_received():
    sch = DDPMScheduler(10)
    x = nnlab.zeros(2, 3)
    with pytest.raises(ValueError, match=r"timesteps must lie in 0\.\.9.*got values from 0 to 10"):
        sch.add_noise(x, x, [0, 10])
    with pytest.raises(ValueError, match=r"from -1 to -1"):
        sch.add_noise(x, x, -1)
    with pytest.raises(ValueError, match=r"one per sample, shape \(2,\), got shape \(3,\)"):
        sch.add_noise(x, x, [1, 2, 3])
    with pytest.raises(TypeError, match="timesteps must be integers"):
        sch.add_noise(x, x, [0.5, 1.0])
    with pytest.raises(ValueError, match=r"noise must have the samples' shape \(2, 3\)"):
        sch.add_noise(x, nnlab.zeros(2, 4), 0)
    with pytest.raises(ValueError, match=r"model_output must have the sample's shape"):
        sch.step(nnlab.zeros(2, 4), 3, x)
    with pytest.raises(ValueError, match="timestep must lie in 0..9"):
        sch.step(x, 10, x)
    with pytest.raises(ValueError, match=r"num_inference_steps must be an int in 1\.\.10"):
        sch.set_timesteps(11)
    with pytest.raises(
        ValueError,
        match=r"prev_timesteps must be below timesteps, got prev \[5\] for timesteps \[5\]",
    ):
        sch.get_variance(5, 5)
    with pytest.raises(ValueError, match="beta_schedule must be one of"):
        DDPMScheduler(10, beta_schedule="cosine")
    with pytest.raises(ValueError, match="variance_type must be one of"):
        DDPMScheduler(10, variance_type="learned")
    with pytest.raises(ValueError, match="num_train_timesteps must be a positive int"):
        DDPMScheduler(0)
    model = DenoisingMLP(3, hidden_size=4, num_blocks=1)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3\), got \(2, 1, 3\)"):
        model(nnlab.zeros(2, 1, 3), 0)
    with pytest.raises(ValueError, match=r"timesteps \(2,\), one per sample"):
        model(nnlab.zeros(2, 3), [0, 1, 2])
    with pytest.raises(ValueError, match=r"shape must be \(N, \*\) of positive sizes"):
        ddpm_sample(model, sch, (0, 3))
