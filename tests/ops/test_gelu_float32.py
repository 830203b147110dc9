"""The fast float32 path of exact GELU (y = x·σ(2u), u a fitted odd polynomial) against
float64 erfc, window by window of x: absolute error, relative error and error in float32
ulps of the value and of its derivative, each within a fixed bound.

The bounds hold on any x86 CPU. The path is a fixed sequence of elementwise NumPy float32
operations (no BLAS, no reductions), so its result depends only on IEEE arithmetic except
for ``np.exp``, whose SIMD kernels (AVX2, AVX-512) or libm fallback may differ by an ulp or
two between machines. Each bound holds, with at least 5% to spare, when every float32 exp
of the path is moved by up to ±3 ulps (from NumPy's exp and from a correctly rounded one),
on this grid and on 3 million random points of [-14, 8).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special

import nnlab
import nnlab.nn.functional as F

GRID = np.linspace(-14, 8, 2_200_001, dtype=np.float32)

# (lo, hi, max |error|, max relative error, max error in ulps of float32) on lo <= x < hi
# for y = x·Φ(x); None where the measure says nothing (|y| below 1e-4: the fitted u's own
# error dominates and relative error grows to 1 where y underflows to 0 below x ≈ -9.4).
VALUE_BOUNDS = [
    (-14, -6, 1e-8, None, None),
    (-6, -4, 1e-7, None, None),
    (-4, -3, 1e-7, 5e-4, 4000),
    (-3, -2, 1e-7, 5e-6, 80),
    (-2, -1, 2e-7, 2.5e-6, 35),
    (-1, 0, 1.5e-7, 1e-6, 10),
    (0, 1, 2e-7, 4e-7, 6),
    (1, 2, 3e-7, 3e-7, 4),
    (2, 4, 4.5e-7, 1.6e-7, 2),
    (4, 8.5, 6.5e-7, 1.5e-7, 1.5),
]
# (lo, hi, max |error|, max error in ulps) for dy/dx = Φ(x) + x·φ(x); no ulp bound where
# dy/dx is tiny (x < -4) or crosses zero (x ≈ -0.75).
DERIVATIVE_BOUNDS = [
    (-14, -6, 1.5e-9, None),
    (-6, -4, 2.5e-8, None),
    (-4, -3, 3e-8, 300),
    (-3, -2, 1e-7, 25),
    (-2, -1, 3e-7, 40),
    (-1, 0, 3e-7, None),
    (0, 1, 4e-7, 6.5),
    (1, 2, 4e-7, 3.5),
    (2, 4, 2.5e-7, 2),
    (4, 8.5, 1.7e-7, 1.5),
]


def reference(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """y = x Φ(x) and dy/dx in float64, Φ through erfc (no cancellation in the tail)."""
    x = x.astype(np.float64)
    cdf = 0.5 * scipy.special.erfc(-x / np.sqrt(2))
    return x * cdf, cdf + x * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)


def ulps(value: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|value - exact| in units of the float32 spacing at |exact|."""
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    return np.abs(value.astype(np.float64) - exact) / spacing


@pytest.fixture(scope="module")
def computed() -> dict[str, np.ndarray]:
    """nnlab's y and dy/dx on GRID (float32) and the float64 references."""
    t = nnlab.tensor(GRID, requires_grad=True)
    y = F.gelu(t)
    y.sum().backward()
    assert y.dtype == np.float32 and t.grad.dtype == np.float32
    y_ref, d_ref = reference(GRID)
    return {"y": y.array, "dydx": t.grad.array, "y_ref": y_ref, "dydx_ref": d_ref}


