"""Quantisation-aware training (QAT): train with the int8 rounding in the forward pass.

:func:`prepare_qat` swaps every Linear for a :class:`QATLinear`, which computes

    y = fq_x(x) · fq_W(W)ᵀ + b

where fq_x fake-quantises the input on the quint8 grid whose range a moving-average
observer tracks, and fq_W fake-quantises the weight on the symmetric qint8 grid of its
current range (per output row or per tensor). The straight-through estimator
(:mod:`nnlab.quantization.fake_quantize`) lets the gradient reach the float weights, which
thus learn values that survive rounding. :func:`convert` then swaps each QATLinear for a
:class:`~nnlab.quantization.quantized_linear.QuantizedLinear` with the same grids, so the
int8 model computes what the trained QAT model computed, up to float32 rounding.
"""

from __future__ import annotations

import copy

import numpy as np

from nnlab.nn import functional as F
from nnlab.nn.module import Module
from nnlab.nn.modules.linear import Linear
from nnlab.nn.parameter import Parameter
from nnlab.quantization.fake_quantize import (
    FakeQuantize,
    fake_quantize_per_channel_affine,
    fake_quantize_per_tensor_affine,
)
from nnlab.quantization.observers import QUANT_RANGES, MovingAverageMinMaxObserver
from nnlab.quantization.quantized_linear import QuantizedLinear, quantize_weight, replace_modules
from nnlab.tensor import Tensor

__all__ = ["QATLinear", "convert", "prepare_qat"]


class QATLinear(Linear):
    """A Linear whose input and weight are fake-quantised (formula in the module docstring).

    Args:
        in_features, out_features, bias: as for :class:`~nnlab.nn.Linear`.
        per_channel: one weight scale per output row (default) or one for the tensor.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> layer = QATLinear.from_float(nn.Linear(4, 3))
        >>> layer(nnlab.randn(2, 4)).shape
        nnlab.Size([2, 3])
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, per_channel: bool = True
    ) -> None:
        super().__init__(in_features, out_features, bias)
        self.per_channel = per_channel
        self.activation_fake_quant = FakeQuantize(MovingAverageMinMaxObserver)

    @classmethod
    def from_float(cls, linear: Linear, per_channel: bool = True) -> QATLinear:
        """A QATLinear starting from a copy of ``linear``'s weight and bias."""
        qat = cls(linear.in_features, linear.out_features, linear.bias is not None, per_channel)
        qat.weight = Parameter(linear.weight.detach().numpy().copy())
        if linear.bias is not None:
            qat.bias = Parameter(linear.bias.detach().numpy().copy())
        return qat

    def fake_quantized_weight(self) -> Tensor:
        """W on the qint8 grid of its current range; the gradient passes straight through."""
        # The grid is recomputed from W at every step, as convert() will compute it from the
        # final W; the rounding itself is what the weights learn to tolerate.
        _, scale = quantize_weight(self.weight.detach(), self.per_channel)
        q_min, q_max = QUANT_RANGES["qint8"]
        if self.per_channel:
            zeros = np.zeros(scale.shape, dtype=np.int64)  # symmetric: z = 0
            return fake_quantize_per_channel_affine(self.weight, scale, zeros, 0, q_min, q_max)
        return fake_quantize_per_tensor_affine(self.weight, scale, 0, q_min, q_max)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            raise self.shape_error(f"(*, {self.in_features})", input.shape)
        x = self.activation_fake_quant(input)
        return F.linear(x, self.fake_quantized_weight(), self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", per_channel={self.per_channel}"


def prepare_qat(model: Module, per_channel: bool = True) -> Module:
    """A copy of ``model`` (in train mode) with every Linear replaced by a
    :class:`QATLinear` holding the same weights; ``model`` itself is unchanged."""
    prepared = copy.deepcopy(model).train()
    return replace_modules(
        prepared, lambda m: type(m) is Linear, lambda m: QATLinear.from_float(m, per_channel)
    )


def convert(model: Module) -> Module:
    """A copy of a QAT-trained ``model`` (in eval mode) with every :class:`QATLinear`
    replaced by a :class:`QuantizedLinear` using its final weight grid and the input range
    its observer tracked."""

    def to_quantized(m: QATLinear) -> QuantizedLinear:
        scale, zero_point = m.activation_fake_quant.calculate_qparams()
        return QuantizedLinear.from_float(m, scale.array, zero_point.array, m.per_channel)

    converted = copy.deepcopy(model).eval()
    return replace_modules(converted, lambda m: isinstance(m, QATLinear), to_quantized)
