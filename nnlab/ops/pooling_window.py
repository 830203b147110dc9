"""The window geometry shared by the pooling ops of :mod:`nnlab.ops.pooling`.

Per spatial dim, a window of size k with stride s, padding p and dilation d gives
L_out = ⌊(L + 2p - d·(k - 1) - 1) / s⌋ + 1 outputs (⌈·⌉ with ``ceil_mode``), and output
position o reads the padded input at o·s + j·d for the kernel offsets j = 0..k-1.
:class:`_Window` holds that geometry for one call: the strided view of each kernel offset,
the padding (ceil mode may need more on the right), and which positions read real inputs.
:func:`_window` checks the arguments as torch does and builds it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from nnlab.tensor import Tensor

__all__ = ["pool_output_size"]

_WORDS = {1: "single int, or a tuple of one int", 2: "single int, or a tuple of two ints",
          3: "single int, or a tuple of three ints"}  # fmt: skip


def _tuple(op: str, name: str, value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    values = tuple(int(v) for v in value)
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise RuntimeError(f"{op}: {name} must either be a {_WORDS[n]}, got {tuple(value)}")
    return values


def pool_output_size(
    length: int, kernel: int, stride: int, padding: int = 0, dilation: int = 1,
    ceil_mode: bool = False,
) -> int:  # fmt: skip
    """Output length of a pooling window along one dim, torch's formula.

    ⌊(L + 2p - d(k-1) - 1)/s⌋ + 1, rounded up instead with ``ceil_mode``; in ceil mode a
    last window that would start inside the right padding is dropped.

    Example:
        >>> pool_output_size(28, 2, 2), pool_output_size(5, 2, 2, ceil_mode=True)
        (14, 3)
    """
    span = dilation * (kernel - 1) + 1
    out = (length + 2 * padding - span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= length + padding:
        out -= 1
    return out


@dataclass(frozen=True)
class _Window:
    """Where each kernel offset of a pooling window reads a padded (N, C, *S) array."""

    size: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    out: tuple[int, ...]

    @property
    def offsets(self) -> list[tuple[int, ...]]:
        """Kernel offsets in row-major order (the order that decides ties)."""
        return list(itertools.product(*(range(k) for k in self.kernel)))

    def view(self, offset: Sequence[int]) -> tuple[slice, ...]:
        """Index of the strided view holding, for every output position o, the input at
        o·s + j·d (in padded coordinates) for kernel offset j."""
        return (slice(None), slice(None)) + tuple(
            slice(j * d, j * d + (o - 1) * s + 1, s)
            for j, d, o, s in zip(offset, self.dilation, self.out, self.stride)
        )

    @property
    def widths(self) -> list[tuple[int, int]]:
        """(before, after) padding per spatial dim; ceil mode may need more on the right."""
        return [
            (p, max(0, (o - 1) * s + d * (k - 1) + 1 - p - n))
            for n, k, s, p, d, o in zip(
                self.size, self.kernel, self.stride, self.padding, self.dilation, self.out
            )
        ]

    def real(self, offset: Sequence[int]) -> np.ndarray | None:
        """Which output positions read a real input (not padding) at this kernel offset,
        broadcastable over the output; None when all of them do."""
        mask = None
        for d, (j, n, s, p, dl, o) in enumerate(zip(
            offset, self.size, self.stride, self.padding, self.dilation, self.out
        )):  # fmt: skip
            pos = np.arange(o) * s + j * dl - p
            inside = (pos >= 0) & (pos < n)
            if inside.all():
                continue
            shape = [1] * len(self.out)
            shape[d] = o
            inside = inside.reshape(shape)
            mask = inside if mask is None else mask & inside
        return mask

    @property
    def disjoint(self) -> bool:
        """No input element is read by two (position, offset) pairs."""
        return all(s >= d * (k - 1) + 1 for k, s, d in zip(self.kernel, self.stride, self.dilation))

    @property
    def tiles(self) -> bool:
        """The windows tile the input exactly (stride = kernel, no dilation, no padding, no
        remainder), as in the usual 2×2 pooling of an even-sized map."""
        return all(
            s == k and d == 1 and p == 0 and o * k == n
            for n, k, s, p, d, o in zip(
                self.size, self.kernel, self.stride, self.padding, self.dilation, self.out
            )
        )

    def pad(self, x: np.ndarray, fill: float) -> np.ndarray:
        widths = self.widths
        if not any(lo or hi for lo, hi in widths):
            return x
        shape = x.shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(self.size, widths))
        xp = np.full(shape, fill, dtype=x.dtype)
        xp[self.centre] = x
        return xp

    @property
    def centre(self) -> tuple[slice, ...]:
        return (slice(None), slice(None)) + tuple(
            slice(lo, lo + n) for n, (lo, _) in zip(self.size, self.widths)
        )

    def padded_zeros(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        return np.zeros(
            shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(self.size, self.widths)), dtype
        )

    def unpad(self, xp: np.ndarray) -> np.ndarray:
        return xp if xp.shape[2:] == self.size else xp[self.centre]


def _fmt(shape: Sequence[int]) -> str:
    return "x".join(str(n) for n in shape)


def _window(
    op: str, x: Tensor, n: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
    ceil_mode: bool,
) -> _Window:  # fmt: skip
    kernel = _tuple(op, "kernel_size", kernel_size, n)
    stride = kernel if stride is None or stride == [] or stride == () else stride
    stride = _tuple(op, "stride", stride, n)
    padding = _tuple(op, "padding", padding, n)
    dilation = _tuple(op, "dilation", dilation, n)
    if min(kernel) <= 0:
        raise RuntimeError(f"{op}: kernel_size must be greater than zero, got {kernel}")
    if min(stride) <= 0:
        raise RuntimeError(f"{op}: stride must be greater than zero, got {stride}")
    if min(dilation) <= 0:
        raise RuntimeError(f"{op}: dilation must be greater than zero, got {dilation}")
    if min(padding) < 0:
        raise RuntimeError(f"{op}: pad must be non-negative, got padding={padding}")
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise RuntimeError(
            f"{op}: pad should be at most half of kernel size, but got padding={padding} and "
            f"kernel_size={kernel}; each padding must be <= kernel_size // 2"
        )
    size = tuple(x.shape[-n:])
    out = tuple(
        pool_output_size(*a, ceil_mode) for a in zip(size, kernel, stride, padding, dilation)
    )
    if min(out) <= 0:
        channels = x.shape[-n - 1]
        raise RuntimeError(
            f"{op}: Given input size: ({_fmt((channels,) + size)}). Calculated output size: "
            f"({_fmt((channels,) + out)}). Output size is too small: the kernel {kernel} "
            f"(dilation {dilation}) is larger than the input {size} plus padding {padding}"
        )
    return _Window(size, kernel, stride, padding, dilation, out)


def _check_rank(op: str, x: Tensor, n: int) -> bool:
    """True when x has a batch dim; raises for any rank other than n + 1 or n + 2."""
    if x.ndim not in (n + 1, n + 2) or 0 in x.shape[x.ndim - n - 1 :]:
        raise RuntimeError(
            f"{op}: expected a non-empty {n + 1}-D (C, {_dims(n)}) or {n + 2}-D "
            f"(N, C, {_dims(n)}) input, got shape {tuple(x.shape)}"
        )
    return x.ndim == n + 2


def _dims(n: int) -> str:
    return {1: "L", 2: "H, W", 3: "D, H, W"}[n]


def _batched(op: str, x: Tensor, n: int) -> tuple[Tensor, bool]:
    batched = _check_rank(op, x, n)
    return (x if batched else x.reshape((1,) + x.shape)), batched


def _unbatch(y: Tensor, batched: bool) -> Tensor:
    return y if batched else y.reshape(y.shape[1:])
