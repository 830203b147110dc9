"""Elementwise arithmetic and math functions, each with its derivative.

Binary ops broadcast like NumPy; their backward sums the gradient back to each
input's shape with :func:`unbroadcast`. Every backward is written with operators and
NumPy ufuncs only, so it also runs on tensors for higher-order gradients. Results take
torch's dtype (:mod:`nnlab.ops.type_promotion`); the comparisons, which have no gradient,
are in :mod:`nnlab.ops.comparison`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.special

from nnlab.autograd.function import Function
from nnlab.ops._broadcast import broadcast_shapes, unbroadcast
from nnlab.ops.type_promotion import _binary, _compare, _promoted, _shape, floating, result_dtype
from nnlab.tensor import Tensor

__all__ = [
    "add", "sub", "mul", "div", "pow", "neg", "exp", "log", "log1p", "sqrt", "abs",
    "sin", "cos", "erf", "clamp", "where", "masked_fill", "cast", "clone",
    "maximum", "minimum",
]  # fmt: skip


class Add(Function):
    """y = a + b;  dy/da = 1, dy/db = 1."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return _binary("add", a, b, np.add)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return unbroadcast(g, sa), unbroadcast(g, sb)


class Sub(Function):
    """y = a - b;  dy/da = 1, dy/db = -1."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return _binary("sub", a, b, np.subtract)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        gb = -unbroadcast(g, sb) if ctx.needs_input_grad[1] else None
        return unbroadcast(g, sa), gb


class Mul(Function):
    """y = a * b;  dy/da = b, dy/db = a."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _binary("mul", a, b, np.multiply)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = unbroadcast(g * b, _shape(a)) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(g * a, _shape(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    """y = a / b;  dy/da = 1/b, dy/db = -a/b² = -y/b."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _binary("div", a, b, np.true_divide, divide=True)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = unbroadcast(g / b, _shape(a)) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-g * a / (b * b), _shape(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    """y = a ** b;  dy/da = b·a^(b-1) (0 where b = 0), dy/db = y·ln(a) (taken as 0 where
    a = 0, as PyTorch does for b ≥ 0)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _binary("pow", a, b, np.power)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:
            # torch's choice: no gradient where the exponent is 0 (b·a^(b-1) is 0·∞ at a = 0)
            if isinstance(b, (int, float)):
                exponent = b - 1 if b != 0 else 0
            else:
                zero = np.asarray(b.array if isinstance(b, Tensor) else b) == 0
                exponent = b - 1 + zero if zero.any() else b - 1
            ga = unbroadcast(g * b * a**exponent, _shape(a))
        if ctx.needs_input_grad[1]:
            # ln(a + [a = 0]) is ln a, and 0 at a = 0; still a function of a, so the
            # second derivative d(gb)/da is right under create_graph
            zero = np.asarray(a.array if isinstance(a, Tensor) else a) == 0
            log_a = np.log(a + zero) if zero.any() else np.log(a)
            gb = unbroadcast(g * a**b * log_a, _shape(b))
        return ga, gb


class Neg(Function):
    """y = -x;  dy/dx = -1."""

    @staticmethod
    def forward(ctx, x):
        return np.negative(x)

    @staticmethod
    def backward(ctx, g):
        return -g


