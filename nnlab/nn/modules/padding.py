"""Padding layers: grow the last 1, 2 or 3 dims of a batch by a border (``F.pad`` as a layer).

==================  ==============================  ======================
layer               the border holds                for [a b c d], pad 2
==================  ==============================  ======================
ZeroPad*d           zeros                           0 0 a b c d 0 0
ConstantPad*d       a constant ``value``            v v a b c d v v
ReflectionPad*d     the mirror image (no edge)      c b a b c d c b
ReplicationPad*d    copies of the edge              a a a b c d d d
CircularPad*d       the other end (periodic)        c d a b c d a b
==================  ==============================  ======================

``padding`` is an int (the same width everywhere) or a tuple of 2·d widths, last dim
first: (left, right) in 1-D, (left, right, top, bottom) in 2-D, then (front, back) in 3-D,
as in PyTorch. Negative widths crop.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.nn.module import Module
from nnlab.ops.padding import pad
from nnlab.tensor import Tensor

__all__ = [
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
    "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d",
]  # fmt: skip

_SPATIAL = {1: "W", 2: "H, W", 3: "D, H, W"}


class _PadNd(Module):
    """Stores ``padding`` as torch does (a tuple of 2·d ints) and checks the input rank."""

    _d: int = 2
    mode: str = "constant"

    def __init__(self, padding: Any) -> None:
        super().__init__()
        n = 2 * self._d
        if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
            self.padding = (int(padding),) * n
        elif isinstance(padding, (tuple, list)) and len(padding) == n:
            self.padding = tuple(int(p) for p in padding)
        else:
            raise TypeError(
                f"{type(self).__name__}: padding must be an int or a tuple of {n} ints "
                f"(last dim first), got {padding!r}"
            )

    def forward(self, input: Tensor) -> Tensor:
        d = self._d
        if self.mode == "constant":
            if input.ndim < d:
                raise self.shape_error(
                    f"at least {d} dims (*, {_SPATIAL[d]})", input.shape,
                    f"{type(self).__name__} pads the last {d} dims.",
                )  # fmt: skip
        elif input.ndim not in (d + 1, d + 2):
            raise self.shape_error(
                f"(N, C, {_SPATIAL[d]}) or (C, {_SPATIAL[d]})", input.shape,
                f"{type(self).__name__} pads the last {d} dims of a (batch of) {d}-D signals.",
            )  # fmt: skip
        return pad(input, self.padding, mode=self.mode, value=self._value())

    def _value(self) -> float | None:
        return None

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def _value(self) -> float | None:
        return self.value

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with ``value``.

    Args:
        padding: an int, or (left, right).
        value: the fill value.

    Shape:
        - Input: (*, W). Output: (*, W + left + right).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.ConstantPad1d((1, 2), 3.5)(nnlab.ones(1, 2))
        tensor([[3.5, 1. , 1. , 3.5, 3.5]])
    """

    _d = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims with ``value``.

    Args:
        padding: an int, or (left, right, top, bottom).
        value: the fill value.

    Shape:
        - Input: (*, H, W). Output: (*, H + top + bottom, W + left + right).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.ConstantPad2d((1, 0, 0, 1), -1.0)(nnlab.ones(1, 1, 2))
        tensor([[[-1.,  1.,  1.],
                 [-1., -1., -1.]]])
    """

    _d = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dims with ``value``.

    Args:
        padding: an int, or (left, right, top, bottom, front, back).
        value: the fill value.

    Shape:
        - Input: (*, D, H, W). Output: (*, D + front + back, H + top + bottom, W + left + right).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.ConstantPad3d(1, 0.5)(nnlab.ones(2, 1, 2, 3)).shape
        nnlab.Size([2, 3, 4, 5])
    """

    _d = 3


class ZeroPad1d(ConstantPad1d):
    """Pad the last dim with zeros.

    Args:
        padding: an int, or (left, right).

    Shape:
        - Input: (*, W). Output: (*, W + left + right).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.ZeroPad1d((2, 1))(nnlab.ones(1, 3))
        tensor([[0., 0., 1., 1., 1., 0.]])
    """

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pad the last two dims with zeros (the border a 'same' convolution reads).

    Args:
        padding: an int, or (left, right, top, bottom).

    Shape:
        - Input: (*, H, W). Output: (*, H + top + bottom, W + left + right).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.ZeroPad2d((1, 1, 2, 0))(nnlab.ones(1, 1, 3, 3)).shape
        nnlab.Size([1, 1, 5, 5])
        >>> nn.ZeroPad2d(1)
        ZeroPad2d((1, 1, 1, 1))
    """

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """Pad the last three dims with zeros.

    Args:
        padding: an int, or (left, right, top, bottom, front, back).

    Shape:
        - Input: (*, D, H, W). Output: (*, D + front + back, H + top + bottom, W + left + right).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.ZeroPad3d((1, 1, 0, 0, 2, 2))(nnlab.ones(1, 1, 2, 2, 2)).shape
        nnlab.Size([1, 1, 6, 2, 4])
    """

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Pad the last dim with its mirror image about the edge (the edge not repeated); each
    width must be smaller than the dim.

    Args:
        padding: an int, or (left, right).

    Shape:
        - Input: (N, C, W) or (C, W). Output: (N, C, W + left + right) or (C, ...).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.ReflectionPad1d(2)(nnlab.tensor([[[1.0, 2.0, 3.0, 4.0]]]))
        tensor([[[3., 2., 1., 2., 3., 4., 3., 2.]]])
    """

    _d = 1
    mode = "reflect"


