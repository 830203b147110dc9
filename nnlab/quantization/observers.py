"""Observers and the int8 affine map: how a float range becomes a scale and a zero point.

Affine (asymmetric) quantisation represents a real x by an integer q in [q_min, q_max]:

    q = clamp(round(x / s) + z, q_min, q_max),        x̂ = (q - z) · s

The scale s and the zero point z are chosen from the range [min, max] an observer has
seen, widened to contain 0 so that x = 0 (padding, ReLU zeros) is represented exactly:

    affine:     s = (max⁺ - min⁻) / (q_max - q_min),   z = q_min - round(min⁻ / s)
    symmetric:  s = max(|min⁻|, max⁺) / ((q_max - q_min) / 2),  z = 0 (qint8) or 128 (quint8)

with min⁻ = min(min, 0) and max⁺ = max(max, 0). The rounding error of a value inside the
range is at most s/2; values outside are clipped. As in ``torch.ao.quantization`` the
arithmetic is float32, s is at least float32's machine epsilon (a constant input), and
activations default to quint8 [0, 255] affine, weights to qint8 [-128, 127] symmetric.

A per-channel observer keeps one range, hence one (s, z), per slice along ``ch_axis``
(the output channels of a weight), which fits rows of very different magnitudes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nnlab.nn.module import Module
from nnlab.tensor import Tensor

__all__ = [
    "MinMaxObserver",
    "MovingAverageMinMaxObserver",
    "PerChannelMinMaxObserver",
    "QuantizedTensor",
    "calculate_qparams",
    "dequantize",
    "quantize_per_channel",
    "quantize_per_tensor",
]

#: The integer range of each quantised dtype, named as torch names them.
QUANT_RANGES = {"quint8": (0, 255), "qint8": (-128, 127)}
QSCHEMES = ("per_tensor_affine", "per_tensor_symmetric", "per_channel_affine",
            "per_channel_symmetric")  # fmt: skip
_EPS = np.float32(np.finfo(np.float32).eps)


def _array(x: Any) -> np.ndarray:
    return x.array if isinstance(x, Tensor) else np.asarray(x)


def _check_dtype(dtype: str) -> tuple[int, int]:
    if dtype not in QUANT_RANGES:
        raise ValueError(f"dtype must be one of {sorted(QUANT_RANGES)}, got {dtype!r}")
    return QUANT_RANGES[dtype]


def calculate_qparams(
    min_val: Any, max_val: Any, dtype: str = "quint8", symmetric: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Scale (float32) and zero point (int64) for the range [min_val, max_val], elementwise
    (one pair per channel when given arrays), by the formulas in the module docstring."""
    q_min, q_max = _check_dtype(dtype)
    min_neg = np.minimum(np.asarray(min_val, dtype=np.float32), np.float32(0))
    max_pos = np.maximum(np.asarray(max_val, dtype=np.float32), np.float32(0))
    if symmetric:
        max_pos = np.maximum(-min_neg, max_pos)
        scale = np.maximum(max_pos / np.float32((q_max - q_min) / 2), _EPS)
        zero_point = np.full(scale.shape, 0 if dtype == "qint8" else 128, dtype=np.int64)
    else:
        scale = np.maximum((max_pos - min_neg) / np.float32(q_max - q_min), _EPS)
        zero_point = q_min - np.round(min_neg / scale).astype(np.int64)
        zero_point = np.clip(zero_point, q_min, q_max)
    return scale.astype(np.float32), zero_point


