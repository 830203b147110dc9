"""The fast float32 path of exact GELU (Numerical Recipes erfc on |x|) against float64
erfc: absolute error within float32 resolution, relative accuracy kept in the tail."""

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
    assert np.abs(y.data - y_ref).max() <= 2.5e-7  # ≈ one float32 ulp of |y| in [2, 4)
    assert np.abs(t.grad.data - d_ref).max() <= 2.5e-7
    tail = np.abs(y_ref) > 1e-37  # down to float32's smallest normal numbers
    relative = np.abs(y.data[tail] - y_ref[tail]) / np.abs(y_ref[tail])
    assert relative.max() <= 3e-5  # erf-based ½x(1 + erf) would be 100% off here
    assert relative[x[tail] > -5].max() <= 5e-6


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
