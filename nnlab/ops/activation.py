"""Activation functions: the non-linearities that let a network be more than one linear map.

Each class states the function and its derivative. Derivatives are written in terms
of the saved output where that is cheaper (tanh, sigmoid) and with masks for the
piecewise-linear ones (ReLU, LeakyReLU).

The ReLU family, GELU and the backward passes run through :mod:`nnlab.kernels.activation`:
compiled kernels under the numba backend, the NumPy formulas (kept there as the
references) otherwise and under ``create_graph``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special

from nnlab.autograd.function import Function
from nnlab.kernels import activation as kernels
from nnlab.ops.elementwise import floating
from nnlab.tensor import Tensor

__all__ = ["tanh", "sigmoid", "relu", "leaky_relu", "elu", "gelu", "silu", "softplus"]

_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _sigmoid(x):
    # σ(x) = 1/(1 + e⁻ˣ), as torch computes it. The ~25% faster ½(1 + tanh(x/2)) is NOT as
    # exact: 1 + tanh(x/2) cancels for x < 0 and is 0 below x ≈ -17 in float32 (-37 in
    # float64), where σ is still 4e-8 (so log σ(x) was -inf); relative error 2% at x = -15.
    # e⁻ˣ overflowing to ∞ (x < -88 in float32) gives the right limit, 0. On tensors
    # (create_graph) it is the Sigmoid op: differentiating the composed formula through
    # that ∞ would give 0·∞ = NaN.
    if isinstance(x, Tensor):
        return Sigmoid.apply(x)
    with np.errstate(over="ignore"):
        if type(x) is np.ndarray and x.ndim:
            t = np.negative(x)
            np.exp(t, out=t)
            t += 1
            return np.reciprocal(t, out=t)
        return 1 / (1 + np.exp(-x))


class Tanh(Function):
    """y = tanh x;  dy/dx = 1 - y²."""

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return kernels.tanh_backward(g, y)


class Sigmoid(Function):
    """y = σ(x) = 1 / (1 + e⁻ˣ);  dy/dx = y(1 - y)."""

    @staticmethod
    def forward(ctx, x):
        y = _sigmoid(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return kernels.sigmoid_backward(g, y)


class ReLU(Function):
    """y = max(0, x);  dy/dx = 1 for x > 0, else 0."""

    @staticmethod
    def forward(ctx, x):
        y, ctx.mask = kernels.relu(x)
        return y

    @staticmethod
    def backward(ctx, g):
        return kernels.relu_backward(g, ctx.mask)


class LeakyReLU(Function):
    """y = x for x > 0, else a·x;  dy/dx = 1 for x > 0, else a."""

    @staticmethod
    def forward(ctx, x, negative_slope):
        ctx.x, ctx.slope = x, negative_slope
        return kernels.leaky_relu(x, negative_slope)

    @staticmethod
    def backward(ctx, g):
        return kernels.leaky_relu_backward(g, ctx.x, ctx.slope), None


class ELU(Function):
    """y = x for x > 0, else α(eˣ - 1);  dy/dx = 1 for x > 0, else y + α."""

    @staticmethod
    def forward(ctx, x, alpha):
        ctx.alpha, ctx.x = alpha, x
        y = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return kernels.elu_backward(g, ctx.x, y, ctx.alpha), None


class GELU(Function):
    """Gaussian Error Linear Unit, y = x·Φ(x) with Φ the standard normal CDF.

    Exact: Φ(x) = ½(1 + erf(x/√2)),  dy/dx = Φ(x) + x·φ(x),  φ(x) = e^(-x²/2)/√(2π).
    ``approximate='tanh'``: y = ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³) (x³ as x·x·x,
    as torch),
    dy/dx = ½(1 + t) + ½x(1 - t²)·√(2/π)(1 + 3·0.044715x²), t = tanh(u).

    Float32 inputs (exact form) take a fast path, since ``scipy.special.erf`` is several
    times slower (``benchmarks/bench_bert.py`` times both) and would dominate a
    transformer's feed-forward block. The path starts from the identity behind the tanh
    form: Φ(x) = ½(1 + tanh u(x)) = σ(2u(x)) *exactly* for u(x) = artanh(erf(x/√2)), an odd
    function that the tanh form approximates by √(2/π)(x + 0.044715x³). Here u is an odd
    polynomial of degree 13,

        u(x) ≈ x·R(x²),   R of degree 6, fitted minimax on |x| ≤ 6,
        y = x·σ(2u) = x / (1 + e^(-2u)),

    which costs one exp and about 15 other NumPy passes, against about 30 for an erfc fit
    (the sigmoid keeps y's relative accuracy for negative x, where ½(1 + tanh) would
    cancel). R's leading coefficient is positive, so u keeps growing beyond the fit and y
    goes to x and to 0 in the tails. The error against float64 is about one float32 ulp of
    y where |y| is large and grows in relative terms in the far negative tail, where y
    itself vanishes; ``tests/ops/test_gelu_float32.py`` bounds it window by window.
    When x needs a
    gradient the forward also stores dy/dx (one array the size of x), with φ computed
    exactly. Float64 inputs (gradient checks) and ``create_graph`` backward use the erf
    formula above.
    """

    @staticmethod
    def _exact_float32(x: np.ndarray, need_grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """y = x·Φ(x) (and dy/dx when ``need_grad``) for a float32 array by the fitted
        polynomial above (:func:`nnlab.kernels.activation.gelu_erf_float32`, which also
        holds the coefficients and the NumPy reference)."""
        return kernels.gelu_erf_float32(x, need_grad)

    @staticmethod
    def forward(ctx, x, approximate):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        ctx.dydx = None
        if approximate == "tanh":
            return kernels.gelu_tanh(x)
        if x.dtype == np.float32:
            y, ctx.dydx = GELU._exact_float32(x, ctx.needs_input_grad[0])
            return y
        return 0.5 * x * (1 + scipy.special.erf(x * _INV_SQRT_2))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.dydx is not None and not isinstance(x, Tensor):
            return g * ctx.dydx, None
        if ctx.approximate == "tanh":
            return kernels.gelu_tanh_backward(g, x), None
        cdf = 0.5 * (1 + scipy.special.erf(x * _INV_SQRT_2))
        pdf = _INV_SQRT_2PI * np.exp(-0.5 * x * x)
        return g * (cdf + x * pdf), None


class SiLU(Function):
    """SiLU (swish), y = x·σ(x);  dy/dx = σ(x)(1 + x(1 - σ(x)))."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * _sigmoid(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return kernels.silu_backward(g, x, _sigmoid(x))


