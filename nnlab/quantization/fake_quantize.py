"""Fake quantisation: round to the int8 grid in forward, let the gradient through in backward.

Quantisation-aware training runs the float model with every quantised tensor replaced by
its quantise-dequantise image, so the loss sees the rounding error the int8 model will make:

    q = round(x / s) + z,        y = (clamp(q, q_min, q_max) - z) · s

Rounding has derivative 0 almost everywhere, which would stop all learning. The
straight-through estimator (Bengio et al., 2013) treats round as the identity in backward,
so only the clamp remains:

    dy/dx = 1   if q_min ≤ q ≤ q_max   (x inside the representable range)
            0   otherwise              (x clipped: moving it does not change y)

This is what ``torch.fake_quantize_per_tensor_affine`` computes; s and z are constants here
(taken from an observer), not learned.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.autograd.function import Function
from nnlab.nn.module import Module
from nnlab.quantization.observers import QUANT_RANGES, MinMaxObserver, _broadcast_along
from nnlab.tensor import Tensor

__all__ = [
    "FakeQuantize",
    "FakeQuantizeSTE",
    "fake_quantize_per_channel_affine",
    "fake_quantize_per_tensor_affine",
]


class FakeQuantizeSTE(Function):
    """y = (clamp(round(x/s) + z, q_min, q_max) - z) · s;  dy/dx = 1[q_min ≤ round(x/s)+z ≤ q_max].

    ``scale`` and ``zero_point`` are arrays already shaped to broadcast against x.
    """

    double_backward = False  # the mask is a constant of x; its own derivative is 0

    @staticmethod
    def forward(ctx, x, scale, zero_point, quant_min, quant_max):
        # torch multiplies by the float32 reciprocal; the same arithmetic gives the same grid.
        inverse = (np.float32(1) / scale).astype(x.dtype)
        q = np.round(x * inverse) + zero_point
        inside = (q >= quant_min) & (q <= quant_max)
        ctx.save_for_backward(inside)
        return ((np.clip(q, quant_min, quant_max) - zero_point) * scale).astype(x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (inside,) = ctx.saved_tensors
        return grad_output * inside, None, None, None, None


def _check_range(name: str, quant_min: int, quant_max: int) -> None:
    if not quant_min < quant_max:
        raise ValueError(f"{name}: expected quant_min < quant_max, got {quant_min}, {quant_max}")


def fake_quantize_per_tensor_affine(
    input: Tensor, scale: float, zero_point: int, quant_min: int, quant_max: int
) -> Tensor:
    """Quantise then dequantise ``input`` with one (scale, zero_point); the gradient is the
    straight-through estimator (see the module docstring)."""
    _check_range("fake_quantize_per_tensor_affine", quant_min, quant_max)
    if not float(scale) > 0:
        raise ValueError(f"fake_quantize_per_tensor_affine: scale must be positive, got {scale}")
    s = np.asarray(scale, dtype=np.float32).reshape(())
    z = np.asarray(zero_point, dtype=np.int64).reshape(())
    return FakeQuantizeSTE.apply(input, s, z, quant_min, quant_max)


def fake_quantize_per_channel_affine(
    input: Tensor, scale: Any, zero_point: Any, axis: int, quant_min: int, quant_max: int
) -> Tensor:
    """As :func:`fake_quantize_per_tensor_affine` with one (scale, zero_point) per index
    along ``axis``."""
    _check_range("fake_quantize_per_channel_affine", quant_min, quant_max)
    s = (scale.array if isinstance(scale, Tensor) else np.asarray(scale)).astype(np.float32)
    z = zero_point.array if isinstance(zero_point, Tensor) else np.asarray(zero_point)
    if input.ndim == 0 or not -input.ndim <= axis < input.ndim:
        raise ValueError(f"fake_quantize_per_channel_affine: axis={axis} does not exist in "
                         f"an input of shape {tuple(input.shape)}")  # fmt: skip
    axis %= input.ndim
    if s.shape != (input.shape[axis],) or z.shape != s.shape:
        raise ValueError(
            f"fake_quantize_per_channel_affine: expected {input.shape[axis]} scales and zero "
            f"points (dim {axis} of {tuple(input.shape)}), got {s.shape} and {z.shape}"
        )
    s = _broadcast_along(s, axis, input.ndim)
    z = _broadcast_along(z.astype(np.int64), axis, input.ndim)
    return FakeQuantizeSTE.apply(input, s, z, quant_min, quant_max)


class FakeQuantize(Module):
    """Observe the tensors that pass, and fake-quantise them with the observer's current
    (scale, zero_point): the module QAT inserts where the int8 model will quantise.

    Args:
        observer: the observer class (default: :class:`MinMaxObserver`).
        **observer_kwargs: passed to it (``dtype``, ``qscheme``, ``ch_axis``...).

    ``disable_observer()`` freezes the range (late in training, and before conversion);
    ``disable_fake_quant()`` makes the module the identity.

    Example:
        >>> import nnlab
        >>> fq = FakeQuantize()
        >>> fq(nnlab.tensor([0.0, 0.5, 1.0])).numpy().round(4)
        array([0.   , 0.498, 1.   ], dtype=float32)
    """

    def __init__(self, observer: type[MinMaxObserver] = MinMaxObserver, **observer_kwargs: Any):
        super().__init__()
        self.activation_post_process = observer(**observer_kwargs)
        self.quant_min, self.quant_max = QUANT_RANGES[self.activation_post_process.dtype]
        self.observer_enabled = True
        self.fake_quant_enabled = True

    def enable_observer(self, enabled: bool = True) -> FakeQuantize:
        self.observer_enabled = enabled
        return self

    def disable_observer(self) -> FakeQuantize:
        return self.enable_observer(False)

    def enable_fake_quant(self, enabled: bool = True) -> FakeQuantize:
        self.fake_quant_enabled = enabled
        return self

    def disable_fake_quant(self) -> FakeQuantize:
        return self.enable_fake_quant(False)

    def calculate_qparams(self) -> tuple[Tensor, Tensor]:
        return self.activation_post_process.calculate_qparams()

    def forward(self, x: Tensor) -> Tensor:
        if self.observer_enabled:
            self.activation_post_process(x.detach())
        if not self.fake_quant_enabled:
            return x
        scale, zero_point = self.calculate_qparams()
        if self.activation_post_process.qscheme.startswith("per_channel"):
            axis = self.activation_post_process.ch_axis
            return fake_quantize_per_channel_affine(
                x, scale, zero_point, axis, self.quant_min, self.quant_max
            )
        return fake_quantize_per_tensor_affine(
            x, scale.array, zero_point.array, self.quant_min, self.quant_max
        )

    def extra_repr(self) -> str:
        return (
            f"fake_quant_enabled={self.fake_quant_enabled}, "
            f"observer_enabled={self.observer_enabled}, "
            f"quant_min={self.quant_min}, quant_max={self.quant_max}"
        )
