"""Convolution layers: Conv1d, Conv2d, Conv3d and their adjoints ConvTranspose1d/2d/3d.

A convolution slides a small learned kernel over the spatial dims of its input: every
output position sees only a k₁×…×k_d window (local connectivity), and every position uses
the same kernel (weight sharing), so a layer has C_out·C_in/groups·Πk weights whatever the
image size. Each spatial output dim has size

    L = ⌊(S + 2p − δ(k − 1) − 1)/s⌋ + 1        (S input size, p padding, δ dilation, s stride)

and a transposed convolution, the adjoint map (it sends each input element to a window of
the output: a learned upsampling), has

    S = (L − 1)·s − 2p + δ(k − 1) + output_padding + 1.

The layers are shells over :mod:`nnlab.ops.conv` (``F.conv2d`` ...) with PyTorch's
argument names, defaults, weight layouts ((out, in/groups, k..) and (in, out/groups, k..)
for transposed) and initialisation, so a torch ``state_dict`` loads as is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from nnlab import dtypes
from nnlab.nn import init
from nnlab.nn.module import Module
from nnlab.nn.parameter import Parameter
from nnlab.ops import conv as C
from nnlab.ops.padding import pad as _pad
from nnlab.tensor import Tensor

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

_SPATIAL = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(value: Any, d: int, arg: str) -> tuple[int, ...]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * d
    if isinstance(value, Sequence) and len(value) == d and all(isinstance(v, int) for v in value):
        return tuple(value)
    raise TypeError(f"{arg} must be an int or a tuple of {d} ints, got {value!r}")


class _ConvNd(Module):
    """What Conv and ConvTranspose layers share: configuration, parameters, init, repr."""

    _d: int = 2
    transposed: bool = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        output_padding: Any,
        groups: int,
        bias: bool,
        padding_mode: str,
        dtype: Any,
    ) -> None:
        super().__init__()
        d, name = self._d, type(self).__name__
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
        for arg, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
            if channels % groups:
                raise ValueError(
                    f"{name}: {arg} must be divisible by groups, got {arg}={channels} and "
                    f"groups={groups}"
                )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _ntuple(kernel_size, d, "kernel_size")
        self.stride = _ntuple(stride, d, "stride")
        self.dilation = _ntuple(dilation, d, "dilation")
        self.output_padding = _ntuple(output_padding, d, "output_padding")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"{name}: invalid padding string {padding!r}, should be 'same' or 'valid'"
                )
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(
                    f"{name}: padding='same' is not supported for strided convolutions "
                    f"(stride={self.stride})"
                )
            self.padding = padding
        else:
            self.padding = _ntuple(padding, d, "padding")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"{name}: padding_mode must be one of {_PADDING_MODES}, but got "
                f"padding_mode={padding_mode!r}"
            )
        self.groups = groups
        self.padding_mode = padding_mode
        # (before, after) per spatial dim, last dim first: the ``pad`` argument of F.pad.
        if self.padding == "same":
            totals = [dl * (k - 1) for k, dl in zip(self.kernel_size, self.dilation)]
            pairs = [(t // 2, t - t // 2) for t in totals]
        elif self.padding == "valid":
            pairs = [(0, 0)] * d
        else:
            pairs = [(p, p) for p in self.padding]
        self._reversed_padding_repeated_twice = tuple(v for pair in reversed(pairs) for v in pair)
        if self.transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        dt = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
        self.weight = Parameter(np.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # kaiming_uniform_ with a=√5 gives U(-1/√fan_in, 1/√fan_in) (PyTorch's default), with
        # fan_in = weight.shape[1]·Πk (for a transposed layer: out_channels/groups·Πk).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _check_input(self, input: Tensor) -> tuple[int, ...]:
        """Rank and channels as the layer expects; returns the input's spatial size."""
        d = self._d
        dims = ", ".join(_SPATIAL[d])
        c = self.in_channels
        expected = f"(N, {c}, {dims}) or ({c}, {dims})"
        if input.ndim not in (d + 1, d + 2):
            raise self.shape_error(
                expected, input.shape,
                f"{type(self).__name__} takes a batch of {d}-D signals with channels first "
                f"({d + 2} dims), or one such signal without the batch dim ({d + 1} dims).",
            )  # fmt: skip
        channels = input.shape[-d - 1]
        if channels != c:
            raise self.shape_error(
                expected, input.shape,
                f"this layer has in_channels={c} but the input has {channels} channels in dim "
                f"{input.ndim - d - 1}; change in_channels or the previous layer's out_channels "
                "so they agree.",
            )  # fmt: skip
        return tuple(input.shape[-d:])

    def _size_error(self, input: Tensor, out: tuple[int, ...], formula: str) -> Exception:
        return self.shape_error(
            f"spatial dims giving an output of size ≥ 1 (got output size {out})",
            input.shape,
            f"each output dim is {formula} with kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}"
            + (f", output_padding={self.output_padding}" if self.transposed else "")
            + "; use a larger input, more padding or a smaller kernel.",
        )

    def extra_repr(self) -> str:
        d = self._d
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * d:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * d:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * d:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    _function = staticmethod(C.conv2d)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, 0, groups,
            bias, padding_mode, dtype,
        )  # fmt: skip

    def forward(self, input: Tensor) -> Tensor:
        size = self._check_input(input)
        flat = self._reversed_padding_repeated_twice
        pads = [(flat[2 * i], flat[2 * i + 1]) for i in reversed(range(self._d))]
        out = C.conv_output_size(size, self.kernel_size, self.stride, pads, self.dilation)
        if any(n <= 0 for n in out):
            raise self._size_error(input, out, "⌊(S + 2p − δ(k − 1) − 1)/s⌋ + 1")
        if self.padding_mode in ("reflect", "circular"):
            # These modes copy the input's own border: reflect needs padding < size (the
            # edge is not repeated), circular padding ≤ size (it wraps around once).
            op = ">" if self.padding_mode == "reflect" else "≥"
            widest = [max(p) for p in pads]
            if any(n <= w if op == ">" else n < w for n, w in zip(size, widest)):
                limits = ", ".join(f"{s} {op} {w}" for s, w in zip(_SPATIAL[self._d], widest))
                raise self.shape_error(
                    f"(N, {self.in_channels}, {', '.join(_SPATIAL[self._d])}) with {limits}",
                    input.shape,
                    f"padding_mode={self.padding_mode!r} pads with the input's own values, so "
                    "each spatial dim must exceed its padding (circular: at least equal it); "
                    "pad less, or use 'zeros' or 'replicate'.",
                )  # fmt: skip
        if self.padding_mode != "zeros":
            x = _pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            padding: Any = 0  # the padding is already in x
        else:
            x, padding = input, self.padding
        return self._function(
            x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups
        )


