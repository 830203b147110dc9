"""Post-training int8 quantisation of Conv2d layers: integer kernels, integer products.

The same recipe as :mod:`nnlab.quantization.quantized_linear`, applied to a convolution.
The kernel W (O, C, kh, kw) is quantised symmetrically (z_w = 0), per tensor or per output
channel; the input uses the affine quint8 map whose (s_x, z_x) calibration has fixed:

    q_w = round(W / s_w),    q_x = clamp(round(x / s_x) + z_x, 0, 255)

im2col turns the convolution into one integer matrix product over every (channel, kernel
offset) pair, exact in int32, and one float multiply per output channel maps it back:

    acc[n, o, i, j] = Σ_c Σ_κ (q_x_pad[n, c, s·(i, j) + δ·κ] - z_x) · q_w[o, c, κ]   (int32)
    y[n, o, i, j]   = s_x · s_w[o] · acc[n, o, i, j] + b[o]                         (float32)

Zero padding is applied to the centred integers q_x - z_x, so a padded position is the
float 0 exactly, as in the float layer. Only groups=1 and padding_mode='zeros' are
supported.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from nnlab.nn.modules.conv import Conv2d
from nnlab.quantization.quantized_linear import _array, _Int8Layer
from nnlab.tensor import Tensor

__all__ = ["QuantizedConv2d"]


class QuantizedConv2d(_Int8Layer):
    """Conv2d with an int8 kernel and an int32 im2col product (see the module docstring).
    Build one from a float layer with :meth:`from_float`.

    Args:
        in_channels, out_channels, kernel_size, stride, dilation: as for
            :class:`~nnlab.nn.Conv2d` (pairs of ints).
        padding: ``(top, bottom, left, right)`` zero padding of the input.
        bias: keep a float32 bias (default: True).
        per_channel: one kernel scale per output channel (default) or one for the tensor.

    Buffers: ``weight`` (O, C, kh, kw) int8, ``weight_scale`` (O,) or () float32, ``scale``
    and ``zero_point`` of the input, ``bias`` (O,) float32.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> conv = nn.Conv2d(1, 4, 3, padding=1)
        >>> q = QuantizedConv2d.from_float(conv, scale=0.02, zero_point=128)
        >>> q.weight.dtype, q(nnlab.randn(2, 1, 8, 8)).shape
        (nnlab.int8, nnlab.Size([2, 4, 8, 8]))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, int],
        stride: tuple[int, int] = (1, 1),
        padding: tuple[int, int, int, int] = (0, 0, 0, 0),
        dilation: tuple[int, int] = (1, 1),
        bias: bool = True,
        per_channel: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = tuple(kernel_size)
        self.stride = tuple(stride)
        self.padding = tuple(padding)
        self.dilation = tuple(dilation)
        shape = (out_channels, in_channels) + self.kernel_size
        self._register_int8_buffers(shape, bias, per_channel)

    @classmethod
    def from_float(
        cls, conv: Conv2d, scale: float, zero_point: int, per_channel: bool = True
    ) -> QuantizedConv2d:
        """Quantise ``conv``'s kernel; (scale, zero_point) quantise its quint8 input."""
        if not isinstance(conv, Conv2d):
            raise TypeError(f"QuantizedConv2d.from_float expects an nn.Conv2d, "
                            f"got {type(conv).__name__}")  # fmt: skip
        if conv.groups != 1:
            raise ValueError(f"QuantizedConv2d.from_float supports groups=1 only, "
                             f"got groups={conv.groups}")  # fmt: skip
        if conv.padding_mode != "zeros":
            raise ValueError(f"QuantizedConv2d.from_float supports padding_mode='zeros' only, "
                             f"got padding_mode={conv.padding_mode!r}")  # fmt: skip
        # (left, right, top, bottom), as F.pad takes it; 'same' and 'valid' resolved already
        left, right, top, bottom = conv._reversed_padding_repeated_twice
        q = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            conv.stride,
            (top, bottom, left, right),
            conv.dilation,
            conv.bias is not None,
            per_channel,
        )
        q._load_float(conv, scale, zero_point)
        return q

    def forward(self, input: Tensor) -> Tensor:
        x = _array(input)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise self.shape_error(f"(N, {self.in_channels}, H, W)", x.shape)
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        top, bottom, left, right = self.padding
        span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
        if x.shape[2] + top + bottom < span_h or x.shape[3] + left + right < span_w:
            raise self.shape_error(
                f"(N, {self.in_channels}, H, W) with H + {top + bottom} ≥ {span_h} "
                f"and W + {left + right} ≥ {span_w}",
                x.shape,
            )
        centred = self._centred_input(x)
        # pad after centring: a padded position is the float 0 exactly
        centred = np.pad(centred, ((0, 0), (0, 0), (top, bottom), (left, right)))
        windows = sliding_window_view(centred, (span_h, span_w), axis=(2, 3))
        # (N, C, H_out, W_out, kh, kw): strided output positions, dilated kernel taps
        cols = windows[:, :, ::sh, ::sw, ::dh, ::dw]
        n, c, h_out, w_out = cols.shape[:4]
        cols = cols.transpose(0, 2, 3, 1, 4, 5).reshape(n * h_out * w_out, c * kh * kw)
        w2 = self.weight.array.astype(np.int32).reshape(self.out_channels, -1)
        acc = cols @ w2.T  # exact in int32: |acc| ≤ 255·127·C·kh·kw < 2³¹
        y = self._dequantize(acc).reshape(n, h_out, w_out, self.out_channels)
        y = y.transpose(0, 3, 1, 2)
        return Tensor(np.ascontiguousarray(y, dtype=np.float32))

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
            f"per_channel={self.per_channel}, scale={float(self.scale.array):.4g}, "
            f"zero_point={int(self.zero_point.array)}"
        )
