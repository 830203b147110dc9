"""Tests of the GAN models and losses.

* The losses against torch's ``binary_cross_entropy_with_logits`` (values and gradients,
  float32 and float64), and the saturation that motivates the non-saturating loss.
* The gradient penalty: its value and the critic's parameter gradients (a double backward)
  against a torch implementation with ``create_graph=True`` on the same weights, for the
  MLP critic and the DCGAN critic; its gradient by ``gradcheck`` in float64.
* Output shapes, the conditional generator's use of its label, and clear errors.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from parity import Tol, assert_close, rng_for

import nnlab
from nnlab.autograd import gradcheck
from nnlab.models.gan import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    discriminator_loss,
    gradient_penalty,
    minimax_generator_loss,
    non_saturating_generator_loss,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)

pytestmark = pytest.mark.usefixtures("one_blas_thread")

#: Short sums of a few dozen terms: float32 agrees to ~1e-6 relative, float64 to ~1e-12.
TOL = {np.float32: Tol(rtol=1e-5, atol=1e-6), np.float64: Tol(rtol=1e-10, atol=1e-12)}
DTYPES = [np.float32, np.float64]


def _logits(dtype, *names):
    rng = rng_for("gan", *names)
    return [rng.normal(scale=3.0, size=n).astype(dtype) for n in (7, 5)]


def _both(array):
    return nnlab.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_discriminator_loss_is_bce_real_one_fake_zero(dtype):
    real, fake = _logits(dtype, "d")
    (ours_r, theirs_r), (ours_f, theirs_f) = _both(real), _both(fake)
    ours = discriminator_loss(ours_r, ours_f)
    theirs = TF.binary_cross_entropy_with_logits(
        theirs_r, torch.ones_like(theirs_r)
    ) + TF.binary_cross_entropy_with_logits(theirs_f, torch.zeros_like(theirs_f))
    ours.backward()
    theirs.backward()
    assert ours.dtype == nnlab.tensor(real).dtype
    assert_close(ours.detach().numpy(), theirs.detach().numpy(), TOL[dtype], "discriminator_loss")
    assert_close(ours_r.grad.numpy(), theirs_r.grad.numpy(), TOL[dtype], "grad real")
    assert_close(ours_f.grad.numpy(), theirs_f.grad.numpy(), TOL[dtype], "grad fake")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("loss", "reference"),
    [
        (
            minimax_generator_loss,
            lambda s: -TF.binary_cross_entropy_with_logits(s, torch.zeros_like(s)),
        ),
        (
            non_saturating_generator_loss,
            lambda s: TF.binary_cross_entropy_with_logits(s, torch.ones_like(s)),
        ),
        (wasserstein_generator_loss, lambda s: -s.mean()),
    ],
)
def test_generator_losses_match_torch(dtype, loss, reference):
    _, fake = _logits(dtype, loss.__name__)
    ours_f, theirs_f = _both(fake)
    ours, theirs = loss(ours_f), reference(theirs_f)
    ours.backward()
    theirs.backward()
    assert_close(ours.detach().numpy(), theirs.detach().numpy(), TOL[dtype], loss.__name__)
    assert_close(ours_f.grad.numpy(), theirs_f.grad.numpy(), TOL[dtype], "grad fake")


@pytest.mark.parametrize("dtype", DTYPES)
def test_wasserstein_critic_loss_matches_torch(dtype):
    real, fake = _logits(dtype, "w")
    (ours_r, theirs_r), (ours_f, theirs_f) = _both(real), _both(fake)
    ours = wasserstein_critic_loss(ours_r, ours_f)
    theirs = theirs_f.mean() - theirs_r.mean()
    ours.backward()
    theirs.backward()
    assert_close(ours.detach().numpy(), theirs.detach().numpy(), TOL[dtype], "critic loss")
    assert_close(ours_r.grad.numpy(), theirs_r.grad.numpy(), TOL[dtype], "grad real")


def test_minimax_loss_saturates_where_non_saturating_does_not():
    # Fakes confidently rejected (logit -10): dL/ds = -σ(s)/N ≈ 0 versus (σ(s) - 1)/N ≈ -1/N.
    grads = []
    for loss in (minimax_generator_loss, non_saturating_generator_loss):
        s = nnlab.full((4,), -10.0, dtype=nnlab.float64, requires_grad=True)
        loss(s).backward()
        grads.append(s.grad.numpy())
    assert np.all(np.abs(grads[0]) < 1e-4 / 4)
    np.testing.assert_allclose(grads[1], -0.25, rtol=1e-4)


def _torch_penalty(critic, real, fake, alpha):
    alpha = alpha.reshape(-1, *[1] * (real.ndim - 1))
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_()
    (g,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((g.reshape(len(g), -1).norm(2, dim=1) - 1) ** 2).mean()


def _grad_or_zero(param):
    weight = param.detach().numpy()
    return np.zeros_like(weight) if param.grad is None else param.grad.detach().numpy()


def _mlp_twin(ours: MLPDiscriminator) -> torch.nn.Module:
    twin = torch.nn.Sequential(
        torch.nn.Linear(6, 5), torch.nn.LeakyReLU(0.2), torch.nn.Linear(5, 1), torch.nn.Flatten(0)
    )
    for name, p in ours.net.named_parameters():
        twin.get_parameter(name).data = torch.from_numpy(p.detach().numpy().copy())
    return twin


def _dcgan_twin(ours: DCGANDiscriminator) -> torch.nn.Module:
    c = ours.channels
    convs = [torch.nn.Conv2d(1, c, 4, 2, 1), torch.nn.Conv2d(c, 2 * c, 4, 2, 1)]
    twin = torch.nn.Sequential(
        convs[0], torch.nn.LeakyReLU(0.2), convs[1], torch.nn.LeakyReLU(0.2),
        torch.nn.Flatten(), torch.nn.Linear(2 * c * 16, 1), torch.nn.Flatten(0),
    )  # fmt: skip
    pairs = [(convs[0], ours.conv1), (convs[1], ours.conv2), (twin[5], ours.head[1])]
    for theirs, mine in pairs:
        theirs.weight.data = torch.from_numpy(mine.weight.detach().numpy().copy())
        theirs.bias.data = torch.from_numpy(mine.bias.detach().numpy().copy())
    return twin


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("build", "twin", "shape"),
    [
        (lambda: MLPDiscriminator(6, hidden=(5,)), _mlp_twin, (4, 6)),
        (lambda: DCGANDiscriminator(2, double_backward=True), _dcgan_twin, (3, 1, 16, 16)),
    ],
    ids=["mlp", "dcgan"],
)
def test_gradient_penalty_and_its_double_backward_match_torch(dtype, build, twin, shape):
    nnlab.manual_seed(0)
    critic = build().to(dtype)
    theirs_critic = twin(critic)
    rng = rng_for("penalty", str(shape))
    real, fake = (rng.normal(size=shape).astype(dtype) for _ in range(2))
    alpha = rng.uniform(size=shape[0]).astype(dtype)
    ours = gradient_penalty(
        critic, nnlab.tensor(real), nnlab.tensor(fake), alpha=nnlab.tensor(alpha)
    )
    theirs = _torch_penalty(theirs_critic, *(torch.from_numpy(a) for a in (real, fake, alpha)))
    ours.backward()
    theirs.backward()
    tol = TOL[dtype] if dtype == np.float64 else Tol(rtol=1e-4, atol=1e-5)
    assert_close(ours.detach().numpy(), theirs.detach().numpy(), tol, "gradient penalty")
    # The penalty does not depend on the last bias (nor, through leaky ReLU, on others):
    # libraries may leave such gradients unset, which means zero.
    theirs_grads = [_grad_or_zero(p) for p in theirs_critic.parameters()]
    ours_grads = [_grad_or_zero(p) for p in critic.parameters()]
    assert len(ours_grads) == len(theirs_grads)
    for k, (a, e) in enumerate(zip(ours_grads, theirs_grads)):
        assert_close(a, e, tol, f"parameter {k} gradient")


def test_gradient_penalty_gradient_passes_gradcheck():
    # A smooth functional critic C(x) = tanh(x W1ᵀ) w2 so finite differences are exact to
    # O(ε²); gradients with respect to the weights and both sample sets.
    rng = rng_for("gradcheck-penalty")
    w1, w2, real, fake = (rng.normal(size=s) for s in [(5, 3), (5,), (4, 3), (4, 3)])
    alpha = nnlab.tensor(rng.uniform(size=4))

    def penalty(w1, w2, real, fake):
        return gradient_penalty(lambda x: (x @ w1.T).tanh() @ w2, real, fake, alpha=alpha)

    inputs = [nnlab.tensor(a, requires_grad=True) for a in (w1, w2, real, fake)]
    assert gradcheck(penalty, inputs)


def test_gradient_penalty_is_zero_for_a_unit_slope_critic():
    # C(x) = x·u with ||u|| = 1 has gradient norm exactly 1 everywhere.
    u = nnlab.tensor([0.6, 0.8], dtype=nnlab.float64)
    real, fake = nnlab.randn(5, 2, dtype=nnlab.float64), nnlab.randn(5, 2, dtype=nnlab.float64)
    assert gradient_penalty(lambda x: x @ u, real, fake).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("model", "inputs", "shape"),
    [
        (MLPGenerator(8, 64), (nnlab.randn(3, 8),), (3, 64)),
        (MLPDiscriminator(64), (nnlab.randn(3, 64),), (3,)),
        (DCGANGenerator(8, 4), (nnlab.randn(3, 8),), (3, 1, 16, 16)),
        (DCGANDiscriminator(4), (nnlab.randn(3, 1, 16, 16),), (3,)),
        (DCGANGenerator(8, 4, num_classes=10), (nnlab.randn(1, 8), [7]), (1, 1, 16, 16)),
        (DCGANDiscriminator(4, num_classes=10), (nnlab.randn(2, 1, 16, 16), [1, 2]), (2,)),
        (MLPGenerator(8, 64, num_classes=3), (nnlab.randn(2, 8), [0, 2]), (2, 64)),
        (MLPDiscriminator(64, num_classes=3), (nnlab.randn(2, 64), [0, 2]), (2,)),
    ],
)
def test_output_shapes(model, inputs, shape):
    out = model(*inputs)
    assert out.shape == shape
    if out.ndim > 1:  # generators end in tanh
        assert np.all(np.abs(out.detach().numpy()) < 1)


def test_double_backward_discriminator_computes_the_same_scores():
    nnlab.manual_seed(0)
    d = DCGANDiscriminator(3, num_classes=4)
    x, labels = nnlab.randn(2, 1, 16, 16), [3, 0]
    fused = d(x, labels).detach().numpy()
    d.double_backward = True
    np.testing.assert_allclose(d(x, labels).detach().numpy(), fused, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "build",
    [lambda: MLPGenerator(4, 6, num_classes=3), lambda: DCGANGenerator(4, 2, num_classes=3)],
)
def test_conditional_generator_uses_its_label(build):
    nnlab.manual_seed(0)
    g = build().eval()  # batch norm on running statistics: each sample on its own
    z = nnlab.randn(1, 4).expand(3, 4)
    out = g(z, nnlab.tensor([0, 1, 2])).detach().numpy().reshape(3, -1)
    assert not np.allclose(out[0], out[1]) and not np.allclose(out[1], out[2])
    g.train()
    g(z, [0, 1, 2]).sum().backward()
    assert np.abs(g.label_embedding.weight.grad.numpy()).sum() > 0


def _penalty_of(critic, fake_rows):
    return lambda: gradient_penalty(critic, nnlab.randn(3, 2), nnlab.randn(fake_rows, 2))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: MLPGenerator(8)(nnlab.randn(2, 5)), ValueError, r"input of shape \(N, 8\)"),
        (lambda: MLPGenerator(8, num_classes=3)(nnlab.randn(2, 8)), ValueError, "needs labels"),
        (lambda: MLPGenerator(8)(nnlab.randn(2, 8), [0, 1]), ValueError, "unconditional"),
        (
            lambda: MLPDiscriminator(4, num_classes=3)(nnlab.randn(2, 4), [0]),
            ValueError,
            r"labels of shape \(2,\)",
        ),
        (lambda: DCGANDiscriminator(2)(nnlab.randn(2, 1, 8, 8)), ValueError, "upsample"),
        (lambda: MLPGenerator(8, num_classes=0), ValueError, "num_classes must be a positive"),
        (
            lambda: discriminator_loss(nnlab.randn(3, 1), nnlab.randn(3)),
            ValueError,
            "real_logits must be one score per sample",
        ),
        (lambda: non_saturating_generator_loss(np.zeros(3)), TypeError, "must be a Tensor"),
        (_penalty_of(lambda x: x.sum(1), 4), ValueError, "same shape"),
        (_penalty_of(lambda x: x, 3), ValueError, r"one score per sample \(3,\)"),
    ],
)
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()
