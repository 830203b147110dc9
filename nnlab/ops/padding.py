"""Padding by copying the input's own border: reflect, replicate and circular, in N dims.

``pad`` lists (before, after) widths starting from the LAST dim, as
``torch.nn.functional.pad``: ``(1, 1)`` pads the last dim, ``(1, 1, 2, 0)`` the last two.
For an input ``[a, b, c, d]`` padded by 2 on each side:

    constant   0 0 | a b c d | 0 0       (a fixed value; the op lives in ``ops/shape.py``)
    reflect    c b | a b c d | c b       (mirrored about the edge, the edge not repeated)
    replicate  a a | a b c d | d d       (the edge value repeated)
    circular   c d | a b c d | a b       (wrapped around, as if the signal were periodic)

Each output element is a copy of one input element, so the gradient of an input element
is the sum of the output gradients of all its copies. The backward therefore *folds* the
padding back, one padded dim at a time: it keeps the centre and adds each border strip
onto the input positions it was copied from (a reversed strip for reflect, a sum onto the
edge for replicate, the opposite end for circular). Only slices are touched: no index
arrays, no ``np.add.at``.

A negative width crops, as in torch: reflect and replicate pad first and then crop, while
circular crops first and then wraps the cropped signal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nnlab.autograd.function import Function
from nnlab.ops import shape as _shape
from nnlab.tensor import Tensor

__all__ = ["pad", "MODES"]

#: torch's mode name → NumPy's ``np.pad`` mode.
MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _axis(ndim: int, axis: int, index: slice) -> tuple[slice, ...]:
    """An index selecting ``index`` along ``axis`` and everything along the other dims."""
    return (slice(None),) * axis + (index,) + (slice(None),) * (ndim - axis - 1)


def _fold(g: np.ndarray, axis: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """The gradient of padding one axis by (lo, hi) ≥ 0: centre plus the folded borders."""
    n = g.ndim
    size = g.shape[axis] - lo - hi
    dx = g[_axis(n, axis, slice(lo, lo + size))].copy()
    left = g[_axis(n, axis, slice(0, lo))]
    right = g[_axis(n, axis, slice(lo + size, lo + size + hi))]
    if mode == "reflect":  # padded position i < lo copied input lo - i
        if lo:
            dx[_axis(n, axis, slice(1, lo + 1))] += np.flip(left, axis)
        if hi:
            dx[_axis(n, axis, slice(size - 1 - hi, size - 1))] += np.flip(right, axis)
    elif mode == "replicate":  # every border element copied the edge element
        if lo:
            dx[_axis(n, axis, slice(0, 1))] += left.sum(axis, keepdims=True)
        if hi:
            dx[_axis(n, axis, slice(size - 1, size))] += right.sum(axis, keepdims=True)
    else:  # circular: the left border copied the end of the input, the right its start
        if lo:
            dx[_axis(n, axis, slice(size - lo, size))] += left
        if hi:
            dx[_axis(n, axis, slice(0, hi))] += right
    return dx


class PadBorder(Function):
    """y = x padded with copies of its own elements (reflect, replicate, circular);
    dx = the padding of g folded back onto the elements that were copied.

    ``widths`` holds one (before, after) pair per dim of x, negative for a crop.
    """

    double_backward = False

    @staticmethod
    def forward(ctx, x, widths, mode):
        grow = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
        crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(widths, x.shape))
        ctx.widths, ctx.mode, ctx.x_shape = grow, mode, x.shape
        ctx.crop = crop
        if mode == "circular":
            # Crop first, then wrap the cropped signal (torch's order for this mode).
            return np.pad(x[crop], grow, mode=MODES[mode])
        y = np.pad(x, grow, mode=MODES[mode])
        shape = y.shape
        return y[tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(widths, shape))]

    @staticmethod
    def backward(ctx, g):
        grow, mode, crop = ctx.widths, ctx.mode, ctx.crop
        if mode != "circular" and any(s.start or s.stop != n for s, n in zip(crop, g.shape)):
            # Undo the crop of the padded array: cropped positions got no gradient.
            full = tuple(n + lo + hi for n, (lo, hi) in zip(ctx.x_shape, grow))
            buf = np.zeros(full, dtype=g.dtype)
            buf[tuple(slice(s.start, s.start + n) for s, n in zip(crop, g.shape))] = g
            g = buf
        for axis, (lo, hi) in enumerate(grow):
            if lo or hi:
                g = _fold(g, axis, lo, hi, mode)
        if mode == "circular" and g.shape != ctx.x_shape:
            dx = np.zeros(ctx.x_shape, dtype=g.dtype)
            dx[crop] = g
            g = dx
        return g, None, None


def _widths(name: str, x_shape: tuple[int, ...], pad: Sequence[int]) -> list[tuple[int, int]]:
    """torch's flat last-dim-first ``pad`` list as one (before, after) pair per dim."""
    if len(pad) % 2:
        raise ValueError(f"{name}: padding length must be divisible by 2, got {len(pad)}: {pad}")
    if len(pad) // 2 > len(x_shape):
        raise ValueError(
            f"{name}: padding {tuple(pad)} pads {len(pad) // 2} dims but the input of shape "
            f"{tuple(x_shape)} has only {len(x_shape)}"
        )
    widths = [(0, 0)] * len(x_shape)
    for k in range(len(pad) // 2):
        widths[len(x_shape) - 1 - k] = (int(pad[2 * k]), int(pad[2 * k + 1]))
    return widths


def _check(mode: str, x_shape: tuple[int, ...], widths: list[tuple[int, int]]) -> None:
    for dim, ((lo, hi), n) in enumerate(zip(widths, x_shape)):
        if n + lo + hi < 0 or (mode == "circular" and n + min(lo, 0) + min(hi, 0) < 0):
            raise RuntimeError(
                f"pad: padding ({lo}, {hi}) would make dim {dim} of the input of shape "
                f"{tuple(x_shape)} negative"
            )
        if (lo > 0 or hi > 0) and n == 0:
            raise RuntimeError(
                f"pad: cannot {mode}-pad dim {dim} of size 0 (input shape {tuple(x_shape)})"
            )
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(
                f"pad: reflect padding must be smaller than the padded dim: got padding "
                f"({lo}, {hi}) for dim {dim} of size {n} (input shape {tuple(x_shape)}); "
                "use mode='replicate' or 'circular', or pad less"
            )
        if mode == "circular":
            kept = n + min(lo, 0) + min(hi, 0)
            if lo > kept or hi > kept:
                raise RuntimeError(
                    f"pad: circular padding ({lo}, {hi}) of dim {dim} (size {kept}) wraps "
                    "around more than once; the padding may be at most the dim's size"
                )


def pad(
    input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None
) -> Tensor:
    """Pad a tensor (``torch.nn.functional.pad``).

    Args:
        input: a tensor of any shape.
        pad: (before, after) widths from the last dim backwards: ``(l, r)`` pads the last
            dim, ``(l, r, t, b)`` the last two, ``(l, r, t, b, f, k)`` the last three.
            Negative widths crop.
        mode: ``'constant'`` (default), ``'reflect'``, ``'replicate'`` or ``'circular'``.
        value: the fill value of ``'constant'`` mode (default: 0).

    Shape:
        - Input: (*, S₁, ..., S_m) for m = len(pad) / 2 padded dims.
        - Output: (*, S₁ + p₁, ..., S_m + p_m), p the sum of each dim's two widths.

    Unlike torch, the non-constant modes accept any number of leading dims.

    Example:
        >>> import nnlab
        >>> x = nnlab.tensor([[1.0, 2.0, 3.0, 4.0]])
        >>> pad(x, (2, 2), mode="reflect")
        tensor([[3., 2., 1., 2., 3., 4., 3., 2.]])
        >>> pad(x, (2, 1), mode="replicate")
        tensor([[1., 1., 1., 2., 3., 4., 4.]])
        >>> pad(x, (2, 1), mode="circular")
        tensor([[3., 4., 1., 2., 3., 4., 1.]])
    """
    if mode == "constant":
        if any(p < 0 for p in pad):  # crop by slicing (differentiable), then pad the rest
            widths = _widths("pad", input.shape, pad)
            _check(mode, input.shape, widths)
            input = input[tuple(slice(max(-lo, 0), n - max(-hi, 0))
                                for (lo, hi), n in zip(widths, input.shape))]  # fmt: skip
            pad = [max(p, 0) for p in pad]
        return _shape.pad(input, pad, value=0.0 if value is None else value)
    if mode not in MODES:
        raise ValueError(
            f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}"
        )
    if value is not None and value != 0:
        raise ValueError(f"pad: value={value} only applies to mode='constant', not {mode!r}")
    widths = _widths("pad", input.shape, pad)
    _check(mode, input.shape, widths)
    if all(lo == 0 and hi == 0 for lo, hi in widths):
        return input
    return PadBorder.apply(input, widths, mode)
