"""Post-training int8 quantisation of Linear layers: integer weights, integer products.

A trained Linear y = x Wᵀ + b is replaced by one that stores W as int8 and computes with
integers. Weights are quantised symmetrically (z_w = 0), per tensor or per output row;
the input uses the affine quint8 map whose (s_x, z_x) a calibration pass has fixed:

    q_w = round(W / s_w),    q_x = clamp(round(x / s_x) + z_x, 0, 255)

The product is exact in int32, and one float multiply per output maps it back:

    acc[n, o] = Σ_k (q_x[n, k] - z_x) · q_w[o, k]          (int32)
    y[n, o]   = s_x · s_w[o] · acc[n, o] + b[o]            (float32)

so the only errors are the two roundings: each xₖ is off by at most s_x/2 (inside the
calibrated range) and each W[o, k] by at most s_w[o]/2. The bias stays float32, as in
torch's quantised Linear; it is a vector, tiny next to the matrix.

:func:`quantize_model` does the whole post-training recipe: observe the input range of
every Linear on calibration batches, then swap each Linear for a :class:`QuantizedLinear`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from nnlab.autograd.grad_mode import no_grad
from nnlab.nn.module import Module
from nnlab.nn.modules.linear import Linear
from nnlab.quantization.observers import (
    MinMaxObserver,
    PerChannelMinMaxObserver,
    quantize_per_channel,
    quantize_per_tensor,
)
from nnlab.tensor import Tensor

__all__ = [
    "QuantizedLinear",
    "quantize_model",
    "quantize_weight",
    "replace_modules",
    "weight_nbytes",
]


def _array(x: Any) -> np.ndarray:
    return x.array if isinstance(x, Tensor) else np.asarray(x)


def quantize_weight(weight: Any, per_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """int8 weight and its float32 scale(s): symmetric, per output row or per tensor."""
    w = _array(weight).astype(np.float32)
    if per_channel:
        observer: MinMaxObserver = PerChannelMinMaxObserver(ch_axis=0)
        observer(w)
        scale, zero_point = observer.calculate_qparams()
        q = quantize_per_channel(w, scale, zero_point, axis=0, dtype="qint8")
    else:
        observer = MinMaxObserver(dtype="qint8", qscheme="per_tensor_symmetric")
        observer(w)
        scale, zero_point = observer.calculate_qparams()
        q = quantize_per_tensor(w, scale.array, zero_point.array, dtype="qint8")
    return q.values, q.scale


class _Int8Layer(Module):
    """What the int8 layers share: an int8 ``weight`` with its float32 ``weight_scale``
    (per output channel or per tensor), the quint8 ``scale`` and ``zero_point`` of the
    input, a float32 ``bias``; the input centred as q_x - z_x, and the int32 products
    mapped back by s_x · s_w[o] plus the bias."""

    def _register_int8_buffers(
        self, weight_shape: tuple[int, ...], bias: bool, per_channel: bool
    ) -> None:
        out = weight_shape[0]
        self.per_channel = per_channel
        self.register_buffer("weight", np.zeros(weight_shape, dtype=np.int8))
        self.register_buffer(
            "weight_scale", np.ones((out,) if per_channel else (), dtype=np.float32)
        )
        self.register_buffer("scale", np.array(1.0, dtype=np.float32))
        self.register_buffer("zero_point", np.array(0, dtype=np.int64))
        self.register_buffer("bias", np.zeros(out, dtype=np.float32) if bias else None)

    def _load_float(self, layer: Module, scale: float, zero_point: int) -> None:
        """Quantise ``layer``'s weight (one row per output channel) and keep its bias."""
        w = _array(layer.weight)
        values, weight_scale = quantize_weight(w.reshape(w.shape[0], -1), self.per_channel)
        self.weight = Tensor(values.reshape(w.shape))
        self.weight_scale = Tensor(weight_scale)
        self.scale = Tensor(np.asarray(scale, dtype=np.float32).reshape(()))
        self.zero_point = Tensor(np.asarray(zero_point, dtype=np.int64).reshape(()))
        if layer.bias is not None:
            self.bias = Tensor(layer.bias.detach().numpy().astype(np.float32))

    def _centred_input(self, x: np.ndarray) -> np.ndarray:
        """q_x - z_x in int32, q_x the quint8 input."""
        q_x = quantize_per_tensor(x, self.scale.array, self.zero_point.array, "quint8").values
        return q_x.astype(np.int32) - self.zero_point.array.astype(np.int32)

    def _dequantize(self, acc: np.ndarray) -> np.ndarray:
        """s_x · s_w[o] · acc + b[o] in float32, output channels last."""
        y = acc.astype(np.float32) * (self.scale.array * self.weight_scale.array)
        if self.bias is not None:
            y = y + self.bias.array
        return y.astype(np.float32)


