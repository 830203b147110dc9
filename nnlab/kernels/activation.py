"""Activation functions' element loops: the ReLU family forward and backward, the backward
passes of tanh, sigmoid, ELU and SiLU, and GELU around its exps (erf form, float32) or
its tanh (tanh form, forward and backward).

Each computation exists three times, as in :mod:`nnlab.kernels.optim`:

* ``<name>_numpy``: the NumPy reference, the formula as array operations (what
  :mod:`nnlab.ops.activation` computed before the kernels existed);
* ``<name>_numba``: a :class:`~nnlab.kernels.runtime.Kernel` doing the same arithmetic
  element by element in one pass;
* ``<name>``: what the ops call; the kernel when the backend is numba and the arrays suit it
  (float32 or float64, one dtype and shape, at least one dimension, laid out alike in one
  gap-free block: C-contiguous or with permuted axes, as a convolution's channel-first
  output, see :func:`~nnlab.kernels.elementwise_views`), else the reference. The result
  keeps the input's layout, as NumPy's ufuncs keep it. Tensors (``create_graph``) always
  take the reference, which records a graph.

The kernels perform the reference's IEEE operations in the reference's order and dtype, so
both give the same bits (the tests hold them to that); a mask times a value is written as
the value times 1 or 0, as NumPy multiplies by a boolean array (so ``inf`` times a zeroed
mask is NaN in both). Nothing here reduces across elements.

**What is not here, and why** (measured, ``benchmarks/bench_kernels.py``): a function with
a transcendental per element (exp, tanh, erf) loses in numba unless the loop vectorises,
and numba vectorises ``math.exp``/``math.tanh`` only with Intel's SVML, which is not
installed: a scalar ``exp`` loop took 5.6× NumPy's SIMD ``np.exp`` on 1.8 M float32 values,
a scalar ``tanh`` 85×. So the forwards of tanh, sigmoid, ELU, SiLU and softplus stay NumPy
ufunc chains (their exp or tanh is most of their time), and where a kernel needs a
transcendental (SiLU's σ(x) in its backward, GELU's exps or tanh), NumPy's vectorised ufunc
computes it in place between kernels that fuse the arithmetic around it.
"""

from __future__ import annotations

import numpy as np

from nnlab.kernels import empty_like_flat, use_elementwise_kernel
from nnlab.kernels.runtime import Kernel

__all__ = [
    "GELU_MINUS_2R",
    "elu_backward",
    "elu_backward_numba",
    "elu_backward_numpy",
    "gelu_erf_float32",
    "gelu_erf_float32_numpy",
    "gelu_finish_numba",
    "gelu_polynomial_numba",
    "gelu_tanh",
    "gelu_tanh_backward",
    "gelu_tanh_backward_numba",
    "gelu_tanh_backward_numpy",
    "gelu_tanh_inner_numba",
    "gelu_tanh_numba",
    "gelu_tanh_numpy",
    "leaky_relu",
    "leaky_relu_backward",
    "leaky_relu_backward_numba",
    "leaky_relu_backward_numpy",
    "leaky_relu_numba",
    "leaky_relu_numpy",
    "relu",
    "relu_backward",
    "relu_backward_numba",
    "relu_backward_numpy",
    "relu_numba",
    "relu_numpy",
    "sigmoid_backward",
    "sigmoid_backward_numba",
    "sigmoid_backward_numpy",
    "silu_backward",
    "silu_backward_numba",
    "silu_backward_numpy",
    "tanh_backward",
    "tanh_backward_numba",
    "tanh_backward_numpy",
]

# -- ReLU ----------------------------------------------------------------------------------


