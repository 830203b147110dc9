"""``sigmoid_focal_loss`` and ``FocalLoss``: parity with torchvision's formula written in
torch (torchvision is not installed; its function is these five lines of torch ops), float64
gradcheck and gradgradcheck, and the closed cases (γ = 0 without α is binary
cross-entropy; α weighs positives and negatives)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnlab
import nnlab.nn.functional as F
from nnlab.autograd import gradcheck, gradgradcheck
from nnlab.nn.modules.focal_loss import FocalLoss
from nnlab.ops.focal_loss import sigmoid_focal_loss
from tests.parity import TOLERANCES


def torchvision_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    """torchvision.ops.sigmoid_focal_loss (v0.20), verbatim in torch ops."""
    p = torch.sigmoid(inputs)
    ce_loss = torch.nn.functional.binary_cross_entropy_with_logits(
        inputs, targets, reduction="none"
    )
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _sample(seed: int, shape=(4, 5)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = 4 * rng.standard_normal(shape)
    y = (rng.uniform(size=shape) < 0.3).astype(np.float64)
    y.flat[0] = 0.7  # a soft label
    return z, y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize(("alpha", "gamma"), [(0.25, 2), (-1, 2), (0.6, 0.5), (0.25, 0)])
def test_matches_torchvision_values_and_gradients(dtype, reduction, alpha, gamma) -> None:
    z, y = _sample(7)
    z, y = z.astype(dtype), y.astype(dtype)
    zn = nnlab.tensor(z, requires_grad=True)
    zt = torch.tensor(z, requires_grad=True)
    ours = sigmoid_focal_loss(zn, nnlab.tensor(y), alpha, gamma, reduction)
    theirs = torchvision_focal_loss(zt, torch.tensor(y), alpha, gamma, reduction)
    tol = TOLERANCES[np.dtype(dtype)]
    assert ours.dtype == np.dtype(dtype) and ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(
        ours.detach().numpy(), theirs.detach().numpy(), rtol=tol.rtol, atol=tol.atol
    )
    upstream = np.random.default_rng(1).standard_normal(ours.shape).astype(dtype)
    ours.backward(nnlab.tensor(upstream))
    theirs.backward(torch.tensor(upstream))
    np.testing.assert_allclose(zn.grad.numpy(), zt.grad.numpy(), rtol=tol.rtol, atol=tol.atol)


@pytest.mark.parametrize(("alpha", "gamma"), [(0.25, 2), (-1, 1.5), (0.9, 3)])
def test_gradcheck_float64(alpha, gamma) -> None:
    z, y = _sample(3, shape=(3, 4))
    zn = nnlab.tensor(z, requires_grad=True)
    yn = nnlab.tensor(y, requires_grad=True)  # the target's gradient is checked too

    def loss(a, b):
        return sigmoid_focal_loss(a, b, alpha, gamma, "none")

    assert gradcheck(loss, (zn, yn))
    assert gradgradcheck(loss, (zn, yn))


def test_gamma_zero_without_alpha_is_bce_with_logits() -> None:
    z, y = _sample(11)
    ours = sigmoid_focal_loss(nnlab.tensor(z), nnlab.tensor(y), alpha=-1, gamma=0)
    bce = F.binary_cross_entropy_with_logits(nnlab.tensor(z), nnlab.tensor(y), reduction="none")
    np.testing.assert_allclose(ours.numpy(), bce.numpy(), rtol=1e-12, atol=0)


def test_hand_formula_float64() -> None:
    z, y = _sample(5)
    p = 1 / (1 + np.exp(-z))
    ce = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    p_t = p * y + (1 - p) * (1 - y)
    expected = (0.25 * y + 0.75 * (1 - y)) * (1 - p_t) ** 2 * ce
    ours = sigmoid_focal_loss(nnlab.tensor(z), nnlab.tensor(y))
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-9, atol=1e-15)


def test_easy_examples_are_weighed_down() -> None:
    # p_t = 0.9 at z = ln 9: the factor (1 - p_t)^2 = 0.01 of the cross-entropy
    z = nnlab.tensor([np.log(9.0)], dtype=nnlab.float64)
    focal = sigmoid_focal_loss(z, nnlab.tensor([1.0]), alpha=-1, gamma=2).item()
    ce = -np.log(0.9)
    assert focal == pytest.approx(0.01 * ce, rel=1e-12)


def test_module_is_the_mean_of_the_function() -> None:
    z, y = _sample(2)
    module = FocalLoss(alpha=0.4, gamma=1.0)
    expected = sigmoid_focal_loss(nnlab.tensor(z), nnlab.tensor(y), 0.4, 1.0, "mean")
    assert module(nnlab.tensor(z), nnlab.tensor(y)).item() == pytest.approx(expected.item())
    assert repr(module) == "FocalLoss(alpha=0.4, gamma=1.0, reduction='mean')"
    assert list(module.state_dict()) == []


def test_bad_input_is_named() -> None:
    z = nnlab.zeros(3)
    with pytest.raises(ValueError, match="sigmoid_focal_loss: target shape"):
        sigmoid_focal_loss(z, nnlab.zeros(4))
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        sigmoid_focal_loss(z, nnlab.zeros(3), gamma=-1)
    with pytest.raises(ValueError, match="Invalid Value for arg 'reduction'"):
        sigmoid_focal_loss(z, nnlab.zeros(3), reduction="avg")
    with pytest.raises(ValueError, match="FocalLoss: alpha"):
        FocalLoss(alpha=2)
