"""int8 quantisation: observers and the affine map, fake quantisation with the
straight-through estimator, post-training quantised Linear and Conv2d layers, and
quantisation-aware training."""

from nnlab.quantization.fake_quantize import (
    FakeQuantize,
    fake_quantize_per_channel_affine,
    fake_quantize_per_tensor_affine,
)
from nnlab.quantization.observers import (
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    PerChannelMinMaxObserver,
    QuantizedTensor,
    calculate_qparams,
    dequantize,
    quantize_per_channel,
    quantize_per_tensor,
)
from nnlab.quantization.qat import QATLinear, convert, prepare_qat
from nnlab.quantization.quantized_conv import QuantizedConv2d
from nnlab.quantization.quantized_linear import QuantizedLinear, quantize_model, weight_nbytes

__all__ = [
    "FakeQuantize",
    "MinMaxObserver",
    "MovingAverageMinMaxObserver",
    "PerChannelMinMaxObserver",
    "QATLinear",
    "QuantizedConv2d",
    "QuantizedLinear",
    "QuantizedTensor",
    "calculate_qparams",
    "convert",
    "dequantize",
    "fake_quantize_per_channel_affine",
    "fake_quantize_per_tensor_affine",
    "prepare_qat",
    "quantize_model",
    "quantize_per_channel",
    "quantize_per_tensor",
    "weight_nbytes",
]
