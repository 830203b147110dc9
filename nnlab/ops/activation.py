"""Activation functions: the non-linearities that let a network be more than one linear map.

Each class states the function and its derivative. Derivatives are written in terms
of the saved output where that is cheaper (tanh, sigmoid) and with masks for the
piecewise-linear ones (ReLU, LeakyReLU).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special

from nnlab.autograd.function import Function
from nnlab.ops.elementwise import floating
from nnlab.tensor import Tensor

__all__ = ["tanh", "sigmoid", "relu", "leaky_relu", "elu", "gelu", "silu", "softplus"]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
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
        return g * (1 - y * y)


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
        return g * y * (1 - y)


class ReLU(Function):
    """y = max(0, x);  dy/dx = 1 for x > 0, else 0."""

    @staticmethod
    def forward(ctx, x):
        y = np.maximum(x, 0)
        ctx.mask = y > 0
        return y

    @staticmethod
    def backward(ctx, g):
        return g * ctx.mask


class LeakyReLU(Function):
    """y = x for x > 0, else a·x;  dy/dx = 1 for x > 0, else a."""

    @staticmethod
    def forward(ctx, x, negative_slope):
        positive = x > 0
        ctx.slope = np.where(positive, 1, negative_slope).astype(x.dtype)
        return x * ctx.slope

    @staticmethod
    def backward(ctx, g):
        return g * ctx.slope, None


class ELU(Function):
    """y = x for x > 0, else α(eˣ - 1);  dy/dx = 1 for x > 0, else y + α."""

    @staticmethod
    def forward(ctx, x, alpha):
        ctx.alpha = alpha
        ctx.positive = x > 0
        y = np.where(ctx.positive, x, alpha * np.expm1(np.minimum(x, 0)))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * ctx.positive + g * (y + ctx.alpha) * ~ctx.positive, None


class GELU(Function):
    """Gaussian Error Linear Unit, y = x·Φ(x) with Φ the standard normal CDF.

    Exact: Φ(x) = ½(1 + erf(x/√2)),  dy/dx = Φ(x) + x·φ(x),  φ(x) = e^(-x²/2)/√(2π).
    ``approximate='tanh'``: y = ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³),
    dy/dx = ½(1 + t) + ½x(1 - t²)·√(2/π)(1 + 3·0.044715x²), t = tanh(u).
    """

    @staticmethod
    def forward(ctx, x, approximate):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        if approximate == "tanh":
            return 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3)))
        return 0.5 * x * (1 + scipy.special.erf(x * _INV_SQRT_2))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.approximate == "tanh":
            t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3))
            du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du), None
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
        s = _sigmoid(x)
        return g * s * (1 + x * (1 - s))


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


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(floating(x))


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid.apply(floating(x))


def relu(x: Tensor) -> Tensor:
    return ReLU.apply(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return LeakyReLU.apply(x, negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    return ELU.apply(x, alpha)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(x, approximate)


def silu(x: Tensor) -> Tensor:
    return SiLU.apply(x)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return Softplus.apply(x, beta, threshold)