class Softplus(Function):
    """y = (1/β)·ln(1 + e^(βx)), and y = x where βx > threshold (for stability, as PyTorch);
    dy/dx = σ(βx) (1 above the threshold)."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        ctx.save_for_backward(x)
        ctx.beta = beta
        ctx.linear = x * beta > threshold
        # ln(1 + eᶻ) = max(z, 0) + ln(1 + e^(-|z|)) never overflows.
        z = beta * x
        soft = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta
        return np.where(ctx.linear, x, soft).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        s = _sigmoid(ctx.beta * x)
        return g * s * ~ctx.linear + g * ctx.linear, None, None


def tanh(input: Tensor) -> Tensor:
    return Tanh.apply(floating(input))


def sigmoid(input: Tensor) -> Tensor:
    return Sigmoid.apply(floating(input))


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0). ``inplace`` is accepted for PyTorch code; nnlab always returns a new
    tensor (an input overwritten in place could no longer serve backward)."""
    return ReLU.apply(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope · x (``inplace`` as in :func:`relu`)."""
    return LeakyReLU.apply(input, negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha · (eˣ − 1) (``inplace`` as in :func:`relu`)."""
    return ELU.apply(input, alpha)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(input, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x · σ(x) (``inplace`` as in :func:`relu`)."""
    return SiLU.apply(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return Softplus.apply(input, beta, threshold)