class MinMaxObserver(Module):
    """Record the running minimum and maximum of every tensor passed through ``forward``
    (which returns its input unchanged); ``calculate_qparams`` turns them into (s, z).

    Args:
        dtype: "quint8" (default, for activations) or "qint8" (for weights).
        qscheme: "per_tensor_affine" (default) or "per_tensor_symmetric".

    Example:
        >>> import nnlab
        >>> obs = MinMaxObserver()
        >>> _ = obs(nnlab.tensor([-1.0, 0.0, 2.0]))
        >>> scale, zero_point = obs.calculate_qparams()
        >>> round(float(scale), 6), int(zero_point)
        (0.011765, 85)
    """

    def __init__(self, dtype: str = "quint8", qscheme: str = "per_tensor_affine") -> None:
        super().__init__()
        _check_dtype(dtype)
        if qscheme not in QSCHEMES[:2]:
            raise ValueError(f"{type(self).__name__}: qscheme must be one of {QSCHEMES[:2]}, "
                             f"got {qscheme!r}")  # fmt: skip
        self.dtype = dtype
        self.qscheme = qscheme
        self.register_buffer("min_val", Tensor(np.array(np.inf, dtype=np.float32)))
        self.register_buffer("max_val", Tensor(np.array(-np.inf, dtype=np.float32)))

    def _extrema(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if x.size == 0:
            raise ValueError(f"{type(self).__name__}: cannot observe an empty tensor")
        return x.min(), x.max()

    def _update(self, low: np.ndarray, high: np.ndarray) -> None:
        self.min_val = Tensor(np.minimum(self.min_val.array, low).astype(np.float32))
        self.max_val = Tensor(np.maximum(self.max_val.array, high).astype(np.float32))

    def forward(self, x: Tensor) -> Tensor:
        low, high = self._extrema(_array(x).astype(np.float32))
        self._update(low, high)
        return x

    def calculate_qparams(self) -> tuple[Tensor, Tensor]:
        """(scale, zero_point) from the range seen so far."""
        if not np.all(np.isfinite(self.min_val.array)):
            raise RuntimeError(
                f"{type(self).__name__}: no data observed yet; run calibration batches "
                "through the observer before asking for its scale and zero point."
            )
        symmetric = self.qscheme.endswith("symmetric")
        scale, zero_point = calculate_qparams(
            self.min_val.array, self.max_val.array, self.dtype, symmetric
        )
        return Tensor(scale), Tensor(zero_point)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val.array}, max_val={self.max_val.array}"


class MovingAverageMinMaxObserver(MinMaxObserver):
    """Like :class:`MinMaxObserver`, but the range is an exponential moving average,
    min ← min + c (min_batch - min), so one early outlier batch does not fix the range for
    good (what quantisation-aware training needs while activations still change).

    Args:
        averaging_constant: c (default: 0.01, torch's).
        dtype, qscheme: as for :class:`MinMaxObserver`.
    """

    def __init__(
        self,
        averaging_constant: float = 0.01,
        dtype: str = "quint8",
        qscheme: str = "per_tensor_affine",
    ) -> None:
        super().__init__(dtype, qscheme)
        self.averaging_constant = averaging_constant

    def _update(self, low: np.ndarray, high: np.ndarray) -> None:
        if not np.all(np.isfinite(self.min_val.array)):
            super()._update(low, high)  # the first batch sets the range
            return
        c = np.float32(self.averaging_constant)
        self.min_val = Tensor(self.min_val.array + c * (low - self.min_val.array))
        self.max_val = Tensor(self.max_val.array + c * (high - self.max_val.array))


