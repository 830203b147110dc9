"""The gradient attributions (saliency, gradient × input, SmoothGrad, integrated gradients)
checked against independent properties.

- On a linear score f(x) = w·x + c every method has a closed form: saliency |w|, gradient ×
  input w ⊙ x, integrated gradients w ⊙ (x − b) for any quadrature (the gradient is
  constant along the path), SmoothGrad |w| whatever the noise.
- On a smooth non-linear model integrated gradients obey completeness, Σ_i IG_i = f(x) −
  f(b), within the quadrature error, which shrinks as O(1/n²) for the trapezoid rule.
- The input gradient itself agrees with torch's autograd on the same MLP.
- The model's ``.grad`` fields and train/eval mode are left as they were; bad input raises.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnlab
from nnlab import nn
from nnlab.attribution.input_x_gradient import InputXGradient
from nnlab.attribution.integrated_gradients import (
    METHODS,
    IntegratedGradients,
    approximation_parameters,
)
from nnlab.attribution.noise_tunnel import NoiseTunnel, SmoothGrad
from nnlab.attribution.saliency import Saliency

RNG = np.random.default_rng(0)


def linear_model(features: int = 6, classes: int = 3) -> nn.Linear:
    nnlab.manual_seed(0)
    return nn.Linear(features, classes).double()


def tanh_mlp() -> nn.Sequential:
    nnlab.manual_seed(1)
    return nn.Sequential(
        nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3)
    ).double()


def weights(model: nn.Linear) -> np.ndarray:
    return model.weight.detach().numpy()


def test_linear_closed_forms():
    model = linear_model()
    x = RNG.normal(size=(4, 6))
    b = RNG.normal(size=6)
    target = np.array([0, 2, 1, 2])
    w = weights(model)[target]  # (4, 6): the explained row of W per example
    np.testing.assert_allclose(Saliency(model).attribute(x, target=target), np.abs(w), atol=1e-14)
    np.testing.assert_allclose(
        Saliency(model).attribute(x, target=target, abs=False), w, atol=1e-14
    )
    np.testing.assert_allclose(InputXGradient(model).attribute(x, target=target), w * x, atol=1e-14)
    for method in METHODS:
        ig = IntegratedGradients(model).attribute(
            x, baselines=b, target=target, n_steps=7, method=method
        )
        np.testing.assert_allclose(ig, w * (x - b), atol=1e-12, err_msg=method)
    smooth = SmoothGrad(model).attribute(x, target=target, nt_samples=3, stdevs=2.0)
    np.testing.assert_allclose(smooth, np.abs(w), atol=1e-14)


@pytest.mark.parametrize("method", METHODS)
def test_quadrature_weights_sum_to_one_and_points_lie_on_the_path(method):
    alphas, w = approximation_parameters(method, 9)
    assert alphas.shape == w.shape == (9,)
    assert abs(w.sum() - 1) < 1e-14
    assert alphas.min() >= 0 and alphas.max() <= 1


def test_integrated_gradients_completeness_error_shrinks_with_steps():
    model = tanh_mlp()
    x = RNG.normal(size=(5, 5)) * 2
    b = RNG.normal(size=(5, 5)) * 0.1
    ig = IntegratedGradients(model)
    with nnlab.no_grad():
        f = model(nnlab.tensor(x)).numpy()[:, 1] - model(nnlab.tensor(b)).numpy()[:, 1]
    errors = []
    for n in (4, 16, 64):
        a, delta = ig.attribute(x, b, target=1, n_steps=n, method="riemann_trapezoid",
                                return_convergence_delta=True)  # fmt: skip
        # The delta is what it claims to be: the sum's miss of f(x) − f(b).
        np.testing.assert_allclose(delta, a.sum(1) - f, atol=1e-12)
        errors.append(np.abs(delta).max())
    # Trapezoid rule: error O(1/n²), so ×4 steps cuts it about 16×; ask for 8×.
    assert errors[0] > 8 * errors[1] > 64 * errors[2]
    assert errors[2] < 1e-3 * np.abs(f).max()
    # Gauss–Legendre at Captum's default 50 points is exact to rounding on a smooth model.
    _, delta = ig.attribute(x, b, target=1, return_convergence_delta=True)
    assert np.abs(delta).max() < 1e-10


def test_integrated_gradients_chunked_equals_one_batch_and_matches_a_finer_rule():
    model = tanh_mlp()
    x = RNG.normal(size=(3, 5))
    ig = IntegratedGradients(model)
    whole = ig.attribute(x, target=2, n_steps=20)
    chunked = ig.attribute(x, target=2, n_steps=20, internal_batch_size=7)
    np.testing.assert_allclose(chunked, whole, atol=1e-13)
    midpoint = ig.attribute(x, target=2, n_steps=400, method="riemann_middle")
    np.testing.assert_allclose(midpoint, whole, atol=1e-5)


def test_smoothgrad_with_zero_noise_is_saliency_and_is_seeded():
    model = tanh_mlp()
    x = RNG.normal(size=(4, 5))
    saliency = Saliency(model).attribute(x, target=0)
    smooth = SmoothGrad(model).attribute(x, target=0, stdevs=0.0)
    np.testing.assert_allclose(smooth, saliency, rtol=1e-15, atol=0)  # a mean of 5 equal maps
    nt = NoiseTunnel(Saliency(model))
    nnlab.manual_seed(3)
    first = nt.attribute(x, nt_samples=4, stdevs=0.5, target=0)
    nnlab.manual_seed(3)
    np.testing.assert_array_equal(nt.attribute(x, nt_samples=4, stdevs=0.5, target=0), first)
    assert not np.allclose(first, saliency)
    var = nt.attribute(x, nt_type="vargrad", nt_samples=4, stdevs=0.0, target=0)
    np.testing.assert_array_equal(var, np.zeros_like(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_input_gradient_matches_torch(dtype):
    nnlab.manual_seed(2)
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3)).to(dtype)
    ref = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    ref.to(torch.float64 if dtype == np.float64 else torch.float32)
    ref.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    x = RNG.normal(size=(6, 5)).astype(dtype)
    target = np.array([0, 1, 2, 0, 1, 2])
    xt = torch.tensor(x, requires_grad=True)
    ref(xt)[torch.arange(6), torch.tensor(target)].sum().backward()
    tol = 1e-6 if dtype == np.float32 else 1e-13
    got = InputXGradient(model).attribute(x, target=target)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, x * xt.grad.numpy(), rtol=tol, atol=tol)


def test_model_grads_and_mode_are_left_untouched():
    model = tanh_mlp().train()
    x = RNG.normal(size=(2, 5))
    for method in (Saliency(model), InputXGradient(model), IntegratedGradients(model)):
        method.attribute(x, target=1)
    SmoothGrad(model).attribute(x, target=1, nt_samples=2, stdevs=0.1)
    assert model.training
    assert all(p.grad is None for p in model.parameters())


def test_bad_inputs_raise_clear_errors():
    model = linear_model()
    x = RNG.normal(size=(2, 6))
    with pytest.raises(ValueError, match="batch"):
        Saliency(model).attribute(np.ones(6), target=0)
    with pytest.raises(ValueError, match="out of range for 3 classes"):
        Saliency(model).attribute(x, target=3)
    with pytest.raises(ValueError, match="one per input row"):
        Saliency(model).attribute(x, target=[0, 1, 2])
    with pytest.raises(TypeError, match="class indices"):
        Saliency(model).attribute(x, target=0.5)
    with pytest.raises(ValueError, match="give target="):
        InputXGradient(model).attribute(x)
    with pytest.raises(TypeError, match="numbers"):
        Saliency(model).attribute(np.array([["a"]]), target=0)
    with pytest.raises(ValueError, match="do not broadcast"):
        IntegratedGradients(model).attribute(x, baselines=np.zeros(5), target=0)
    with pytest.raises(ValueError, match="method must be one of"):
        IntegratedGradients(model).attribute(x, target=0, method="simpson")
    with pytest.raises(ValueError, match="n_steps must be an int ≥ 2"):
        IntegratedGradients(model).attribute(x, target=0, n_steps=1, method="riemann_trapezoid")
    with pytest.raises(ValueError, match="nt_type"):
        NoiseTunnel(Saliency(model)).attribute(x, nt_type="smooth", target=0)
    with pytest.raises(TypeError, match="attribution method"):
        NoiseTunnel(model)
    with pytest.raises(TypeError, match="callable"):
        Saliency(3)
