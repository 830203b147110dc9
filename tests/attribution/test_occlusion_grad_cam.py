"""Occlusion, Grad-CAM and deletion curves against hand computations.

- Occlusion on a linear score is a closed form: with a one-feature window, w_i (x_i − b_i);
  with a larger window, the mean over the windows covering i of their summed w·(x − b).
- Grad-CAM on a tiny CNN equals ReLU(Σ_c α_c A^c) with α_c the spatial mean of the
  gradient, the gradient written out by hand for a ReLU → Flatten → Linear head.
- A deletion curve on a linear score is f(x) minus the running sum of the sorted
  attributions w ⊙ (x − b).
- The sanity check's rank correlation agrees with scipy's Spearman.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import spearmanr

import nnlab
from nnlab import nn
from nnlab.attribution.base import LayerAttribution
from nnlab.attribution.deletion import deletion_curve
from nnlab.attribution.grad_cam import LayerGradCam
from nnlab.attribution.occlusion import Occlusion
from nnlab.attribution.sanity import rank_correlation

RNG = np.random.default_rng(1)


def image_linear_model() -> tuple[nn.Sequential, np.ndarray]:
    """f(x) = W · flatten(x) + c on (1, 4, 5) images, and W as (classes, 1, 4, 5)."""
    nnlab.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(20, 3)).double()
    return model, model[1].weight.detach().numpy().reshape(3, 1, 4, 5)


def test_occlusion_with_one_feature_window_is_w_times_x_minus_b():
    model, w = image_linear_model()
    x = RNG.normal(size=(3, 1, 4, 5))
    b = RNG.normal(size=(1, 4, 5))
    a = Occlusion(model).attribute(
        x, sliding_window_shapes=(1, 1, 1), baselines=b, target=[2, 0, 1]
    )
    np.testing.assert_allclose(a, w[[2, 0, 1]] * (x - b), atol=1e-12)


def test_occlusion_with_patches_is_the_mean_of_the_covering_windows():
    model, w = image_linear_model()
    x = RNG.normal(size=(2, 1, 4, 5))
    contribution = w[1] * x  # baseline 0: removing a set S drops the score by Σ_S w x
    expected = np.zeros_like(x)
    counts = np.zeros((1, 4, 5))
    for r, c in itertools.product(range(0, 3, 2), range(0, 4, 1)):  # (2, 2) windows, stride (2, 1)
        drop = contribution[:, :, r : r + 2, c : c + 2].sum(axis=(1, 2, 3))
        expected[:, :, r : r + 2, c : c + 2] += drop[:, None, None, None]
        counts[:, r : r + 2, c : c + 2] += 1
    expected /= counts
    occlusion = Occlusion(model)
    for per_eval in (1, 3):
        a = occlusion.attribute(
            x, (1, 2, 2), strides=(1, 2, 1), target=1, perturbations_per_eval=per_eval
        )
        np.testing.assert_allclose(a, expected, atol=1e-12)


def test_occlusion_errors():
    model, _ = image_linear_model()
    x = np.zeros((1, 1, 4, 5))
    with pytest.raises(ValueError, match="one per input dim after the batch"):
        Occlusion(model).attribute(x, (2, 2), target=0)
    with pytest.raises(ValueError, match="larger than an input"):
        Occlusion(model).attribute(x, (1, 5, 1), target=0)
    with pytest.raises(ValueError, match="perturbations_per_eval"):
        Occlusion(model).attribute(x, (1, 1, 1), target=0, perturbations_per_eval=0)


def tiny_cnn() -> tuple[nn.Sequential, nn.Conv2d]:
    nnlab.manual_seed(4)
    layer = nn.Conv2d(2, 3, 3, padding=1)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.ReLU(),
        layer,
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(3 * 5 * 5, 4),
    ).double()
    return model, layer


def test_grad_cam_equals_the_hand_computation():
    model, layer = tiny_cnn()
    x = RNG.normal(size=(3, 1, 5, 5))
    target = np.array([3, 0, 2])
    with nnlab.no_grad():
        activation = model[2](model[1](model[0](nnlab.tensor(x)))).numpy()  # (3, 3, 5, 5)
    head = model[5].weight.detach().numpy().reshape(4, 3, 5, 5)
    # score = Σ W_t · ReLU(A) + c, so ∂score/∂A = W_t where A > 0, else 0.
    gradient = head[target] * (activation > 0)
    alpha = gradient.mean(axis=(2, 3), keepdims=True)
    expected = np.maximum((alpha * activation).sum(1, keepdims=True), 0)
    cam = LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=True)
    np.testing.assert_allclose(cam, expected, atol=1e-12)
    signed = LayerGradCam(model, layer).attribute(x, target=target)
    np.testing.assert_allclose(signed, (alpha * activation).sum(1, keepdims=True), atol=1e-12)
    channels = LayerGradCam(model, layer).attribute(x, target=target, attr_dim_summation=False)
    np.testing.assert_allclose(channels, alpha * activation, atol=1e-12)
    assert all(p.grad is None for p in model.parameters())


def test_interpolate_nearest_repeats_each_cell():
    cam = RNG.normal(size=(2, 1, 2, 3))
    up = LayerAttribution.interpolate(cam, (4, 6))
    np.testing.assert_array_equal(up, np.kron(cam, np.ones((2, 2))))
    with pytest.raises(ValueError, match="spatial"):
        LayerAttribution.interpolate(np.ones((2, 3)), (4, 4))


def test_grad_cam_errors():
    model, _ = tiny_cnn()
    with pytest.raises(ValueError, match="not a submodule"):
        LayerGradCam(model, nn.Conv2d(1, 1, 1))
    with pytest.raises(TypeError, match="must be a Module"):
        LayerGradCam(model, "conv")
    with pytest.raises(ValueError, match="spatial"):
        LayerGradCam(model, model[5]).attribute(np.zeros((1, 1, 5, 5)), target=0)


def test_deletion_curve_on_a_linear_score_is_the_running_sum():
    model, w = image_linear_model()
    x = RNG.normal(size=(2, 1, 4, 5))
    b = 0.5
    a = w[0] * (x - b)
    fractions, scores = deletion_curve(model, x, a, target=0, baselines=b, n_steps=20)
    with nnlab.no_grad():
        f_x = model(nnlab.tensor(x)).numpy()[:, 0]
    ranked = -np.sort(-a.reshape(2, -1), axis=1)
    expected = f_x[:, None] - np.concatenate([np.zeros((2, 1)), np.cumsum(ranked, 1)], 1)
    np.testing.assert_allclose(fractions, np.arange(21) / 20)
    np.testing.assert_allclose(scores, expected, atol=1e-12)
    with pytest.raises(ValueError, match="shaped like the inputs"):
        deletion_curve(model, x, a[0], target=0)


def test_rank_correlation_agrees_with_scipy():
    a = RNG.normal(size=(4, 2, 3, 3))
    b = a + RNG.normal(size=a.shape)
    b[0, 0, 0] = 0.0  # ties
    got = rank_correlation(a, b, abs=False)
    expected = [spearmanr(u.ravel(), v.ravel()).statistic for u, v in zip(a, b)]
    np.testing.assert_allclose(got, expected, atol=1e-12)
    np.testing.assert_allclose(rank_correlation(a, -a), 1.0)
    with pytest.raises(ValueError, match="same shape"):
        rank_correlation(a, b[:2])