class Exp(Function):
    """y = eˣ;  dy/dx = eˣ = y."""

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class Log(Function):
    """y = ln x;  dy/dx = 1/x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x


class Log1p(Function):
    """y = ln(1 + x), accurate for small x;  dy/dx = 1/(1 + x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log1p(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (1 + x)


class Sqrt(Function):
    """y = √x;  dy/dx = 1/(2√x) = 1/(2y)."""

    @staticmethod
    def forward(ctx, x):
        y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g / (2 * y)


class Abs(Function):
    """y = |x|;  dy/dx = sign(x) (0 at x = 0, as PyTorch)."""

    @staticmethod
    def forward(ctx, x):
        ctx.sign = np.sign(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.sign


class Sin(Function):
    """y = sin x;  dy/dx = cos x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * np.cos(x)


class Cos(Function):
    """y = cos x;  dy/dx = -sin x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -g * np.sin(x)


class Erf(Function):
    """y = erf x = 2/√π ∫₀ˣ e^(-t²) dt;  dy/dx = 2/√π · e^(-x²)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return scipy.special.erf(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (2 / np.sqrt(np.pi)) * np.exp(-(x * x))


class Clamp(Function):
    """y = min(max(x, lo), hi), the bounds scalars or broadcasting tensors.

    dy/dx = 1 where lo ≤ x ≤ hi, else 0 (PyTorch's choice: the gradient passes AT a bound).
    Tensor bounds get the rest, as in PyTorch: dy/dlo = 1 where x < lo < hi, dy/dhi = 1
    where x > hi or hi < lo (then y = hi everywhere).
    """

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.shapes = (_shape(x), _shape(lo), _shape(hi))
        inside = None if lo is None else x >= lo
        if hi is not None:
            inside = x <= hi if inside is None else inside & (x <= hi)
        ctx.inside = inside
        if ctx.needs_input_grad[1]:
            ctx.below = x < lo if hi is None else (x < lo) & (lo < hi)
        if ctx.needs_input_grad[2]:
            ctx.above = x > hi if lo is None else (x > hi) | (hi < lo)
        try:
            y = np.clip(x, lo, hi)
        except ValueError:
            broadcast_shapes(
                "clamp", *(s for s, v in zip(ctx.shapes, (x, lo, hi)) if v is not None)
            )
            raise
        dtype = result_dtype(x, lo, hi)
        return y if y.dtype == dtype else y.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        sx, slo, shi = ctx.shapes
        need_x, need_lo, need_hi = ctx.needs_input_grad
        gx = unbroadcast(g * ctx.inside, sx) if need_x else None
        glo = unbroadcast(g * ctx.below, slo) if need_lo else None
        ghi = unbroadcast(g * ctx.above, shi) if need_hi else None
        return gx, glo, ghi


class Maximum(Function):
    """y = max(a, b) elementwise (``minimum=True``: min(a, b)), broadcasting, NaN winning.

    dy/da = 1 where a is chosen, 0 where b is, ½ on ties a = b (torch splits the gradient
    equally); dy/db likewise. Where a or b is NaN both receive the full gradient, as in torch.
    """

    @staticmethod
    def forward(ctx, a, b, minimum):
        ctx.shapes = (_shape(a), _shape(b))
        op = "minimum" if minimum else "maximum"
        y = _binary(op, a, b, np.minimum if minimum else np.maximum)
        if any(ctx.needs_input_grad):
            share = np.where(_compare(op, a, b, np.equal), 0.5, 1.0).astype(y.dtype)
            a_loses = _compare(op, a, b, np.greater if minimum else np.less)
            b_loses = _compare(op, a, b, np.less if minimum else np.greater)
            ctx.weights = (share * ~a_loses, share * ~b_loses)
        return y

    @staticmethod
    def backward(ctx, g):
        (sa, sb), (wa, wb) = ctx.shapes, ctx.weights
        ga = unbroadcast(g * wa, sa) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(g * wb, sb) if ctx.needs_input_grad[1] else None
        return ga, gb, None


class Where(Function):
    """y = a where cond else b;  the gradient goes to whichever input was chosen."""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        ctx.shapes = (_shape(a), _shape(b))
        try:
            y = np.where(cond, a, b)
        except ValueError:
            broadcast_shapes("where", _shape(cond), *ctx.shapes)
            raise
        dtype = _promoted(a, b)
        return y if dtype is None or y.dtype == dtype else y.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        ga = unbroadcast(_keep(g, ctx.cond), sa) if ctx.needs_input_grad[1] else None
        gb = unbroadcast(_keep(g, ~ctx.cond), sb) if ctx.needs_input_grad[2] else None
        return None, ga, gb


def _keep(g: Any, mask: np.ndarray) -> Any:
    """g where ``mask``, exactly 0 elsewhere (a product with the mask would turn an
    infinite gradient of the unchosen branch into NaN; torch gives 0 there)."""
    if isinstance(g, np.ndarray):
        return np.where(mask, g, np.zeros((), dtype=g.dtype))
    return Where.apply(np.broadcast_to(mask, g.shape), g, np.zeros((), dtype=g.dtype))


class Cast(Function):
    """y = x converted to another dtype;  the gradient is converted back."""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return (g.to(ctx.dtype) if isinstance(g, Tensor) else g.astype(ctx.dtype)), None


class Clone(Function):
    """y = a copy of x;  dy/dx = 1."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return g


def add(input: Any, other: Any) -> Tensor:
    return Add.apply(input, other)


def sub(input: Any, other: Any) -> Tensor:
    return Sub.apply(input, other)


def mul(input: Any, other: Any) -> Tensor:
    return Mul.apply(input, other)


def div(input: Any, other: Any) -> Tensor:
    return Div.apply(input, other)


def pow(input: Any, exponent: Any) -> Tensor:
    return Pow.apply(input, exponent)


def neg(input: Tensor) -> Tensor:
    return Neg.apply(input)


def exp(input: Tensor) -> Tensor:
    return Exp.apply(floating(input))


def log(input: Tensor) -> Tensor:
    return Log.apply(floating(input))


def log1p(input: Tensor) -> Tensor:
    return Log1p.apply(floating(input))


def sqrt(input: Tensor) -> Tensor:
    return Sqrt.apply(floating(input))


def abs(input: Tensor) -> Tensor:
    return Abs.apply(input)


def sin(input: Tensor) -> Tensor:
    return Sin.apply(floating(input))


def cos(input: Tensor) -> Tensor:
    return Cos.apply(floating(input))


def erf(input: Tensor) -> Tensor:
    return Erf.apply(floating(input))


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Limit values to [min, max] (either bound may be None). ``clip`` is an alias."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    return Clamp.apply(input, min, max)


clip = clamp


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Elementwise choice: ``a`` where ``condition`` is True, else ``b`` (broadcasting)."""
    cond = np.asarray(condition.array if isinstance(condition, Tensor) else condition, dtype=bool)
    return Where.apply(cond, a, b)


def masked_fill(input: Tensor, mask: Any, value: float) -> Tensor:
    """``x`` with ``value`` wherever ``mask`` is True (no gradient flows to filled places)."""
    fill = np.asarray(value, dtype=input.dtype)
    try:
        return where(mask, fill, input)
    except ValueError:
        broadcast_shapes(
            "masked_fill", _shape(input), _shape(mask.array if isinstance(mask, Tensor) else mask)
        )
        raise


def cast(input: Tensor, dtype: Any) -> Tensor:
    if input.dtype == dtype:
        return input
    if np.dtype(dtype).kind not in "fc":
        return Tensor._make(input.array.astype(dtype), False, None, 0)
    return Cast.apply(input, dtype)


def clone(input: Tensor) -> Tensor:
    return Clone.apply(input)


def maximum(input: Any, other: Any) -> Tensor:
    """The elementwise larger of ``a`` and ``b`` (broadcasting); ties share the gradient.

    Example:
        >>> import nnlab
        >>> nnlab.maximum(nnlab.tensor([1.0, 5.0]), nnlab.tensor([3.0, 2.0]))
        tensor([3., 5.])
    """
    return Maximum.apply(input, other, False)


def minimum(input: Any, other: Any) -> Tensor:
    """The elementwise smaller of ``a`` and ``b`` (broadcasting); ties share the gradient."""
    return Maximum.apply(input, other, True)
