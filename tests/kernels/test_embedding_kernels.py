"""The embedding backward's scatter-add kernel against its NumPy reference (the one-hot CSR
product).

Bound: **bit-identical**, float32 and float64 (NaN where the reference has NaN, the same
sign on every zero): the kernel adds each index's gradient rows in increasing position, as
SciPy's sparse product does, so any difference is a bug. It runs on its serial build and
its parallel one (forced onto small gradients, the columns split across threads), with
repeated indices, a padding row, ``scale_grad_by_freq``, and ±0, ±inf, NaN in the gradient.
Gradients and indices it cannot take give the reference's result. The op's agreement with
torch is tests/nn/modules/test_embedding.py, run under both ``NNLAB_KERNELS`` values.
"""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
import nnlab.nn.functional as F
from nnlab import kernels
from nnlab.kernels import embedding as ke

pytestmark = pytest.mark.skipif(not kernels.numba_available(), reason="numba is not installed")


def _gradient(n, d, dtype, seed=0):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, d)) * 10.0 ** rng.integers(-3, 3, (n, d))
    g[0, 0], g[1, 1], g[2, 2], g[3, 3], g[4, 4] = -0.0, np.nan, np.inf, -np.inf, 1e300
    with np.errstate(over="ignore"):
        return g.astype(dtype)


def _assert_same_bits(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    both = ~np.isnan(want)
    np.testing.assert_array_equal(np.signbit(got[both]), np.signbit(want[both]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize(
    "padding_idx, scale", [(None, False), (3, True)], ids=["plain", "pad-scale"]
)
def test_embedding_backward_kernel_gives_the_references_bits(dtype, padding_idx, scale, build):
    if build == "parallel" and dtype is np.float64:
        pytest.skip("parallel build: float32 only (compile time; the arithmetic is the same)")
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 12, 400).astype(np.int64)  # every row used many times
    g = _gradient(400, 70, dtype)
    rows = 14  # two rows never used: their gradient is +0
    with np.errstate(all="ignore"):
        want = ke.embedding_backward_numpy(g, idx, rows, padding_idx, scale)
        with kernels.use_backend("numba"):
            got = ke.embedding_backward(g, idx, rows, padding_idx, scale)
    _assert_same_bits(got, want)


@pytest.mark.parametrize("case", ["int32-indices", "strided", "numpy-backend"])
def test_arrays_the_kernel_cannot_take_give_the_references_result(case):
    idx = np.array([2, 0, 2, 1, 2, 0], np.int32 if case == "int32-indices" else np.int64)
    g = _gradient(6, 6, np.float32)
    if case == "strided":
        g = np.asfortranarray(g)
    with np.errstate(all="ignore"):
        want = ke.embedding_backward_numpy(g, idx, 3, None, False)
        with kernels.use_backend("numpy" if case == "numpy-backend" else "numba"):
            got = ke.embedding_backward(g, idx, 3, None, False)
    _assert_same_bits(got, want)


def test_embedding_gradient_is_the_same_on_both_backends():
    w = np.random.default_rng(2).standard_normal((6, 5)).astype(np.float32)
    ids = np.array([[1, 5, 1], [0, 1, 2]])

    def grad(backend):
        with kernels.use_backend(backend):
            t = nnlab.tensor(w, requires_grad=True)
            y = F.embedding(nnlab.tensor(ids), t, padding_idx=0, scale_grad_by_freq=True)
            (y * y).sum().backward()
            return t.grad.array

    _assert_same_bits(grad("numba"), grad("numpy"))