class PerChannelMinMaxObserver(MinMaxObserver):
    """One running minimum and maximum per slice along ``ch_axis``.

    Args:
        ch_axis: the channel axis (default: 0, the output features of a weight).
        dtype: "qint8" (default) or "quint8".
        qscheme: "per_channel_symmetric" (default) or "per_channel_affine".
    """

    def __init__(
        self, ch_axis: int = 0, dtype: str = "qint8", qscheme: str = "per_channel_symmetric"
    ) -> None:
        if qscheme not in QSCHEMES[2:]:
            raise ValueError(f"PerChannelMinMaxObserver: qscheme must be one of {QSCHEMES[2:]}, "
                             f"got {qscheme!r}")  # fmt: skip
        super().__init__(dtype, "per_tensor_affine")
        self.qscheme = qscheme
        self.ch_axis = ch_axis

    def _extrema(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if x.ndim == 0 or not -x.ndim <= self.ch_axis < x.ndim:
            raise ValueError(f"PerChannelMinMaxObserver: ch_axis={self.ch_axis} does not exist "
                             f"in an input of shape {x.shape}")  # fmt: skip
        rows = np.moveaxis(x, self.ch_axis, 0).reshape(x.shape[self.ch_axis], -1)
        if rows.shape[1] == 0:
            raise ValueError("PerChannelMinMaxObserver: cannot observe an empty tensor")
        return rows.min(axis=1), rows.max(axis=1)


@dataclass
class QuantizedTensor:
    """Integers with the (scale, zero_point) that map them back to reals; ``axis`` is the
    channel axis of per-channel parameters, None for per-tensor ones."""

    values: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None = None

    def int_repr(self) -> Tensor:
        """The stored integers, as torch's ``Tensor.int_repr``."""
        return Tensor(self.values)

    def dequantize(self) -> Tensor:
        return dequantize(self)


def _broadcast_along(param: np.ndarray, axis: int | None, ndim: int) -> np.ndarray:
    if axis is None:
        return param
    shape = [1] * ndim
    shape[axis] = -1
    return param.reshape(shape)


def _quantize(x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray, dtype: str) -> np.ndarray:
    q_min, q_max = _check_dtype(dtype)
    # torch multiplies by the float32 reciprocal rather than dividing; doing the same keeps
    # the integers identical at the rare values that sit on a rounding boundary.
    inverse = (np.float32(1) / scale.astype(np.float32)).astype(np.float32)
    q = np.round(x.astype(np.float32) * inverse) + zero_point
    return np.clip(q, q_min, q_max).astype(np.uint8 if dtype == "quint8" else np.int8)


def quantize_per_tensor(
    input: Any, scale: float, zero_point: int, dtype: str = "quint8"
) -> QuantizedTensor:
    """q = clamp(round(x / scale) + zero_point, q_min, q_max) with one (scale, zero_point)."""
    s = np.asarray(scale, dtype=np.float32)
    z = np.asarray(zero_point, dtype=np.int64)
    if s.size != 1 or not s > 0:
        raise ValueError(f"quantize_per_tensor: scale must be one positive number, got {scale}")
    s, z = s.reshape(()), z.reshape(())
    return QuantizedTensor(_quantize(_array(input), s, z, dtype), s, z)


def quantize_per_channel(
    input: Any, scales: Any, zero_points: Any, axis: int, dtype: str = "qint8"
) -> QuantizedTensor:
    """q = clamp(round(x / scale[c]) + zero_point[c], q_min, q_max), c the index along
    ``axis``."""
    x = _array(input)
    s = _array(scales).astype(np.float32).reshape(-1)
    z = _array(zero_points).astype(np.int64).reshape(-1)
    if x.ndim == 0 or not -x.ndim <= axis < x.ndim:
        raise ValueError(f"quantize_per_channel: axis={axis} does not exist in shape {x.shape}")
    axis %= x.ndim
    if s.shape != (x.shape[axis],) or z.shape != s.shape:
        raise ValueError(
            f"quantize_per_channel: expected {x.shape[axis]} scales and zero points (dim "
            f"{axis} of {x.shape}), got {s.size} and {z.size}"
        )
    if not np.all(s > 0):
        raise ValueError("quantize_per_channel: every scale must be positive")
    values = _quantize(x, _broadcast_along(s, axis, x.ndim), _broadcast_along(z, axis, x.ndim),
                       dtype)  # fmt: skip
    return QuantizedTensor(values, s, z, axis)


def dequantize(q: QuantizedTensor) -> Tensor:
    """x̂ = (q - zero_point) · scale, in float32."""
    s = _broadcast_along(q.scale, q.axis, q.values.ndim)
    z = _broadcast_along(q.zero_point, q.axis, q.values.ndim)
    return Tensor(((q.values.astype(np.int64) - z) * s).astype(np.float32))