class QuantizedLinear(_Int8Layer):
    """Linear layer with an int8 weight and an int32 matrix product (see the module
    docstring for the formulas). Build one from a float layer with :meth:`from_float`.

    Args:
        in_features, out_features: as for :class:`~nnlab.nn.Linear`.
        bias: keep a float32 bias (default: True).
        per_channel: one weight scale per output row (default) or one for the tensor.

    Buffers: ``weight`` (out, in) int8, ``weight_scale`` (out,) or () float32, ``scale`` and
    ``zero_point`` of the input, ``bias`` (out,) float32.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> fc = nn.Linear(4, 3)
        >>> q = QuantizedLinear.from_float(fc, scale=0.02, zero_point=128)
        >>> q.weight.dtype, q(nnlab.randn(2, 4)).shape
        (nnlab.int8, nnlab.Size([2, 3]))
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, per_channel: bool = True
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self._register_int8_buffers((out_features, in_features), bias, per_channel)

    @classmethod
    def from_float(
        cls, linear: Linear, scale: float, zero_point: int, per_channel: bool = True
    ) -> QuantizedLinear:
        """Quantise ``linear``'s weight; (scale, zero_point) quantise its quint8 input."""
        if not isinstance(linear, Linear):
            raise TypeError(f"QuantizedLinear.from_float expects an nn.Linear, "
                            f"got {type(linear).__name__}")  # fmt: skip
        q = cls(linear.in_features, linear.out_features, linear.bias is not None, per_channel)
        q._load_float(linear, scale, zero_point)
        return q

    def forward(self, input: Tensor) -> Tensor:
        x = _array(input)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise self.shape_error(f"(*, {self.in_features})", x.shape)
        acc = self._centred_input(x) @ self.weight.array.astype(np.int32).T  # exact: |acc| < 2³¹
        return Tensor(self._dequantize(acc))

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"per_channel={self.per_channel}, scale={float(self.scale.array):.4g}, "
            f"zero_point={int(self.zero_point.array)}"
        )


class _ObservedInput(Module):
    """A layer with a MinMaxObserver on its input: the calibration stand-in."""

    def __init__(self, layer: Module) -> None:
        super().__init__()
        self.layer = layer
        self.observer = MinMaxObserver()

    def forward(self, input: Tensor) -> Tensor:
        return self.layer(self.observer(input))


def replace_modules(
    model: Module, match: Callable[[Module], bool], make: Callable[[Module], Module]
) -> Module:
    """Replace, in place, every submodule of ``model`` for which ``match`` is true by
    ``make(submodule)``, keeping its name and its position among its siblings; returns the
    model, or ``make(model)`` when ``model`` itself matches."""
    if match(model):
        return make(model)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if match(child):
                parent.add_module(name, make(child))
    return model


def quantize_model(
    model: Module, calibration_batches: Iterable[Any], per_channel: bool = True
) -> Module:
    """A copy of ``model`` with every Linear replaced by a :class:`QuantizedLinear` and
    every Conv2d by a :class:`~nnlab.quantization.quantized_conv.QuantizedConv2d`.

    Each layer's input range is the minimum and maximum over ``calibration_batches``
    (inputs of the model, run in eval mode without gradients); held-out data that looks
    like what the model will see in deployment. ``model`` itself is left unchanged.
    """
    # imported here: quantized_conv builds on this module's quantize_weight
    from nnlab.nn.modules.conv import Conv2d
    from nnlab.quantization.quantized_conv import QuantizedConv2d

    observed = replace_modules(
        copy.deepcopy(model).eval(), lambda m: type(m) in (Linear, Conv2d), _ObservedInput
    )
    n_batches = 0
    with no_grad():
        for batch in calibration_batches:
            observed(batch if isinstance(batch, Tensor) else Tensor(np.asarray(batch)))
            n_batches += 1
    if n_batches == 0:
        raise ValueError("quantize_model: calibration_batches is empty; give at least one batch")

    def convert(m: _ObservedInput) -> Module:
        scale, zero_point = m.observer.calculate_qparams()
        quantized = QuantizedConv2d if isinstance(m.layer, Conv2d) else QuantizedLinear
        return quantized.from_float(m.layer, scale.array, zero_point.array, per_channel)

    return replace_modules(observed, lambda m: isinstance(m, _ObservedInput), convert)


def weight_nbytes(model: Module) -> int:
    """Bytes taken by the ``weight`` entries of ``model``'s state_dict (matrices, kernels)."""
    return sum(
        int(value.array.nbytes)
        for key, value in model.state_dict().items()
        if key.rsplit(".", 1)[-1] == "weight"
    )
