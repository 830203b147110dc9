"""Rounding and integer division: round, floor, ceil, trunc, floor_divide, remainder.

Rounding is piecewise constant, so its derivative is 0 wherever it exists. PyTorch still
records these ops: the output of a float tensor that requires grad requires grad too, and
backpropagates a zero gradient (not None). The ops here are :class:`Function` classes
whose backward returns zeros, so the graph, and any gradient flowing around them, behaves
as in torch.

``remainder`` (``%``) follows Python's and torch's sign convention: the result has the
sign of the divisor, ``a - floor(a / b) * b``. ``floor_divide`` (``//``) rounds towards
-∞ and has no gradient in nnlab (torch records it, then refuses to backpropagate).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.autograd.function import Function
from nnlab.ops._broadcast import unbroadcast
from nnlab.ops.elementwise import _binary, _shape
from nnlab.tensor import Tensor

__all__ = ["round", "floor", "ceil", "trunc", "floor_divide", "remainder"]


def _zeros_like(g: Any) -> Any:
    if isinstance(g, Tensor):
        return Tensor._make(np.zeros(g.shape, dtype=g.dtype), False, None, 0)
    return np.zeros_like(g)


class Floor(Function):
    """y = ⌊x⌋, the largest integer ≤ x;  dy/dx = 0."""

    @staticmethod
    def forward(ctx, x):
        return np.floor(x)

    @staticmethod
    def backward(ctx, g):
        return _zeros_like(g)


class Ceil(Function):
    """y = ⌈x⌉, the smallest integer ≥ x;  dy/dx = 0."""

    @staticmethod
    def forward(ctx, x):
        return np.ceil(x)

    @staticmethod
    def backward(ctx, g):
        return _zeros_like(g)


class Trunc(Function):
    """y = x with its fractional part dropped (rounded towards 0);  dy/dx = 0."""

    @staticmethod
    def forward(ctx, x):
        return np.trunc(x)

    @staticmethod
    def backward(ctx, g):
        return _zeros_like(g)


class Round(Function):
    """y = x rounded to ``decimals`` places, halves to the even neighbour (0.5 → 0,
    1.5 → 2, as torch and NumPy);  dy/dx = 0."""

    @staticmethod
    def forward(ctx, x, decimals):
        return np.round(x, decimals)

    @staticmethod
    def backward(ctx, g):
        return _zeros_like(g), None


class Remainder(Function):
    """y = a - ⌊a/b⌋·b, with the sign of b (``a % b``);  dy/da = 1, dy/db = -⌊a/b⌋.

    The remainder jumps where a/b crosses an integer; these are torch's derivatives
    everywhere else.
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        with np.errstate(divide="ignore", invalid="ignore"):
            if ctx.needs_input_grad[1]:
                ctx.quotient = _binary("remainder", a, b, np.floor_divide)
            return _binary("remainder", a, b, np.remainder)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        ga = unbroadcast(g, sa) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-g * ctx.quotient, sb) if ctx.needs_input_grad[1] else None
        return ga, gb


def _is_integral(x: Any) -> bool:
    return isinstance(x, Tensor) and x.array.dtype.kind in "biu"


def _integral_copy(x: Tensor) -> Tensor:
    """torch rounds an integer tensor to a copy of itself (NumPy would give floats)."""
    return Tensor._make(x.array.copy(), False, None, 0)


def floor(input: Tensor) -> Tensor:
    return _integral_copy(input) if _is_integral(input) else Floor.apply(input)


def ceil(input: Tensor) -> Tensor:
    return _integral_copy(input) if _is_integral(input) else Ceil.apply(input)


def trunc(input: Tensor) -> Tensor:
    return _integral_copy(input) if _is_integral(input) else Trunc.apply(input)


def round(input: Tensor, decimals: int = 0) -> Tensor:
    """Round to the nearest integer (or to ``decimals`` places), halves to even.

    Example:
        >>> import nnlab
        >>> nnlab.round(nnlab.tensor([0.5, 1.5, 2.6, -0.5]))
        tensor([ 0.,  2.,  3., -0.])
    """
    if _is_integral(input):
        if decimals != 0:
            raise NotImplementedError("round: decimals are not implemented for integer tensors")
        return _integral_copy(input)
    return Round.apply(input, int(decimals))


def _raw(v: Any) -> Any:
    return v.array if isinstance(v, Tensor) else v


def _check_integer_division(op: str, a: Any, b: Any) -> None:
    """Integer division by zero has no value: torch raises, NumPy would give 0."""
    ra, rb = np.asarray(_raw(a)), np.asarray(_raw(b))
    if ra.dtype.kind in "biu" and rb.dtype.kind in "biu" and (rb == 0).any():
        raise RuntimeError(f"ZeroDivisionError: {op}: integer division by zero")


def floor_divide(input: Any, other: Any) -> Tensor:
    """⌊a / b⌋ elementwise (``a // b``), broadcasting; integers stay integers. Not
    differentiable: the result never requires grad.

    Example:
        >>> import nnlab
        >>> nnlab.tensor([7, -7]) // 2
        tensor([ 3, -4])
    """
    _check_integer_division("floor_divide", input, other)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = _binary("floor_divide", _raw(input), _raw(other), np.floor_divide)
    return Tensor._make(np.asarray(y), False, None, 0)


def remainder(input: Any, other: Any) -> Tensor:
    """a - ⌊a/b⌋·b elementwise (``a % b``), with the sign of the divisor, as Python and
    torch; differentiable in both arguments.

    Example:
        >>> import nnlab
        >>> nnlab.tensor([5.0, -5.0]) % 3
        tensor([2., 1.])
    """
    _check_integer_division("remainder", input, other)
    return Remainder.apply(input, other)
