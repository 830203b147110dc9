"""Elementwise arithmetic and math functions, each with its derivative.

Binary ops broadcast like NumPy; their backward sums the gradient back to each
input's shape with :func:`unbroadcast`. Every backward is written with operators and
NumPy ufuncs only, so it also runs on tensors for higher-order gradients.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.special

from nnlab.autograd.function import Function
from nnlab.ops._broadcast import broadcast_shapes, unbroadcast
from nnlab.tensor import Tensor

__all__ = [
    "add", "sub", "mul", "div", "pow", "neg", "exp", "log", "log1p", "sqrt", "abs",
    "sin", "cos", "erf", "sign", "clamp", "where", "masked_fill", "cast", "clone",
    "lt", "le", "gt", "ge", "eq", "ne", "logical_not",
]  # fmt: skip


def _shape(x: Any) -> tuple[int, ...]:
    return np.shape(x)


def _binary(op: str, a: Any, b: Any, compute: Any) -> np.ndarray:
    """Run ``compute(a, b)``, turning NumPy's broadcast error into one naming the op."""
    try:
        return compute(a, b)
    except ValueError:
        broadcast_shapes(op, _shape(a), _shape(b))
        raise


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
        return _binary("div", a, b, np.true_divide)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = unbroadcast(g / b, _shape(a)) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-g * a / (b * b), _shape(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    """y = a ** b;  dy/da = b·a^(b-1), dy/db = y·ln(a) (taken as 0 where a = 0 and b ≥ 0,
    as PyTorch does)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _binary("pow", a, b, np.power)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(g * b * a ** (b - 1), _shape(a))
        if ctx.needs_input_grad[1]:
            base = np.asarray(a.data if isinstance(a, Tensor) else a)
            safe = np.where(base == 0, 1, base)
            gb = unbroadcast(g * a**b * np.log(safe), _shape(b))
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
    """y = min(max(x, lo), hi);  dy/dx = 1 where lo ≤ x ≤ hi, else 0 (PyTorch's choice at
    the boundaries)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        inside = np.ones(x.shape, dtype=bool)
        if lo is not None:
            inside &= x >= lo
        if hi is not None:
            inside &= x <= hi
        ctx.inside = inside
        return np.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.inside, None, None


class Where(Function):
    """y = a where cond else b;  the gradient goes to whichever input was chosen."""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        ctx.shapes = (_shape(a), _shape(b))
        try:
            return np.where(cond, a, b)
        except ValueError:
            broadcast_shapes("where", _shape(cond), *ctx.shapes)
            raise

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        ga = unbroadcast(g * ctx.cond, sa) if ctx.needs_input_grad[1] else None
        gb = unbroadcast(g * ~ctx.cond, sb) if ctx.needs_input_grad[2] else None
        return None, ga, gb


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


def add(a: Any, b: Any) -> Tensor:
    return Add.apply(a, b)


def sub(a: Any, b: Any) -> Tensor:
    return Sub.apply(a, b)


def mul(a: Any, b: Any) -> Tensor:
    return Mul.apply(a, b)


def div(a: Any, b: Any) -> Tensor:
    return Div.apply(a, b)


def pow(a: Any, b: Any) -> Tensor:
    return Pow.apply(a, b)


def neg(x: Tensor) -> Tensor:
    return Neg.apply(x)


def exp(x: Tensor) -> Tensor:
    return Exp.apply(x)


def log(x: Tensor) -> Tensor:
    return Log.apply(x)


def log1p(x: Tensor) -> Tensor:
    return Log1p.apply(x)


def sqrt(x: Tensor) -> Tensor:
    return Sqrt.apply(x)


def abs(x: Tensor) -> Tensor:
    return Abs.apply(x)


def sin(x: Tensor) -> Tensor:
    return Sin.apply(x)


def cos(x: Tensor) -> Tensor:
    return Cos.apply(x)


def erf(x: Tensor) -> Tensor:
    return Erf.apply(x)


def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Limit values to [min, max] (either bound may be None). ``clip`` is an alias."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    return Clamp.apply(x, min, max)


clip = clamp


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Elementwise choice: ``a`` where ``condition`` is True, else ``b`` (broadcasting)."""
    cond = np.asarray(condition.data if isinstance(condition, Tensor) else condition, dtype=bool)
    return Where.apply(cond, a, b)


def masked_fill(x: Tensor, mask: Any, value: float) -> Tensor:
    """``x`` with ``value`` wherever ``mask`` is True (no gradient flows to filled places)."""
    fill = np.asarray(value, dtype=x.dtype)
    return where(mask, fill, x)


def cast(x: Tensor, dtype: Any) -> Tensor:
    if x.dtype == dtype:
        return x
    if np.dtype(dtype).kind not in "fc":
        return Tensor._make(x.data.astype(dtype), False, None, 0)
    return Cast.apply(x, dtype)


def clone(x: Tensor) -> Tensor:
    return Clone.apply(x)


def _no_grad(values: Any) -> Tensor:
    return Tensor._make(np.asarray(values), False, None, 0)


def _raw(v: Any) -> Any:
    return v.data if isinstance(v, Tensor) else v


def sign(x: Any) -> Tensor:
    """sign(x) ∈ {-1, 0, 1}; piecewise constant, so it has no gradient."""
    return _no_grad(np.sign(_raw(x)))


def lt(a: Any, b: Any) -> Tensor:
    return _no_grad(_binary("lt", _raw(a), _raw(b), np.less))


def le(a: Any, b: Any) -> Tensor:
    return _no_grad(_binary("le", _raw(a), _raw(b), np.less_equal))


def gt(a: Any, b: Any) -> Tensor:
    return _no_grad(_binary("gt", _raw(a), _raw(b), np.greater))


def ge(a: Any, b: Any) -> Tensor:
    return _no_grad(_binary("ge", _raw(a), _raw(b), np.greater_equal))


def eq(a: Any, b: Any) -> Tensor:
    return _no_grad(_binary("eq", _raw(a), _raw(b), np.equal))


def ne(a: Any, b: Any) -> Tensor:
    return _no_grad(_binary("ne", _raw(a), _raw(b), np.not_equal))


def logical_not(x: Any) -> Tensor:
    return _no_grad(np.logical_not(_raw(x)))