def _check(name, x, ours, exact, max_abs, max_rel, max_ulp):
    err = np.abs(ours.astype(np.float64) - exact)
    worst = int(err.argmax())
    assert err[worst] <= max_abs, f"{name}: |error| {err[worst]:.3g} at x = {x[worst]:.6g}"
    nonzero = exact != 0
    if max_rel is not None:
        rel = err[nonzero] / np.abs(exact[nonzero])
        k = int(rel.argmax())
        assert rel[k] <= max_rel, f"{name}: relative error {rel[k]:.3g} at x = {x[nonzero][k]:.6g}"
    if max_ulp is not None:
        u = ulps(ours[nonzero], exact[nonzero])
        k = int(u.argmax())
        assert u[k] <= max_ulp, f"{name}: {u[k]:.3g} float32 ulps at x = {x[nonzero][k]:.6g}"


@pytest.mark.parametrize("lo, hi, max_abs, max_rel, max_ulp", VALUE_BOUNDS)
def test_value_error_per_window(computed, lo, hi, max_abs, max_rel, max_ulp):
    keep = (GRID >= lo) & (GRID < hi)
    _check(f"y on [{lo}, {hi})", GRID[keep], computed["y"][keep], computed["y_ref"][keep],
           max_abs, max_rel, max_ulp)  # fmt: skip


@pytest.mark.parametrize("lo, hi, max_abs, max_ulp", DERIVATIVE_BOUNDS)
def test_derivative_error_per_window(computed, lo, hi, max_abs, max_ulp):
    keep = (GRID >= lo) & (GRID < hi)
    _check(f"dy/dx on [{lo}, {hi})", GRID[keep], computed["dydx"][keep],
           computed["dydx_ref"][keep], max_abs, None, max_ulp)  # fmt: skip


def test_windows_cover_the_grid():
    for bounds in (VALUE_BOUNDS, DERIVATIVE_BOUNDS):
        assert bounds[0][0] <= GRID[0] and bounds[-1][1] > GRID[-1]
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))


def test_inference_computes_the_same_values(computed):
    # The same operations in the same order with or without a gradient: bit for bit.
    np.testing.assert_array_equal(F.gelu(nnlab.tensor(GRID)).array, computed["y"])


def test_limits_and_special_values():
    x = np.float32([-np.inf, -1e30, -20.0, -9.5, 0.0, 9.5, 20.0, 1e30, np.inf, np.nan])
    x[4] = -0.0
    y = F.gelu(nnlab.tensor(x)).array
    assert np.isnan(y[0]) and np.isnan(y[-1])  # -∞·Φ(-∞) = -∞·0, as torch
    np.testing.assert_array_equal(y[1:4], 0.0)
    assert np.signbit(y[4])
    np.testing.assert_array_equal(y[5:9], x[5:9])


def test_views_and_shapes():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 70_001)) * 3).astype(np.float32)  # several blocks
    view = x[:, ::2]  # a non-contiguous view
    ours = F.gelu(nnlab.tensor(view)).numpy()
    y_ref, _ = reference(view)
    assert ours.shape == view.shape and ours.dtype == np.float32
    # within the loosest bounds above: 6.5e-7 absolute, 1e-6 relative for x >= -1
    np.testing.assert_allclose(ours, y_ref, rtol=0, atol=6.5e-7)
    keep = view >= -1
    np.testing.assert_allclose(ours[keep], y_ref[keep], rtol=1e-6, atol=1e-30)
    assert F.gelu(nnlab.tensor(np.float32(-3.0))).shape == ()
    assert F.gelu(nnlab.zeros(0, 4)).shape == (0, 4)


def test_second_derivative_uses_the_exact_formula():
    """d²y/dx² = φ(x)(2 - x²), against float64."""
    x = np.linspace(-4, 4, 33, dtype=np.float32)
    t = nnlab.tensor(x, requires_grad=True)
    (g,) = nnlab.autograd.grad(F.gelu(t).sum(), t, create_graph=True)
    g.sum().backward()
    x64 = x.astype(np.float64)
    exact = np.exp(-0.5 * x64 * x64) / math.sqrt(2 * math.pi) * (2 - x64 * x64)
    np.testing.assert_allclose(t.grad.numpy(), exact, rtol=0, atol=1e-6)