class _ConvTranspose(_ConvNd):
    transposed = True
    _function = staticmethod(C.conv_transpose2d)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        if padding_mode != "zeros":
            raise ValueError(
                f'Only "zeros" padding mode is supported for {type(self).__name__}, got '
                f"{padding_mode!r}"
            )
        if isinstance(padding, str):
            raise ValueError(
                f"{type(self).__name__}: padding must be an int or a tuple of ints, got "
                f"{padding!r} ('same' and 'valid' apply to convolution only)"
            )
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, output_padding,
            groups, bias, padding_mode, dtype,
        )  # fmt: skip

    def _output_padding(self, input: Tensor, output_size: Sequence[int] | None) -> tuple:
        """The output_padding that gives ``output_size`` (torch's rule): any size from the
        minimum (output_padding 0) to the minimum + stride − 1 can be asked for."""
        if output_size is None:
            return self.output_padding
        d = self._d
        size = tuple(int(n) for n in output_size)
        if len(size) == d + (2 if input.ndim == d + 2 else 1):
            size = size[-d:]
        if len(size) != d:
            raise ValueError(
                f"{self.path()} ({type(self).__name__}): output_size must have {d} or "
                f"{d + 2} elements, got {tuple(output_size)}"
            )
        zero = (0,) * d
        low = C.conv_transpose_output_size(
            input.shape[-d:], self.kernel_size, self.stride, self.padding, zero, self.dilation
        )
        high = tuple(n + s - 1 for n, s in zip(low, self.stride))
        if any(not lo <= n <= hi for n, lo, hi in zip(size, low, high)):
            raise ValueError(
                f"{self.path()} ({type(self).__name__}): requested an output size of {size}, "
                f"but valid sizes range from {low} to {high} (for an input of "
                f"{tuple(input.shape[-d:])})"
            )
        return tuple(n - lo for n, lo in zip(size, low))

    def forward(self, input: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        size = self._check_input(input)
        output_padding = self._output_padding(input, output_size)
        out = C.conv_transpose_output_size(
            size, self.kernel_size, self.stride, self.padding, output_padding, self.dilation
        )
        if any(n <= 0 for n in out):
            raise self._size_error(input, out, "(L − 1)·s − 2p + δ(k − 1) + output_padding + 1")
        return self._function(
            input, self.weight, self.bias, self.stride, self.padding, output_padding,
            self.groups, self.dilation,
        )  # fmt: skip


_CONV_DOC = """{d}-D convolution over a batch of {what}: y = W ⋆ x + b.

    Output channel o sums, over the input channels of its group and the kernel window,
    weight × input:  y[n, o, l] = b[o] + Σ_c Σ_κ W[o, c, κ]·x_pad[n, c, s·l + δ·κ].
    Each output spatial dim has size ⌊(S + 2p − δ(k − 1) − 1)/s⌋ + 1.

    Default initialisation (PyTorch's): W ~ U(−1/√fan_in, 1/√fan_in), i.e.
    ``kaiming_uniform_(a=√5)``, and b ~ U(−1/√fan_in, 1/√fan_in), with
    fan_in = in_channels/groups · Πk.

    Args:
        in_channels: channels C_in of the input.
        out_channels: channels C_out produced (the number of kernels).
        kernel_size: the window size k, an int or a tuple of {d}.
        stride: step s between windows (default: 1).
        padding: p added to both sides of each spatial dim: an int, a tuple, 'valid' (none)
            or 'same' (output size = input size; stride 1 only) (default: 0).
        dilation: spacing δ between kernel taps (default: 1).
        groups: independent convolutions over channel groups; in_channels and out_channels
            must be divisible by it; groups = in_channels is depthwise (default: 1).
        bias: learn an additive bias per output channel (default: True).
        padding_mode: what the padding holds: 'zeros', 'reflect', 'replicate' or
            'circular' (default: 'zeros').
        dtype: parameter dtype (default: the default dtype, float32).

    Shape:
        - Input: (N, C_in, {dims}) or (C_in, {dims}).
        - Output: (N, C_out, {odims}) or (C_out, {odims}).

    Attributes:
        weight: (C_out, C_in/groups, {kdims}).
        bias: (C_out,), or None.
"""

_CONV_T_DOC = """{d}-D transposed convolution: the adjoint (transpose) of Conv{d}d, a learned
    upsampling. Each input element adds a copy of the kernel, scaled by its value, into a
    window of the output; the windows step by ``stride`` and overlap where they meet.

    It is the gradient of a Conv{d}d with respect to its input, so a Conv{d}d and a
    ConvTranspose{d}d with the same arguments map between the same sizes in opposite
    directions. Each output spatial dim has size
    (L − 1)·s − 2p + δ(k − 1) + output_padding + 1; ``output_padding`` (or the
    ``output_size`` argument of forward) picks among the sizes a strided Conv{d}d maps
    to the same L.

    Default initialisation (PyTorch's): ``kaiming_uniform_(a=√5)``, and
    b ~ U(−1/√fan_in, 1/√fan_in) with fan_in = weight.shape[1]·Πk = out_channels/groups·Πk.

    Args:
        in_channels: channels C_in of the input.
        out_channels: channels C_out produced.
        kernel_size: the window size k, an int or a tuple of {d}.
        stride: stride of the convolution this is the adjoint of (default: 1).
        padding: that convolution's padding, removed from both sides of the output
            (default: 0).
        output_padding: size added to one side of each output dim; smaller than the
            stride or the dilation (default: 0).
        groups: independent groups of channels (default: 1).
        bias: learn an additive bias per output channel (default: True).
        dilation: spacing δ between kernel taps (default: 1).
        padding_mode: only 'zeros' (default: 'zeros').
        dtype: parameter dtype (default: the default dtype, float32).

    Shape:
        - Input: (N, C_in, {dims}) or (C_in, {dims}).
        - Output: (N, C_out, {odims}) or (C_out, {odims}).

    Attributes:
        weight: (C_in, C_out/groups, {kdims}).
        bias: (C_out,), or None.
"""


def _doc(template: str, d: int, what: str, example: str) -> str:
    dims = ", ".join(_SPATIAL[d])
    return template.format(
        d=d, what=what, dims=dims,
        odims=", ".join(s + "_out" for s in _SPATIAL[d]),
        kdims=", ".join("k" + s for s in _SPATIAL[d]) if d > 1 else "k",
    ) + example  # fmt: skip


class Conv1d(_Conv):
    _d = 1
    _function = staticmethod(C.conv1d)
    __doc__ = _doc(_CONV_DOC, 1, "sequences (N, C, L)", """
    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> conv = nn.Conv1d(1, 32, kernel_size=5)
        >>> conv(nnlab.randn(100, 1, 40)).shape
        nnlab.Size([100, 32, 36])
        >>> conv
        Conv1d(1, 32, kernel_size=(5,), stride=(1,))
""")  # fmt: skip


class Conv2d(_Conv):
    _d = 2
    _function = staticmethod(C.conv2d)
    __doc__ = _doc(_CONV_DOC, 2, "images (N, C, H, W)", """
    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> conv = nn.Conv2d(1, 6, kernel_size=5, padding=2)
        >>> conv(nnlab.randn(64, 1, 28, 28)).shape
        nnlab.Size([64, 6, 28, 28])
        >>> nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False)(nnlab.randn(1, 16, 8, 8)).shape
        nnlab.Size([1, 32, 4, 4])
""")  # fmt: skip


class Conv3d(_Conv):
    _d = 3
    _function = staticmethod(C.conv3d)
    __doc__ = _doc(_CONV_DOC, 3, "volumes or clips (N, C, D, H, W)", """
    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.Conv3d(2, 4, kernel_size=3, padding="same")(nnlab.randn(1, 2, 5, 6, 7)).shape
        nnlab.Size([1, 4, 5, 6, 7])
""")  # fmt: skip


class ConvTranspose1d(_ConvTranspose):
    _d = 1
    _function = staticmethod(C.conv_transpose1d)
    __doc__ = _doc(_CONV_T_DOC, 1, "", """
    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.ConvTranspose1d(32, 1, kernel_size=5)(nnlab.randn(100, 32, 36)).shape
        nnlab.Size([100, 1, 40])
""")  # fmt: skip


class ConvTranspose2d(_ConvTranspose):
    _d = 2
    _function = staticmethod(C.conv_transpose2d)
    __doc__ = _doc(_CONV_T_DOC, 2, "", """
    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> up = nn.ConvTranspose2d(16, 8, kernel_size=3, stride=2, padding=1)
        >>> x = nnlab.randn(4, 16, 7, 7)
        >>> up(x).shape
        nnlab.Size([4, 8, 13, 13])
        >>> up(x, output_size=(14, 14)).shape
        nnlab.Size([4, 8, 14, 14])
""")  # fmt: skip


class ConvTranspose3d(_ConvTranspose):
    _d = 3
    _function = staticmethod(C.conv_transpose3d)
    __doc__ = _doc(_CONV_T_DOC, 3, "", """
    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.ConvTranspose3d(4, 2, kernel_size=2, stride=2)(nnlab.randn(1, 4, 3, 3, 3)).shape
        nnlab.Size([1, 2, 6, 6, 6])
""")  # fmt: skip
