"""The fast float32 path of exact GELU (y = x·σ(2u), u a fitted odd polynomial) against
float64 erfc: absolute error within about one float32 ulp, relative error small wherever y
is not negligible, and never less accurate than torch's own float32 GELU."""

from __future__ import annotations

import numpy as np
import scipy.special
import torch

import nnlab
import nnlab.nn.functional as F


def reference(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """y = x Φ(x) and dy/dx in float64, Φ through erfc (no cancellation in the tail)."""
    x = x.astype(np.float64)
    cdf = 0.5 * scipy.special.erfc(-x / np.sqrt(2))
    return x * cdf, cdf + x * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)


def test_values_and_derivative_match_float64():
    x = np.linspace(-14, 8, 400_001, dtype=np.float32)
    y_ref, d_ref = reference(x)
    t = nnlab.tensor(x, requires_grad=True)
    y = F.gelu(t)
    y.sum().backward()
    assert y.dtype == np.float32
    error = np.abs(y.data - y_ref)
    assert error.max() <= 6e-7  # ≈ one float32 ulp of |y| in [4, 8)
    assert np.abs(t.grad.data - d_ref).max() <= 4e-7
    relative = error / np.maximum(np.abs(y_ref), 1e-300)
    assert relative[x >= -3].max() <= 5e-6  # |y| ≥ 4e-3
    assert relative[x >= -4].max() <= 5e-4  # |y| ≥ 1.3e-4
    # Inference (no gradient) computes the same values bit for bit.
    np.testing.assert_array_equal(F.gelu(nnlab.tensor(x)).data, y.data)


def test_at_least_as_accurate_as_torch_float32():
    x = np.linspace(-6, 6, 120_001, dtype=np.float32)
    y_ref, _ = reference(x)
    theirs = np.abs(torch.nn.functional.gelu(torch.from_numpy(x)).numpy() - y_ref)
    ours = np.abs(F.gelu(nnlab.tensor(x)).data - y_ref)
    assert ours.max() <= theirs.max()
    for lo in (-2, -3, -4, -5):  # relative error where y is small and negative
        keep = (x >= lo) & (x != 0)
        rel = np.abs(y_ref[keep])
        assert (ours[keep] / rel).max() <= (theirs[keep] / rel).max()


def test_limits_and_special_values():
    x = np.float32([-np.inf, -1e30, -20.0, -9.5, 0.0, 9.5, 20.0, 1e30, np.inf, np.nan])
    x[4] = -0.0
    y = F.gelu(nnlab.tensor(x)).data
    assert np.isnan(y[0]) and np.isnan(y[-1])  # -∞·Φ(-∞) = -∞·0, as torch
    np.testing.assert_array_equal(y[1:4], 0.0)
    assert np.signbit(y[4])
    np.testing.assert_array_equal(y[5:9], x[5:9])


def test_matches_torch_and_shapes():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 70_001)) * 3).astype(np.float32)  # several blocks
    ours = F.gelu(nnlab.tensor(x[:, ::2])).numpy()  # a non-contiguous view
    theirs = torch.nn.functional.gelu(torch.from_numpy(x[:, ::2])).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
    assert F.gelu(nnlab.tensor(np.float32(-3.0))).shape == ()
    assert F.gelu(nnlab.zeros(0, 4)).shape == (0, 4)


def test_second_derivative_uses_the_exact_formula():
    x = np.linspace(-4, 4, 33, dtype=np.float32)
    t = nnlab.tensor(x, requires_grad=True)
    (g,) = nnlab.autograd.grad(F.gelu(t).sum(), t, create_graph=True)
    g.sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    (tg,) = torch.autograd.grad(torch.nn.functional.gelu(tx).sum(), tx, create_graph=True)
    tg.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), tx.grad.numpy(), atol=1e-6)