def relu_numpy(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """y = max(x, 0) (NaN stays NaN, -0 becomes +0, as ``np.maximum`` and torch), and the
    mask y > 0 that the backward multiplies by."""
    y = np.maximum(x, 0)
    return y, y > 0


def _relu(loop):
    def relu(x, y, mask):
        zero = x.dtype.type(0)
        for i in loop(x.size):
            v = x[i]
            yi = zero if v <= zero else v  # NaN <= 0 is False: NaN passes through
            y[i] = yi
            mask[i] = yi > zero

    return relu


#: :func:`relu_numpy` in one pass.
relu_numba = Kernel(_relu)


def relu(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`relu_numpy`, by the kernel where it applies."""
    flat = use_elementwise_kernel(x)
    if flat is None:
        return relu_numpy(x)
    (y, yf), (mask, mf) = empty_like_flat(x), empty_like_flat(x, np.bool_)
    relu_numba(x.size, flat[0], yf, mf)
    return y, mask


def relu_backward_numpy(g, mask: np.ndarray):
    """dx = g · mask, mask = [y > 0] from the forward."""
    return g * mask


def _relu_backward(loop):
    def relu_backward(g, mask, out):
        zero, one = g.dtype.type(0), g.dtype.type(1)
        for i in loop(g.size):
            out[i] = g[i] * (one if mask[i] else zero)

    return relu_backward


#: :func:`relu_backward_numpy` in one pass.
relu_backward_numba = Kernel(_relu_backward)


def relu_backward(g, mask: np.ndarray):
    """:func:`relu_backward_numpy`, by the kernel where it applies."""
    flat = use_elementwise_kernel(g, masks=(mask,))
    if flat is None:
        return relu_backward_numpy(g, mask)
    out, of = empty_like_flat(g)
    relu_backward_numba(g.size, flat[0], flat[1], of)
    return out


# -- LeakyReLU -----------------------------------------------------------------------------


def _leaky_slope(x: np.ndarray, negative_slope: float) -> np.ndarray:
    """dy/dx of LeakyReLU: 1 where x > 0, else the slope (rounded to x's dtype)."""
    return np.where(x > 0, 1, negative_slope).astype(x.dtype)


def leaky_relu_numpy(x: np.ndarray, negative_slope: float) -> np.ndarray:
    """y = x · (1 if x > 0 else a), a = ``negative_slope``."""
    return x * _leaky_slope(x, negative_slope)


def _leaky_relu(loop):
    def leaky_relu(x, a, y):
        zero, one = x.dtype.type(0), x.dtype.type(1)
        for i in loop(x.size):
            v = x[i]
            y[i] = v * (one if v > zero else a)

    return leaky_relu


#: :func:`leaky_relu_numpy` in one pass.
leaky_relu_numba = Kernel(_leaky_relu)


def leaky_relu(x: np.ndarray, negative_slope: float) -> np.ndarray:
    """:func:`leaky_relu_numpy`, by the kernel where it applies."""
    flat = use_elementwise_kernel(x)
    if flat is None:
        return leaky_relu_numpy(x, negative_slope)
    y, yf = empty_like_flat(x)
    leaky_relu_numba(x.size, flat[0], x.dtype.type(negative_slope), yf)
    return y


def leaky_relu_backward_numpy(g, x: np.ndarray, negative_slope: float):
    """dx = g · (1 if x > 0 else a)."""
    return g * _leaky_slope(x, negative_slope)


def _leaky_relu_backward(loop):
    def leaky_relu_backward(g, x, a, out):
        zero, one = x.dtype.type(0), x.dtype.type(1)
        for i in loop(x.size):
            out[i] = g[i] * (one if x[i] > zero else a)

    return leaky_relu_backward


#: :func:`leaky_relu_backward_numpy` in one pass.
leaky_relu_backward_numba = Kernel(_leaky_relu_backward)


def leaky_relu_backward(g, x: np.ndarray, negative_slope: float):
    """:func:`leaky_relu_backward_numpy`, by the kernel where it applies."""
    flat = use_elementwise_kernel(g, x)
    if flat is None:
        return leaky_relu_backward_numpy(g, x, negative_slope)
    out, of = empty_like_flat(x)
    leaky_relu_backward_numba(x.size, flat[0], flat[1], x.dtype.type(negative_slope), of)
    return out


# -- ELU -----------------------------------------------------------------------------------


def elu_backward_numpy(g, x: np.ndarray, y, alpha: float):
    """dx = g where x > 0, else g · (y + α), from ELU's input x and output y; written as
    g·[x > 0] + g·(y + α)·[x ≤ 0]."""
    positive = x > 0
    return g * positive + g * (y + alpha) * ~positive


def _elu_backward(loop):
    def elu_backward(g, x, y, alpha, out):
        zero, one = x.dtype.type(0), x.dtype.type(1)
        for i in loop(x.size):
            p = one if x[i] > zero else zero
            gi = g[i]
            out[i] = gi * p + gi * (y[i] + alpha) * (one - p)

    return elu_backward


#: :func:`elu_backward_numpy` in one pass.
elu_backward_numba = Kernel(_elu_backward)


def elu_backward(g, x: np.ndarray, y, alpha: float):
    """:func:`elu_backward_numpy`, by the kernel where it applies."""
    flat = use_elementwise_kernel(g, x, y)
    if flat is None:
        return elu_backward_numpy(g, x, y, alpha)
    out, of = empty_like_flat(x)
    elu_backward_numba(x.size, flat[0], flat[1], flat[2], x.dtype.type(alpha), of)
    return out


# -- tanh, sigmoid, SiLU backward ------------------------------------------------------------


def tanh_backward_numpy(g, y):
    """dx = g · (1 - y²), from tanh's output y."""
    return g * (1 - y * y)


def _tanh_backward(loop):
    def tanh_backward(g, y, out):
        one = y.dtype.type(1)
        for i in loop(y.size):
            yi = y[i]
            out[i] = g[i] * (one - yi * yi)

    return tanh_backward


#: :func:`tanh_backward_numpy` in one pass.
tanh_backward_numba = Kernel(_tanh_backward)


def tanh_backward(g, y):
    """:func:`tanh_backward_numpy`, by the kernel where it applies."""
    flat = use_elementwise_kernel(g, y)
    if flat is None:
        return tanh_backward_numpy(g, y)
    out, of = empty_like_flat(y)
    tanh_backward_numba(y.size, flat[0], flat[1], of)
    return out


def sigmoid_backward_numpy(g, y):
    """dx = g · y · (1 - y), from the sigmoid's output y."""
    return g * y * (1 - y)


def _sigmoid_backward(loop):
    def sigmoid_backward(g, y, out):
        one = y.dtype.type(1)
        for i in loop(y.size):
            yi = y[i]
            out[i] = g[i] * yi * (one - yi)

    return sigmoid_backward


#: :func:`sigmoid_backward_numpy` in one pass.
sigmoid_backward_numba = Kernel(_sigmoid_backward)


def sigmoid_backward(g, y):
    """:func:`sigmoid_backward_numpy`, by the kernel where it applies."""
    flat = use_elementwise_kernel(g, y)
    if flat is None:
        return sigmoid_backward_numpy(g, y)
    out, of = empty_like_flat(y)
    sigmoid_backward_numba(y.size, flat[0], flat[1], of)
    return out


def silu_backward_numpy(g, x, s):
    """dx = g · σ · (1 + x(1 - σ)) for SiLU y = x·σ(x), given s = σ(x)."""
    return g * s * (1 + x * (1 - s))


def _silu_backward(loop):
    def silu_backward(g, x, s, out):
        one = x.dtype.type(1)
        for i in loop(x.size):
            si = s[i]
            out[i] = g[i] * si * (one + x[i] * (one - si))

    return silu_backward


#: :func:`silu_backward_numpy` in one pass over σ(x) (which NumPy's vectorised exp makes).
silu_backward_numba = Kernel(_silu_backward)


def silu_backward(g, x, s):
    """:func:`silu_backward_numpy`, by the kernel where it applies (it may overwrite ``s``,
    a temporary of the caller's)."""
    flat = use_elementwise_kernel(g, x, s)
    if flat is None:
        return silu_backward_numpy(g, x, s)
    silu_backward_numba(x.size, flat[0], flat[1], flat[2], flat[2])
    return s


# -- GELU, erf form, float32 -----------------------------------------------------------------

#: -2 × R's coefficients, constant term first, for :class:`nnlab.ops.activation.GELU`'s
#: float32 path, u(x) ≈ x·R(x²) (√(2/π) ≈ 0.79788 and 0.79788·0.0447 ≈ 0.0357 show the tanh
#: form underneath): the polynomial then yields -2u directly.
GELU_MINUS_2R = tuple(
    np.float32(c)
    for c in (
        -1.5957690477371216, -0.0726674273610115, 6.533864507218823e-05,
        0.0001108138239942491, -7.99186818767339e-06, 2.705222073018376e-07,
        -3.6951781634542158e-09,
    )
)  # fmt: skip
_INV_SQRT_2PI = np.float32(1.0 / np.sqrt(2.0 * np.pi))
# Elements per block: the passes of a block then run in cache (256 KB temporaries).
_GELU_BLOCK = 65536


def gelu_erf_float32_numpy(x: np.ndarray, need_grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """y = x·Φ(x) = x / (1 + e^(-2u)) with -2u = x·(-2R(x²)) (see
    :class:`nnlab.ops.activation.GELU`), and dy/dx = Φ(x) + x·φ(x) when ``need_grad``, for a
    float32 array, block by block; about 15 NumPy passes and one exp (two with dy/dx)."""
    one, minus_half = np.float32(1.0), np.float32(-0.5)
    coef = GELU_MINUS_2R
    flat = np.ascontiguousarray(x).reshape(-1)
    y = np.empty_like(flat)
    dydx = np.empty_like(flat) if need_grad else None
    # x² overflows for |x| > 1.8e19 and e^(-2u) for x < -9.4: both give the right limit.
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(0, flat.size, _GELU_BLOCK):
            xb = flat[i : i + _GELU_BLOCK]
            yb = y[i : i + _GELU_BLOCK]
            x2 = np.square(xb)
            e = x2 * coef[6]
            for c in coef[5:0:-1]:
                e += c
                e *= x2
            e += coef[0]
            e *= xb  # -2u
            np.exp(e, out=e)
            e += one  # 1 + e^(-2u) = 1/Φ(x)
            np.divide(xb, e, out=yb)
            if dydx is None:
                continue
            db = dydx[i : i + _GELU_BLOCK]
            np.divide(one, e, out=db)  # Φ(x)
            x2 *= minus_half
            np.exp(x2, out=x2)
            x2 *= _INV_SQRT_2PI  # φ(x)
            x2 *= xb
            db += x2  # dy/dx = Φ(x) + x·φ(x)
    if dydx is not None:
        dydx = dydx.reshape(x.shape)
    return y.reshape(x.shape), dydx


def _gelu_polynomial(loop):
    def gelu_polynomial(x, c, e, h, need_grad):
        minus_half = np.float32(-0.5)
        for i in loop(x.size):
            v = x[i]
            x2 = v * v
            p = x2 * c[6]
            for k in range(5, 0, -1):  # unrolled by LLVM: the reference's Horner steps
                p = (p + c[k]) * x2
            e[i] = (p + c[0]) * v
            if need_grad:
                h[i] = x2 * minus_half

    return gelu_polynomial


#: The exponents of :func:`gelu_erf_float32_numpy`: e = -2u and (with ``need_grad``)
#: h = -x²/2, in one pass; NumPy's ``exp`` then runs on them in place.
gelu_polynomial_numba = Kernel(_gelu_polynomial)


def _gelu_finish(loop):
    def gelu_finish(x, e, h, y, dydx, need_grad, inv_sqrt_2pi):
        one = np.float32(1.0)
        for i in loop(x.size):
            v = x[i]
            d = e[i] + one  # 1/Φ(x)
            y[i] = v / d
            if need_grad:
                dydx[i] = one / d + h[i] * inv_sqrt_2pi * v

    return gelu_finish


#: y = x / (1 + e^(-2u)) and dy/dx = Φ + φ·x from the exps, in one pass.
gelu_finish_numba = Kernel(_gelu_finish)

# The reference's blocks, so that each exp runs on data in cache. They stay below
# PARALLEL_MIN_SIZE, so one thread runs the kernels: a 64k-element block takes about 20 µs
# on one thread, and waking numba's workers cost more than that (≈0.1 ms per launch,
# measured on the loaded 2-core machine).
_GELU_KERNEL_BLOCK = _GELU_BLOCK


def gelu_erf_float32(x: np.ndarray, need_grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`gelu_erf_float32_numpy`: per block, a kernel for the polynomial, NumPy's
    ``exp`` in place, a kernel for the rest (the same operations, the same bits), where
    they apply; else the reference.

    A single fused kernel with a branch-free exp of its own (Cephes' ``expf``, bits built
    with an LLVM bitcast) was tried: LLVM vectorised it at 4 lanes only, and it took 1.19
    ms on 1.8 M values against 0.92 ms for this one (one thread, the loaded machine)."""
    flat = use_elementwise_kernel(x)
    if flat is None or x.dtype != np.float32:
        return gelu_erf_float32_numpy(x, need_grad)
    xf = flat[0]
    c = np.array(GELU_MINUS_2R, np.float32)
    y_out, y = empty_like_flat(x)
    # (without need_grad, a placeholder the kernel never touches)
    dydx_out, dydx = empty_like_flat(x) if need_grad else (None, y)
    e = np.empty(min(xf.size, _GELU_KERNEL_BLOCK), np.float32)
    h = np.empty_like(e) if need_grad else e
    with np.errstate(over="ignore"):
        for i in range(0, xf.size, _GELU_KERNEL_BLOCK):
            xb = xf[i : i + _GELU_KERNEL_BLOCK]
            eb, hb = e[: xb.size], h[: xb.size]
            gelu_polynomial_numba(xb.size, xb, c, eb, hb, need_grad)
            np.exp(eb, out=eb)
            if need_grad:
                np.exp(hb, out=hb)
            end = i + xb.size
            gelu_finish_numba(xb.size, xb, eb, hb, y[i:end], dydx[i:end], need_grad, _INV_SQRT_2PI)
    return y_out, dydx_out


# -- GELU, tanh form -------------------------------------------------------------------------

_SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))


def gelu_tanh_numpy(x):
    """y = ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³), with x³ as x·x·x (as torch)."""
    return 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))


def gelu_tanh_backward_numpy(g, x):
    """dx = g·(½(1 + t) + ½x(1 - t²)·√(2/π)(1 + 3·0.044715x²)), t = tanh u."""
    t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
    du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
    return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)


def _gelu_tanh_constants(dtype: np.dtype) -> np.ndarray:
    """The formulas' Python constants rounded to x's dtype, as NumPy rounds them."""
    return np.array([_SQRT_2_OVER_PI, 0.044715, 3 * 0.044715, 0.5, 1.0], dtype)


def _gelu_tanh_inner(loop):
    def gelu_tanh_inner(x, k, u):
        for i in loop(x.size):
            v = x[i]
            u[i] = k[0] * (v + k[1] * v * v * v)

    return gelu_tanh_inner


#: u = √(2/π)(x + 0.044715·x·x·x) in one pass; NumPy's ``tanh`` then runs on it in place.
gelu_tanh_inner_numba = Kernel(_gelu_tanh_inner)


def _gelu_tanh(loop):
    def gelu_tanh(x, t, k, y):
        half, one = k[3], k[4]
        for i in loop(x.size):
            y[i] = half * x[i] * (one + t[i])

    return gelu_tanh


#: y = ½x(1 + t) from t = tanh u, in one pass.
gelu_tanh_numba = Kernel(_gelu_tanh)


def _gelu_tanh_backward(loop):
    def gelu_tanh_backward(g, x, t, k, out):
        c, c3, half, one = k[0], k[2], k[3], k[4]
        for i in loop(x.size):
            v, ti = x[i], t[i]
            du = c * (one + c3 * v * v)
            out[i] = g[i] * (half * (one + ti) + half * v * (one - ti * ti) * du)

    return gelu_tanh_backward


#: dx from g, x and t = tanh u, in one pass.
gelu_tanh_backward_numba = Kernel(_gelu_tanh_backward)


def _tanh_blocks(x: np.ndarray, k: np.ndarray, finish) -> None:
    """For each cache-sized block of the flat array x: t = tanh u (the inner kernel, then
    NumPy's tanh in place), then ``finish(start, stop, t)``."""
    u = np.empty(min(x.size, _GELU_BLOCK), x.dtype)
    for i in range(0, x.size, _GELU_BLOCK):
        xb = x[i : i + _GELU_BLOCK]
        ub = u[: xb.size]
        gelu_tanh_inner_numba(xb.size, xb, k, ub)
        np.tanh(ub, out=ub)
        finish(i, i + xb.size, ub)


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """:func:`gelu_tanh_numpy`: two kernels around NumPy's ``tanh``, block by block, where
    they apply (the same operations, the same bits), else the reference."""
    flat = use_elementwise_kernel(x)
    if flat is None:
        return gelu_tanh_numpy(x)
    xf, k = flat[0], _gelu_tanh_constants(x.dtype)
    y_out, y = empty_like_flat(x)

    def finish(start: int, stop: int, t: np.ndarray) -> None:
        gelu_tanh_numba(stop - start, xf[start:stop], t, k, y[start:stop])

    with np.errstate(over="ignore", invalid="ignore"):
        _tanh_blocks(xf, k, finish)
    return y_out


def gelu_tanh_backward(g, x):
    """:func:`gelu_tanh_backward_numpy`, by the kernels where they apply."""
    flat = use_elementwise_kernel(g, x)
    if flat is None:
        return gelu_tanh_backward_numpy(g, x)
    gf, xf, k = flat[0], flat[1], _gelu_tanh_constants(x.dtype)
    result, out = empty_like_flat(x)

    def finish(start: int, stop: int, t: np.ndarray) -> None:
        gelu_tanh_backward_numba(
            stop - start, gf[start:stop], xf[start:stop], t, k, out[start:stop]
        )

    with np.errstate(over="ignore", invalid="ignore"):
        _tanh_blocks(xf, k, finish)
    return result
