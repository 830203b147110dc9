"""Pooling layers: MaxPool, AvgPool, adaptive pooling, global average pooling, MaxUnpool.

Pooling summarises each window of a feature map by its maximum or mean: the map shrinks,
later layers see a wider field of view, and small shifts of the input matter less. The
layers have no parameters; each is a thin shell over :mod:`nnlab.nn.functional` (the ops
and their backward live in :mod:`nnlab.ops.pooling`). Every layer takes a batch
(N, C, *S) or a single sample (C, *S), with ``len(S)`` the layer's number of dims.
"""

from __future__ import annotations

from typing import Any

from nnlab.nn import functional as F
from nnlab.nn.module import Module
from nnlab.tensor import Tensor

__all__ = [
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "GlobalAvgPool", "MaxUnpool1d", "MaxUnpool2d",
    "MaxUnpool3d",
]  # fmt: skip

_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


class _Pool(Module):
    """Shared input check: (N, C, *S) or (C, *S) with ``dims`` spatial dims."""

    dims = 2

    def _check(self, input: Tensor) -> None:
        n = self.dims
        if input.ndim in (n + 1, n + 2):
            return
        name = type(self).__name__
        hint = f"{name} pools the last {n} dim(s) of (N, C, {_SPATIAL[n]})."
        if 1 <= input.ndim - 2 <= 3 and input.ndim - 2 != n:
            hint += f" This {input.ndim}-D input has {input.ndim - 2} spatial dim(s): use "
            hint += f"{name[:-2]}{input.ndim - 2}d."
        elif input.ndim < n + 1:
            hint += " A flat (N, features) batch has no spatial dims: pool before Flatten."
        raise self.shape_error(f"(N, C, {_SPATIAL[n]}) or (C, {_SPATIAL[n]})", input.shape, hint)


class _MaxPool(_Pool):
    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Any:
        self._check(input)
        pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[self.dims - 1]
        return pool(input, self.kernel_size, self.stride, self.padding, self.dilation,
                    self.ceil_mode, self.return_indices)  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPool):
    """Max pooling over sequences: y = the maximum of each window of length kernel_size.

    L_out = ⌊(L + 2·padding - dilation·(kernel_size - 1) - 1) / stride⌋ + 1 (rounded up
    with ``ceil_mode``). Arguments and tie/gradient rules as :class:`MaxPool2d`.

    Shape:
        - Input: (N, C, L) or (C, L).
        - Output: (N, C, L_out) or (C, L_out).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.MaxPool1d(3, stride=2)(nnlab.zeros(4, 16, 50)).shape
        nnlab.Size([4, 16, 24])
    """

    dims = 1


class MaxPool2d(_MaxPool):
    """Max pooling over images: y = the maximum of each kernel_size window.

    Per spatial dim of length L the output length is
    L_out = ⌊(L + 2·padding - dilation·(kernel_size - 1) - 1) / stride⌋ + 1,
    rounded up instead with ``ceil_mode`` (but no window may start in the right padding).
    Padding is -inf, so it never wins. On ties the gradient goes to the window's first
    maximum in row-major order, as torch; overlapping windows (stride < kernel_size) add
    up their gradients.

    Args:
        kernel_size: window size, an int or (kH, kW).
        stride: step between windows (default: ``kernel_size``).
        padding: -inf padding on both sides, at most kernel_size // 2 (default: 0).
        dilation: spacing between window elements (default: 1).
        return_indices: also return the flat index h·W + w of each maximum in its
            channel, for :class:`MaxUnpool2d` (default: False).
        ceil_mode: round the output size up (default: False).

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, H_out, W_out) or (C, H_out, W_out).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> pool = nn.MaxPool2d(2)
        >>> pool(nnlab.zeros(64, 6, 28, 28)).shape
        nnlab.Size([64, 6, 14, 14])
        >>> pool
        MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    """

    dims = 2


class MaxPool3d(_MaxPool):
    """Max pooling over volumes (N, C, D, H, W): the maximum of each kernel_size window,
    with the output size per dim and the arguments of :class:`MaxPool2d`.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: (N, C, D_out, H_out, W_out) or (C, D_out, H_out, W_out).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.MaxPool3d(2, padding=1, ceil_mode=True)(nnlab.zeros(1, 2, 5, 6, 7)).shape
        nnlab.Size([1, 2, 3, 4, 4])
    """

    dims = 3


class _AvgPool(_Pool):
    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        self._check(input)
        args = (input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                self.count_include_pad)  # fmt: skip
        if self.dims == 1:
            return F.avg_pool1d(*args)
        pool = F.avg_pool2d if self.dims == 2 else F.avg_pool3d
        return pool(*args, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _single(value: Any) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


class AvgPool1d(_AvgPool):
    """Average pooling over sequences: y = the mean of each window of length kernel_size.

    L_out = ⌊(L + 2·padding - kernel_size) / stride⌋ + 1 (rounded up with ``ceil_mode``);
    the divisor rules are those of :class:`AvgPool2d` (without ``divisor_override``).

    Shape:
        - Input: (N, C, L) or (C, L).
        - Output: (N, C, L_out) or (C, L_out).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.AvgPool1d(2)(nnlab.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]]))
        tensor([[[1.5, 3.5]]])
        >>> nn.AvgPool1d(3)
        AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))
    """

    dims = 1

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        # torch keeps AvgPool1d's sizes as 1-tuples (and prints them so).
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)