class ReflectionPad2d(_PadNd):
    """Pad the last two dims with their mirror image (the edge not repeated).

    Args:
        padding: an int, or (left, right, top, bottom).

    Shape:
        - Input: (N, C, H, W) or (C, H, W). Output: (N, C, H + top + bottom, W + left + right).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.ReflectionPad2d(1)(nnlab.arange(4.0).reshape(1, 1, 2, 2))
        tensor([[[[3., 2., 3., 2.],
                  [1., 0., 1., 0.],
                  [3., 2., 3., 2.],
                  [1., 0., 1., 0.]]]])
    """

    _d = 2
    mode = "reflect"


class ReflectionPad3d(_PadNd):
    """Pad the last three dims with their mirror image (the edge not repeated).

    Args:
        padding: an int, or (left, right, top, bottom, front, back).

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W). Output: each of D, H, W grown by its widths.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.ReflectionPad3d(1)(nnlab.ones(1, 1, 2, 2, 2)).shape
        nnlab.Size([1, 1, 4, 4, 4])
    """

    _d = 3
    mode = "reflect"


class ReplicationPad1d(_PadNd):
    """Pad the last dim by repeating its edge values.

    Args:
        padding: an int, or (left, right).

    Shape:
        - Input: (N, C, W) or (C, W). Output: (N, C, W + left + right) or (C, ...).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.ReplicationPad1d((2, 1))(nnlab.tensor([[[1.0, 2.0, 3.0]]]))
        tensor([[[1., 1., 1., 2., 3., 3.]]])
    """

    _d = 1
    mode = "replicate"


class ReplicationPad2d(_PadNd):
    """Pad the last two dims by repeating their edge values.

    Args:
        padding: an int, or (left, right, top, bottom).

    Shape:
        - Input: (N, C, H, W) or (C, H, W). Output: (N, C, H + top + bottom, W + left + right).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.ReplicationPad2d((1, 0, 1, 0))(nnlab.arange(4.0).reshape(1, 2, 2))
        tensor([[[0., 0., 1.],
                 [0., 0., 1.],
                 [2., 2., 3.]]])
    """

    _d = 2
    mode = "replicate"


class ReplicationPad3d(_PadNd):
    """Pad the last three dims by repeating their edge values.

    Args:
        padding: an int, or (left, right, top, bottom, front, back).

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W). Output: each of D, H, W grown by its widths.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.ReplicationPad3d((1, 1, 1, 1, 0, 0))(nnlab.ones(1, 1, 2, 2, 2)).shape
        nnlab.Size([1, 1, 2, 4, 4])
    """

    _d = 3
    mode = "replicate"


class CircularPad1d(_PadNd):
    """Pad the last dim with the values from its other end, as if the signal were periodic;
    each width must be at most the dim.

    Args:
        padding: an int, or (left, right).

    Shape:
        - Input: (N, C, W) or (C, W). Output: (N, C, W + left + right) or (C, ...).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.CircularPad1d((2, 1))(nnlab.tensor([[[1.0, 2.0, 3.0]]]))
        tensor([[[2., 3., 1., 2., 3., 1.]]])
    """

    _d = 1
    mode = "circular"


class CircularPad2d(_PadNd):
    """Pad the last two dims with the values from their other ends (a torus).

    Args:
        padding: an int, or (left, right, top, bottom).

    Shape:
        - Input: (N, C, H, W) or (C, H, W). Output: (N, C, H + top + bottom, W + left + right).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.CircularPad2d((1, 0, 1, 0))(nnlab.arange(4.0).reshape(1, 2, 2))
        tensor([[[3., 2., 3.],
                 [1., 0., 1.],
                 [3., 2., 3.]]])
    """

    _d = 2
    mode = "circular"


class CircularPad3d(_PadNd):
    """Pad the last three dims with the values from their other ends.

    Args:
        padding: an int, or (left, right, top, bottom, front, back).

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W). Output: each of D, H, W grown by its widths.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.CircularPad3d(1)(nnlab.ones(1, 1, 2, 2, 2)).shape
        nnlab.Size([1, 1, 4, 4, 4])
    """

    _d = 3
    mode = "circular"
