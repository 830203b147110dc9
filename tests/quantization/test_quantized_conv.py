"""Post-training quantised Conv2d: the integer path against a float64 second implementation
of the convolution, the error against the rounding bound, per-channel against per-tensor
kernels, the 4x smaller weights, the model-level swap and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.quantization.observers import MinMaxObserver, dequantize, quantize_per_tensor
from nnlab.quantization.quantized_conv import QuantizedConv2d
from nnlab.quantization.quantized_linear import QuantizedLinear, quantize_model, weight_nbytes

GEOMETRIES = [
    dict(stride=1, padding=0, dilation=1),
    dict(stride=2, padding=1, dilation=1),
    dict(stride=(1, 2), padding=(2, 1), dilation=2),
    dict(stride=1, padding="same", dilation=1),
]


def data(seed: int, shape: tuple[int, ...] = (3, 2, 9, 8)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 1.5 + 0.2).astype(np.float32)


def conv2d_f64(x, w, conv: nn.Conv2d) -> np.ndarray:
    """Direct float64 convolution, one kernel offset at a time (no im2col), no bias."""
    left, right, top, bottom = conv._reversed_padding_repeated_twice
    x = np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (top, bottom), (left, right)))
    w = np.asarray(w, np.float64)
    (kh, kw), (sh, sw), (dh, dw) = conv.kernel_size, conv.stride, conv.dilation
    h_out = (x.shape[2] - dh * (kh - 1) - 1) // sh + 1
    w_out = (x.shape[3] - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((x.shape[0], w.shape[0], h_out, w_out))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i * dh : i * dh + sh * h_out : sh, j * dw : j * dw + sw * w_out : sw]
            y += np.einsum("nchw,oc->nohw", patch[:, :, :h_out, :w_out], w[:, :, i, j])
    return y


def calibrated(conv: nn.Conv2d, x: np.ndarray, per_channel: bool) -> QuantizedConv2d:
    observer = MinMaxObserver()
    observer(nnlab.tensor(x))
    scale, zero_point = observer.calculate_qparams()
    return QuantizedConv2d.from_float(conv, scale.numpy(), zero_point.numpy(), per_channel)


def dequantised_weight(q: QuantizedConv2d) -> np.ndarray:
    scale = q.weight_scale.numpy()
    scale = scale.reshape(-1, 1, 1, 1) if q.per_channel else scale
    return q.weight.numpy().astype(np.float64) * np.asarray(scale, np.float64)


@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_integer_path_equals_the_convolution_of_dequantised_operands(geometry, per_channel):
    nnlab.manual_seed(0)
    conv = nn.Conv2d(2, 5, 3, **geometry)
    x = data(0)
    q = calibrated(conv, x, per_channel)
    x_hat = dequantize(quantize_per_tensor(x, q.scale.numpy(), q.zero_point.numpy())).numpy()
    bias = conv.bias.detach().numpy().reshape(1, -1, 1, 1)
    expected = conv2d_f64(x_hat, dequantised_weight(q), conv) + bias
    y_q = q(nnlab.tensor(x)).numpy()
    assert y_q.dtype == np.float32
    np.testing.assert_allclose(y_q, expected, rtol=1e-5, atol=1e-5)
    # the reference convolution is the float layer's own on unquantised operands
    with nnlab.no_grad():
        y = conv(nnlab.tensor(x)).numpy()
    np.testing.assert_allclose(y, conv2d_f64(x, conv.weight.detach().numpy(), conv) + bias,
                               rtol=1e-5, atol=1e-5)  # fmt: skip


@pytest.mark.parametrize("per_channel", [True, False])
def test_error_against_the_float_layer_is_within_the_rounding_bound(per_channel):
    # x̂ = x + eₓ, Ŵ = W + e_w with |eₓ| ≤ sₓ/2, |e_w| ≤ s_w/2 (no clipping: the test data
    # is the calibration data; padding is exact), so per output
    # |ŷ - y| ≤ sₓ/2 Σ|Wₒ| + s_w[o]/2 Σ_window |x| + C·K·sₓ·s_w[o]/4.
    nnlab.manual_seed(1)
    conv = nn.Conv2d(2, 4, 3, stride=2, padding=1)
    x = data(1)
    q = calibrated(conv, x, per_channel)
    with nnlab.no_grad():
        y = conv(nnlab.tensor(x)).numpy().astype(np.float64)
    error = np.abs(q(nnlab.tensor(x)).numpy() - y)
    s_x = float(q.scale.numpy())
    s_w = np.broadcast_to(q.weight_scale.numpy(), (4,)).reshape(1, -1, 1, 1)
    w = np.abs(conv.weight.detach().numpy())
    window_sum = conv2d_f64(np.abs(x), np.ones((1, 2, 3, 3)), conv)  # (N, 1, H', W')
    bound = (
        s_x / 2 * w.sum((1, 2, 3)).reshape(1, -1, 1, 1)
        + window_sum * s_w / 2
        + 2 * 9 * s_x * s_w / 4
    )
    assert error.max() > 0
    assert np.all(error <= bound + 1e-5)


def test_per_channel_kernels_are_closer_when_channels_differ_in_scale():
    nnlab.manual_seed(2)
    conv = nn.Conv2d(2, 6, 3, padding=1)
    with nnlab.no_grad():
        conv.weight.mul_(nnlab.tensor(np.logspace(-2, 0, 6, dtype=np.float32)[:, None, None, None]))
    x = data(2)
    with nnlab.no_grad():
        y = conv(nnlab.tensor(x)).numpy()
    weight_errors, output_errors = [], []
    for per_channel in (False, True):
        q = calibrated(conv, x, per_channel)
        w_error = np.abs(dequantised_weight(q) - conv.weight.detach().numpy())
        weight_errors.append(w_error.mean())
        output_errors.append(np.abs(q(nnlab.tensor(x)).numpy() - y).mean())
    assert weight_errors[1] < weight_errors[0] / 2
    assert output_errors[1] <= output_errors[0]


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(6, 8, 3, stride=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 3 * 3, 10),
    )


def test_quantize_model_swaps_convs_and_keeps_most_predictions():
    nnlab.manual_seed(3)
    model = small_cnn()
    x = data(3, (200, 1, 8, 8))
    quantized = quantize_model(model, [x[:100], x[100:]], per_channel=True)
    kinds = [type(m).__name__ for m in quantized.children()]
    assert kinds == ["QuantizedConv2d", "ReLU", "QuantizedConv2d", "ReLU", "Flatten",
                     "QuantizedLinear"]  # fmt: skip
    assert all(type(m) not in (QuantizedConv2d, QuantizedLinear) for m in model.modules())
    # the second conv sees ReLU outputs: its input range starts at 0, so z = 0
    assert int(quantized[2].zero_point.numpy()) == 0
    with nnlab.no_grad():
        y = model(nnlab.tensor(x)).numpy().astype(np.float64)
    y_q = quantized(nnlab.tensor(x)).numpy()
    error = np.abs(y_q - y).max(1)
    assert error.max() < 0.05 * np.abs(y).max()
    # a row whose float top-2 margin exceeds twice its largest logit error keeps its class
    top2 = np.sort(y, axis=1)[:, -2:]
    wide = top2[:, 1] - top2[:, 0] > 2 * error
    same = y_q.argmax(1) == y.argmax(1)
    assert np.all(same[wide])
    assert wide.mean() >= 0.8 and same.mean() >= 0.9


def test_int8_kernels_take_four_times_fewer_bytes():
    model = small_cnn()
    quantized = quantize_model(model, [data(4, (8, 1, 8, 8))])
    assert weight_nbytes(model) == 4 * weight_nbytes(quantized)
    assert weight_nbytes(quantized) == 6 * 9 + 8 * 6 * 9 + 72 * 10
    assert quantized[0].weight.dtype == nnlab.int8


def test_bad_inputs_raise_clear_errors():
    q = QuantizedConv2d.from_float(nn.Conv2d(2, 3, 3), 0.1, 128)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 2, H, W\)"):
        q(nnlab.zeros(1, 3, 5, 5))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 2, H, W\)"):
        q(nnlab.zeros(2, 5, 5))
    with pytest.raises(ValueError, match="H \\+ 0 ≥ 3"):
        q(nnlab.zeros(1, 2, 2, 5))
    with pytest.raises(TypeError, match="expects an nn.Conv2d"):
        QuantizedConv2d.from_float(nn.Linear(2, 3), 0.1, 128)
    with pytest.raises(ValueError, match="groups=1 only, got groups=2"):
        QuantizedConv2d.from_float(nn.Conv2d(2, 4, 3, groups=2), 0.1, 128)
    with pytest.raises(ValueError, match="padding_mode='zeros' only, got padding_mode='reflect'"):
        QuantizedConv2d.from_float(nn.Conv2d(2, 4, 3, padding=1, padding_mode="reflect"), 0.1, 128)
