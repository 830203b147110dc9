"""Quantisation-aware training: prepare copies the weights, gradients reach them through
the fake quantisers, and the converted int8 model computes what the QAT model computed."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.quantization.fake_quantize import fake_quantize_per_channel_affine
from nnlab.quantization.qat import QATLinear, convert, prepare_qat
from nnlab.quantization.quantized_linear import QuantizedLinear


def model_and_data(seed: int):
    nnlab.manual_seed(seed)
    model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 4))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((64, 12)).astype(np.float32)
    y = rng.integers(0, 4, size=64)
    return model, nnlab.tensor(x), nnlab.tensor(y)


def test_prepare_copies_weights_and_leaves_the_model():
    model, x, _ = model_and_data(0)
    prepared = prepare_qat(model, per_channel=False)
    assert [type(m) for m in prepared.children()] == [QATLinear, nn.ReLU, QATLinear]
    assert type(model[0]) is nn.Linear
    np.testing.assert_array_equal(prepared[0].weight.detach().numpy(),
                                  model[0].weight.detach().numpy())  # fmt: skip
    assert prepared[0].weight is not model[0].weight


def test_weight_gradient_is_the_straight_through_estimate():
    # y = x̂ Ŵᵀ + b with Ŵ = fq(W): dL/dW = (dL/dy)ᵀ x̂ where round(W/s) lies in [-128, 127],
    # 0 elsewhere. With torch's symmetric s = max|W| / 127.5, a row's largest positive
    # weight rounds to 128 and is clipped (as in torch): its gradient is 0.
    model, x, _ = model_and_data(1)
    layer = prepare_qat(model)[0]
    layer(x).sum().backward()
    w = layer.weight.detach().numpy()
    scale = (np.abs(w).max(1, keepdims=True) / np.float32(127.5)).astype(np.float32)
    q = np.round(w * (np.float32(1) / scale))
    inside = (q >= -128) & (q <= 127)
    x_hat = layer.activation_fake_quant(x).numpy()
    expected = (np.ones((64, 16), dtype=np.float32).T @ x_hat) * inside
    assert 0 < (~inside).sum() <= 16
    np.testing.assert_allclose(layer.weight.grad.numpy(), expected, rtol=1e-5, atol=1e-5)
    reference = fake_quantize_per_channel_affine(
        layer.weight.detach(), scale.ravel(), np.zeros(16, dtype=np.int64), 0, -128, 127
    )
    np.testing.assert_array_equal(layer.fake_quantized_weight().detach().numpy(),
                                  reference.numpy())  # fmt: skip


@pytest.mark.parametrize("per_channel", [True, False])
def test_converted_model_computes_what_the_trained_qat_model_computed(per_channel):
    model, x, y = model_and_data(2)
    prepared = prepare_qat(model, per_channel)
    opt = nnlab.optim.SGD(prepared.parameters(), lr=0.1)
    losses = []
    for _ in range(15):
        loss = F.cross_entropy(prepared(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    for m in prepared.modules():
        if isinstance(m, QATLinear):
            m.activation_fake_quant.disable_observer()
    prepared.eval()
    converted = convert(prepared)
    assert [type(m) for m in converted.children()] == [QuantizedLinear, nn.ReLU, QuantizedLinear]
    with nnlab.no_grad():
        expected = prepared(x).numpy()
    np.testing.assert_allclose(converted(x).numpy(), expected, rtol=1e-5, atol=1e-5)