class AvgPool2d(_AvgPool):
    """Average pooling over images: y = the mean of each kernel_size window.

    Per spatial dim, L_out = ⌊(L + 2·padding - kernel_size) / stride⌋ + 1 (rounded up with
    ``ceil_mode``). Each window sum is divided by the window's size with its zero padding
    (but not the extra right part that ``ceil_mode`` adds), by its number of real inputs
    with ``count_include_pad=False``, or by ``divisor_override``.

    Args:
        kernel_size: window size, an int or (kH, kW).
        stride: step between windows (default: ``kernel_size``).
        padding: zero padding on both sides, at most kernel_size // 2 (default: 0).
        ceil_mode: round the output size up (default: False).
        count_include_pad: count the zero padding in the divisor (default: True).
        divisor_override: divide every window sum by this instead (default: None).

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, H_out, W_out) or (C, H_out, W_out).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.AvgPool2d(2)(nnlab.arange(16.0).reshape(1, 1, 4, 4))
        tensor([[[[ 2.5,  4.5],
                  [10.5, 12.5]]]])
    """

    dims = 2


class AvgPool3d(_AvgPool):
    """Average pooling over volumes (N, C, D, H, W): the mean of each kernel_size window,
    with the output size per dim, divisor rules and arguments of :class:`AvgPool2d`.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: (N, C, D_out, H_out, W_out) or (C, D_out, H_out, W_out).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.AvgPool3d((1, 2, 2))(nnlab.ones(2, 3, 4, 4, 4)).shape
        nnlab.Size([2, 3, 4, 2, 2])
    """

    dims = 3


class _AdaptivePool(_Pool):
    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _AdaptiveAvgPool(_AdaptivePool):
    def forward(self, input: Tensor) -> Tensor:
        self._check(input)
        pool = (F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d)
        return pool[self.dims - 1](input, self.output_size)


class _AdaptiveMaxPool(_AdaptivePool):
    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:
        self._check(input)
        pool = (F.adaptive_max_pool1d, F.adaptive_max_pool2d, F.adaptive_max_pool3d)
        return pool[self.dims - 1](input, self.output_size, self.return_indices)


class AdaptiveAvgPool1d(_AdaptiveAvgPool):
    """Adaptive average pooling of sequences to length ``output_size``; windows as
    :class:`AdaptiveAvgPool2d`.

    Shape:
        - Input: (N, C, L) or (C, L).
        - Output: (N, C, output_size) or (C, output_size).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.AdaptiveAvgPool1d(2)(nnlab.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]]))
        tensor([[[2., 4.]]])
    """

    dims = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPool):
    """Adaptive average pooling of images to a fixed (H_out, W_out), whatever their size.

    Along each dim, output cell i averages the inputs [⌊i·L/L_out⌋, ⌈(i+1)·L/L_out⌉)
    (torch's windows: they overlap when L_out does not divide L). Handy in front of a
    Linear layer that needs a fixed number of features.

    Args:
        output_size: an int (square) or (H_out, W_out); None keeps that input size.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, H_out, W_out) or (C, H_out, W_out).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.AdaptiveAvgPool2d((5, 7))(nnlab.zeros(1, 64, 8, 9)).shape
        nnlab.Size([1, 64, 5, 7])
        >>> nn.AdaptiveAvgPool2d((None, 7))
        AdaptiveAvgPool2d(output_size=(None, 7))
    """

    dims = 2


class AdaptiveAvgPool3d(_AdaptiveAvgPool):
    """Adaptive average pooling of volumes to a fixed (D_out, H_out, W_out); windows and
    ``output_size`` as :class:`AdaptiveAvgPool2d`.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.AdaptiveAvgPool3d(1)(nnlab.ones(2, 3, 4, 5, 6)).shape
        nnlab.Size([2, 3, 1, 1, 1])
    """

    dims = 3


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    """Adaptive max pooling of sequences to length ``output_size``; windows, ties and
    ``return_indices`` as :class:`AdaptiveMaxPool2d`.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.AdaptiveMaxPool1d(2)(nnlab.tensor([[[1.0, 5.0, 2.0, 4.0, 3.0]]]))
        tensor([[[5., 4.]]])
    """

    dims = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    """Adaptive max pooling of images to a fixed (H_out, W_out), whatever their size.

    Along each dim, output cell i covers the inputs [⌊i·L/L_out⌋, ⌈(i+1)·L/L_out⌉)
    (torch's windows) and holds their maximum: the first one in row-major order on ties,
    which is also the one that gets the gradient, as torch.

    Args:
        output_size: an int (square) or (H_out, W_out); None keeps that input size.
        return_indices: also return the flat index h·W + w of each maximum
            (default: False).

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, H_out, W_out) or (C, H_out, W_out).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> y, idx = nn.AdaptiveMaxPool2d(2, return_indices=True)(nnlab.randn(1, 3, 5, 7))
        >>> y.shape, idx.shape
        (nnlab.Size([1, 3, 2, 2]), nnlab.Size([1, 3, 2, 2]))
    """

    dims = 2


