"""Fake quantisation: forward against torch.fake_quantize_*_affine, and the straight-through
gradient against a hand-computed mask and against torch's gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnlab
from nnlab.quantization.fake_quantize import (
    FakeQuantize,
    fake_quantize_per_channel_affine,
    fake_quantize_per_tensor_affine,
)
from nnlab.quantization.observers import MinMaxObserver, PerChannelMinMaxObserver


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_straight_through_gradient_is_the_inside_range_mask(dtype):
    # scale 0.5, zero point 2 on [0, 7]: representable reals are [-1, 2.5]; round(x/s)+z must
    # land in [0, 7], so x/s rounds into [-2, 5], i.e. x < -1.25 or x > 2.75 is clipped
    # (ties at ±.25 are avoided). Hand-computed: y, and a gradient equal to g inside, 0 out.
    x = np.array([-3.0, -1.3, -1.2, -0.3, 0.0, 0.6, 2.4, 2.7, 2.8, 9.0], dtype=dtype)
    expected_y = np.array([-1.0, -1.0, -1.0, -0.5, 0.0, 0.5, 2.5, 2.5, 2.5, 2.5], dtype=dtype)
    expected_mask = np.array([0, 0, 1, 1, 1, 1, 1, 1, 0, 0], dtype=dtype)
    g = np.arange(1, 11, dtype=dtype)
    xt = nnlab.tensor(x, requires_grad=True)
    y = fake_quantize_per_tensor_affine(xt, 0.5, 2, 0, 7)
    y.backward(nnlab.tensor(g))
    np.testing.assert_array_equal(y.detach().numpy(), expected_y)
    np.testing.assert_array_equal(xt.grad.numpy(), g * expected_mask)
    assert y.dtype == xt.dtype


@pytest.mark.parametrize("quant_min, quant_max, zero_point", [(0, 255, 97), (-128, 127, 0)])
def test_per_tensor_matches_torch_values_and_gradient(quant_min, quant_max, zero_point):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(500) * 3).astype(np.float32)
    g = rng.standard_normal(500).astype(np.float32)
    xt = nnlab.tensor(x, requires_grad=True)
    y = fake_quantize_per_tensor_affine(xt, 0.021, zero_point, quant_min, quant_max)
    y.backward(nnlab.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.fake_quantize_per_tensor_affine(tx, 0.021, zero_point, quant_min, quant_max)
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(xt.grad.numpy(), tx.grad.numpy())
    assert 0 < (xt.grad.numpy() == 0).sum() < 500  # both clipped and unclipped entries


def test_per_channel_matches_torch_values_and_gradient():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((4, 30)) * rng.uniform(0.1, 3, size=(1, 30))).astype(np.float32)
    g = rng.standard_normal((4, 30)).astype(np.float32)
    scale = rng.uniform(0.005, 0.02, size=30).astype(np.float32)
    zero_point = rng.integers(-10, 10, size=30)
    xt = nnlab.tensor(x, requires_grad=True)
    y = fake_quantize_per_channel_affine(xt, scale, zero_point, 1, -128, 127)
    y.backward(nnlab.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.fake_quantize_per_channel_affine(
        tx, torch.tensor(scale), torch.tensor(zero_point, dtype=torch.int32), 1, -128, 127
    )
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(xt.grad.numpy(), tx.grad.numpy())


def test_fake_quantize_module_uses_its_observer_and_can_be_switched_off():
    rng = np.random.default_rng(2)
    x = nnlab.tensor(rng.standard_normal((8, 5)).astype(np.float32))
    fq = FakeQuantize()
    y = fq(x)
    observer = MinMaxObserver()
    observer(x)
    scale, zero_point = observer.calculate_qparams()
    expected = fake_quantize_per_tensor_affine(x, scale.numpy(), zero_point.numpy(), 0, 255)
    np.testing.assert_array_equal(y.numpy(), expected.numpy())
    fq.disable_observer()
    fq(x * 10)  # not observed: the range stays
    assert float(fq.activation_post_process.max_val) == float(x.numpy().max())
    fq.disable_fake_quant()
    assert fq(x) is x


def test_per_channel_fake_quantize_module():
    w = nnlab.tensor(np.random.default_rng(3).standard_normal((3, 6)).astype(np.float32))
    fq = FakeQuantize(PerChannelMinMaxObserver, ch_axis=0)
    observer = PerChannelMinMaxObserver(ch_axis=0)
    observer(w)
    scale, zero_point = observer.calculate_qparams()
    expected = torch.fake_quantize_per_channel_affine(
        torch.tensor(w.numpy()), torch.tensor(scale.numpy()),
        torch.tensor(zero_point.numpy(), dtype=torch.int32), 0, -128, 127,
    )  # fmt: skip
    np.testing.assert_array_equal(fq(w).numpy(), expected.numpy())


def test_bad_arguments_raise_clear_errors():
    x = nnlab.zeros(3, 4)
    with pytest.raises(ValueError, match="quant_min < quant_max"):
        fake_quantize_per_tensor_affine(x, 0.1, 0, 5, 5)
    with pytest.raises(ValueError, match="scale must be positive"):
        fake_quantize_per_tensor_affine(x, -0.1, 0, 0, 255)
    with pytest.raises(ValueError, match="expected 4 scales"):
        fake_quantize_per_channel_affine(x, np.ones(3), np.zeros(3), 1, -128, 127)
