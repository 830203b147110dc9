"""Post-training quantised Linear: the integer path against a float64 second
implementation, the error against the rounding bound, the 4x smaller weights, and the
model-level swap."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.quantization.observers import MinMaxObserver, dequantize, quantize_per_tensor
from nnlab.quantization.quantized_linear import QuantizedLinear, quantize_model, weight_nbytes


def data(seed: int, n: int = 40, features: int = 24) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, features)) * 1.5 + 0.2).astype(np.float32)


def calibrated(linear: nn.Linear, x: np.ndarray, per_channel: bool) -> QuantizedLinear:
    observer = MinMaxObserver()
    observer(nnlab.tensor(x))
    scale, zero_point = observer.calculate_qparams()
    return QuantizedLinear.from_float(linear, scale.numpy(), zero_point.numpy(), per_channel)


@pytest.mark.parametrize("per_channel", [True, False])
def test_integer_path_equals_the_product_of_dequantised_operands(per_channel):
    nnlab.manual_seed(0)
    linear = nn.Linear(24, 7)
    x = data(0)
    q = calibrated(linear, x, per_channel)
    x_hat = dequantize(quantize_per_tensor(x, q.scale.numpy(), q.zero_point.numpy())).numpy()
    scale = q.weight_scale.numpy().reshape(-1, 1) if per_channel else q.weight_scale.numpy()
    w_hat = q.weight.numpy().astype(np.float64) * scale
    expected = x_hat.astype(np.float64) @ w_hat.T + linear.bias.detach().numpy()
    np.testing.assert_allclose(q(nnlab.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("per_channel", [True, False])
def test_error_against_the_float_layer_is_within_the_rounding_bound(per_channel):
    # x̂ = x + eₓ, Ŵ = W + e_w with |eₓ| ≤ sₓ/2, |e_w| ≤ s_w/2 (no clipping: the test data
    # is the calibration data), so |ŷ - y| ≤ Σₖ sₓ/2 |Wₒₖ| + |xₙₖ| s_w/2 + sₓ s_w/4.
    nnlab.manual_seed(1)
    linear = nn.Linear(24, 7)
    x = data(1)
    q = calibrated(linear, x, per_channel)
    with nnlab.no_grad():
        y = linear(nnlab.tensor(x)).numpy().astype(np.float64)
    error = np.abs(q(nnlab.tensor(x)).numpy() - y)
    s_x = float(q.scale.numpy())
    s_w = np.broadcast_to(q.weight_scale.numpy(), (7,))
    w = np.abs(linear.weight.detach().numpy())
    bound = (
        s_x / 2 * w.sum(1)[None, :]
        + np.abs(x).sum(1, keepdims=True) * s_w[None, :] / 2
        + 24 * s_x * s_w[None, :] / 4
    )
    assert error.max() > 0
    assert np.all(error <= bound + 1e-5)


def test_per_channel_weights_are_closer_when_rows_differ_in_scale():
    nnlab.manual_seed(2)
    linear = nn.Linear(24, 6)
    with nnlab.no_grad():
        linear.weight.mul_(nnlab.tensor(np.logspace(-2, 0, 6, dtype=np.float32)[:, None]))
    x = data(2)
    errors = []
    for per_channel in (False, True):
        q = calibrated(linear, x, per_channel)
        scale = q.weight_scale.numpy().reshape(-1, 1) if per_channel else q.weight_scale.numpy()
        errors.append(np.abs(q.weight.numpy() * scale - linear.weight.detach().numpy()).mean())
    assert errors[1] < errors[0] / 2


def test_quantize_model_swaps_every_linear_and_leaves_the_original():
    nnlab.manual_seed(3)
    model = nn.Sequential(nn.Linear(24, 16), nn.ReLU(), nn.Linear(16, 5))
    x = data(3)
    quantized = quantize_model(model, [x[:20], x[20:]], per_channel=True)
    kinds = [type(m).__name__ for m in quantized.children()]
    assert kinds == ["QuantizedLinear", "ReLU", "QuantizedLinear"]
    assert all(type(m) is not QuantizedLinear for m in model.modules())
    with nnlab.no_grad():
        y = model(nnlab.tensor(x)).numpy()
    y_q = quantized(nnlab.tensor(x)).numpy()
    assert np.abs(y_q - y).max() < 0.05 * np.abs(y).max()
    assert quantized[0].weight.dtype == nnlab.int8
    # the second layer sees ReLU outputs: its input range starts at 0, so z = 0
    assert int(quantized[2].zero_point.numpy()) == 0


def test_a_bare_linear_is_quantised_too():
    quantized = quantize_model(nn.Linear(24, 3), [data(5)], per_channel=False)
    assert type(quantized) is QuantizedLinear and quantized.weight_scale.shape == ()


def test_int8_weights_take_four_times_fewer_bytes():
    model = nn.Sequential(nn.Linear(24, 16), nn.ReLU(), nn.Linear(16, 5))
    quantized = quantize_model(model, [data(4)])
    assert weight_nbytes(model) == 4 * weight_nbytes(quantized)
    assert weight_nbytes(quantized) == 24 * 16 + 16 * 5


def test_bad_inputs_raise_clear_errors():
    q = QuantizedLinear.from_float(nn.Linear(4, 3), 0.1, 128)
    with pytest.raises(ValueError, match=r"expected input of shape \(\*, 4\)"):
        q(nnlab.zeros(2, 5))
    with pytest.raises(TypeError, match="expects an nn.Linear"):
        QuantizedLinear.from_float(nn.ReLU(), 0.1, 128)
    with pytest.raises(ValueError, match="calibration_batches is empty"):
        quantize_model(nn.Linear(4, 3), [])