class AdaptiveMaxPool3d(_AdaptiveMaxPool):
    """Adaptive max pooling of volumes to a fixed (D_out, H_out, W_out); windows, ties and
    arguments as :class:`AdaptiveMaxPool2d`.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.AdaptiveMaxPool3d((1, 2, 2))(nnlab.ones(2, 3, 4, 5, 6)).shape
        nnlab.Size([2, 3, 1, 2, 2])
    """

    dims = 3


class GlobalAvgPool(Module):
    """Global average pooling (an nnlab extra): the mean of each channel over all its
    spatial positions, y[n, c] = mean_s x[n, c, s], for any number of spatial dims.

    The usual head of a convolutional classifier: instead of flattening a feature map into
    a large Linear layer, average each channel (Lin et al., 2014). Equivalent to
    ``AdaptiveAvgPool2d(1)`` followed by ``Flatten()`` on images.

    Args:
        flatten: return (N, C) (default: True); False keeps (N, C, 1, ..., 1).

    Shape:
        - Input: (N, C, *S) with at least one spatial dim.
        - Output: (N, C), or (N, C, 1, ..., 1) without ``flatten``.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.GlobalAvgPool()(nnlab.ones(8, 32, 7, 7)).shape
        nnlab.Size([8, 32])
        >>> nn.GlobalAvgPool(flatten=False)(nnlab.ones(8, 32, 7, 7)).shape
        nnlab.Size([8, 32, 1, 1])
    """

    def __init__(self, flatten: bool = True) -> None:
        super().__init__()
        self.flatten = flatten

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim < 3:
            raise self.shape_error(
                "(N, C, *spatial) with at least one spatial dim", input.shape,
                "a flat (N, features) batch has nothing left to pool; remove GlobalAvgPool "
                "or move it before Flatten.",
            )  # fmt: skip
        return F.global_avg_pool(input, self.flatten)

    def extra_repr(self) -> str:
        return f"flatten={self.flatten}"


class _MaxUnpool(_Pool):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        n = self.dims
        self.kernel_size = _ntuple(kernel_size, n)
        self.stride = _ntuple(stride if stride is not None else kernel_size, n)
        self.padding = _ntuple(padding, n)

    def forward(self, input: Tensor, indices: Tensor, output_size: Any = None) -> Tensor:
        self._check(input)
        unpool = (F.max_unpool1d, F.max_unpool2d, F.max_unpool3d)[self.dims - 1]
        return unpool(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _ntuple(value: Any, n: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


class MaxUnpool1d(_MaxUnpool):
    """The partial inverse of :class:`MaxPool1d`; see :class:`MaxUnpool2d`.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> pool = nn.MaxPool1d(2, return_indices=True)
        >>> nn.MaxUnpool1d(2)(*pool(nnlab.tensor([[[1.0, 3.0, 2.0, 0.0]]])))
        tensor([[[0., 3., 2., 0.]]])
    """

    dims = 1


class MaxUnpool2d(_MaxUnpool):
    """The partial inverse of :class:`MaxPool2d`: put each value back where its maximum
    came from (the ``indices`` that ``MaxPool2d(..., return_indices=True)`` returned) and
    zeros everywhere else.

    Per dim the output length is (L - 1)·stride - 2·padding + kernel_size, or the
    ``output_size`` given to forward, which may differ from it by less than one stride
    (several input sizes pool to the same size).

    Args:
        kernel_size, stride, padding: those of the max pooling (stride defaults to
            ``kernel_size``).

    Shape:
        - Input and indices: (N, C, H, W) or (C, H, W).
        - Output: (N, C, H_out, W_out) or (C, H_out, W_out).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
        >>> y, idx = pool(nnlab.tensor([[[[1.0, 2.0], [4.0, 3.0]]]]))
        >>> unpool(y, idx)
        tensor([[[[0., 0.],
                  [4., 0.]]]])
        >>> unpool(*pool(nnlab.ones(1, 1, 5, 5)), output_size=(5, 5)).shape
        nnlab.Size([1, 1, 5, 5])
    """

    dims = 2


class MaxUnpool3d(_MaxUnpool):
    """The partial inverse of :class:`MaxPool3d`; see :class:`MaxUnpool2d`.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> y, idx = nn.MaxPool3d(2, return_indices=True)(nnlab.randn(1, 2, 4, 4, 4))
        >>> nn.MaxUnpool3d(2)(y, idx).shape
        nnlab.Size([1, 2, 4, 4, 4])
    """

    dims = 3
