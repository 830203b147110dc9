"""Observers and the affine map against torch.ao.quantization on the same data: the
scales, zero points and integers must be identical, and dequantised values agree."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import nnlab
from nnlab.quantization.observers import (
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    PerChannelMinMaxObserver,
    dequantize,
    quantize_per_channel,
    quantize_per_tensor,
)

TORCH_DTYPES = {"quint8": torch.quint8, "qint8": torch.qint8}
TORCH_QSCHEMES = {
    "per_tensor_affine": torch.per_tensor_affine,
    "per_tensor_symmetric": torch.per_tensor_symmetric,
    "per_channel_affine": torch.per_channel_affine,
    "per_channel_symmetric": torch.per_channel_symmetric,
}


@pytest.fixture(autouse=True)
def _quiet_torch_deprecation():
    # torch warns that its quantised tensor types are deprecated; they remain the oracle.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def batches(seed: int, shape=(6, 40)) -> list[np.ndarray]:
    """Rows of very different scales, shifted off zero, in three batches."""
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.05, 4.0, size=(shape[0], 1))
    return [(rng.standard_normal(shape) * scale + 0.4).astype(np.float32) for _ in range(3)]


def observe_both(ours, theirs, data):
    for x in data:
        ours(nnlab.tensor(x))
        theirs(torch.tensor(x))
    scale, zero_point = ours.calculate_qparams()
    t_scale, t_zero_point = theirs.calculate_qparams()
    return scale.numpy(), zero_point.numpy(), t_scale.numpy(), t_zero_point.numpy()


@pytest.mark.parametrize(
    "dtype, qscheme",
    [("quint8", "per_tensor_affine"), ("qint8", "per_tensor_symmetric"),
     ("qint8", "per_tensor_affine"), ("quint8", "per_tensor_symmetric")],
)  # fmt: skip
@pytest.mark.parametrize("moving_average", [False, True])
def test_per_tensor_observer_matches_torch(dtype, qscheme, moving_average):
    ours_cls, theirs_cls = (MinMaxObserver, torch.ao.quantization.MinMaxObserver)
    if moving_average:
        ours_cls = MovingAverageMinMaxObserver
        theirs_cls = torch.ao.quantization.MovingAverageMinMaxObserver
    ours = ours_cls(dtype=dtype, qscheme=qscheme)
    theirs = theirs_cls(dtype=TORCH_DTYPES[dtype], qscheme=TORCH_QSCHEMES[qscheme])
    scale, zero_point, t_scale, t_zero_point = observe_both(ours, theirs, batches(0))
    np.testing.assert_allclose(scale, t_scale.reshape(()), rtol=1e-6)
    assert int(zero_point) == int(t_zero_point.item())


@pytest.mark.parametrize(
    "dtype, qscheme", [("qint8", "per_channel_symmetric"), ("quint8", "per_channel_affine")]
)
@pytest.mark.parametrize("ch_axis", [0, 1])
def test_per_channel_observer_matches_torch(dtype, qscheme, ch_axis):
    ours = PerChannelMinMaxObserver(ch_axis=ch_axis, dtype=dtype, qscheme=qscheme)
    theirs = torch.ao.quantization.PerChannelMinMaxObserver(
        ch_axis=ch_axis, dtype=TORCH_DTYPES[dtype], qscheme=TORCH_QSCHEMES[qscheme]
    )
    scale, zero_point, t_scale, t_zero_point = observe_both(ours, theirs, batches(1))
    np.testing.assert_array_equal(scale, t_scale)
    np.testing.assert_array_equal(zero_point, t_zero_point)


@pytest.mark.parametrize("dtype", ["quint8", "qint8"])
def test_quantize_per_tensor_matches_torch(dtype):
    x = np.concatenate(batches(2)).ravel()
    x = np.concatenate([x, [0.0, 1e3, -1e3]]).astype(np.float32)  # zero and clipped values
    scale, zero_point = 0.031, (128 if dtype == "quint8" else -3)
    q = quantize_per_tensor(x, scale, zero_point, dtype)
    t = torch.quantize_per_tensor(torch.tensor(x), scale, zero_point, TORCH_DTYPES[dtype])
    np.testing.assert_array_equal(q.int_repr().numpy(), t.int_repr().numpy())
    np.testing.assert_array_equal(dequantize(q).numpy(), t.dequantize().numpy())


@pytest.mark.parametrize("axis", [0, 1])
def test_quantize_per_channel_matches_torch(axis):
    x = batches(3)[0]
    observer = PerChannelMinMaxObserver(ch_axis=axis)
    observer(nnlab.tensor(x))
    scale, zero_point = observer.calculate_qparams()
    q = quantize_per_channel(x, scale, zero_point, axis)
    t = torch.quantize_per_channel(
        torch.tensor(x), torch.tensor(scale.numpy()), torch.tensor(zero_point.numpy()), axis,
        torch.qint8,
    )  # fmt: skip
    np.testing.assert_array_equal(q.int_repr().numpy(), t.int_repr().numpy())
    np.testing.assert_array_equal(q.dequantize().numpy(), t.dequantize().numpy())


def test_rounding_error_is_at_most_half_a_step_inside_the_range():
    x = np.concatenate(batches(4)).ravel()
    observer = MinMaxObserver()
    observer(nnlab.tensor(x))
    scale, zero_point = observer.calculate_qparams()
    error = dequantize(quantize_per_tensor(x, scale.numpy(), zero_point.numpy())).numpy() - x
    assert np.abs(error).max() <= scale.numpy() / 2 * (1 + 1e-5)


def test_zero_is_exact_and_a_constant_input_has_a_positive_scale():
    observer = MinMaxObserver()
    observer(nnlab.tensor(np.full(5, 3.0, dtype=np.float32)))
    scale, zero_point = observer.calculate_qparams()
    assert float(scale) > 0
    q = quantize_per_tensor(np.zeros(1, dtype=np.float32), scale.numpy(), zero_point.numpy())
    assert dequantize(q).numpy()[0] == 0.0


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(RuntimeError, match="no data observed"):
        MinMaxObserver().calculate_qparams()
    with pytest.raises(ValueError, match="dtype must be one of"):
        MinMaxObserver(dtype="int4")
    with pytest.raises(ValueError, match="qscheme must be one of"):
        PerChannelMinMaxObserver(qscheme="per_tensor_affine")
    with pytest.raises(ValueError, match="ch_axis=2 does not exist"):
        PerChannelMinMaxObserver(ch_axis=2)(nnlab.zeros(3, 4))
    with pytest.raises(ValueError, match="scale must be one positive number"):
        quantize_per_tensor(np.ones(3), 0.0, 0)
    with pytest.raises(ValueError, match="expected 3 scales and zero points"):
        quantize_per_channel(np.ones((3, 4)), np.ones(4), np.zeros(4), axis=0)
