"""The im2col/col2im kernels (nnlab.kernels.im2col) against their NumPy references.

Bound: **bit-identical**. A copy is exact, and every element of the folded array receives
the reference's additions in the reference's order (offsets in order, one channel per
iteration), so any difference is a bug. Both builds run: the serial loop and the
``prange`` loop forced onto these small arrays. The convolutions' agreement with torch is
tests/nn/modules/test_conv.py, run under both backends; here a whole 2-d convolution
(forward and the three gradients) must give the same bits on both backends.
"""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
import nnlab.nn.functional as F
from nnlab import kernels
from nnlab.kernels import im2col as k

pytestmark = pytest.mark.skipif(not kernels.numba_available(), reason="numba is not installed")

DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])


def _random(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _both(fn_kernel, fn_reference, args, out_index):
    """Run the dispatcher under numba and the reference on copies; return both outputs."""
    ours = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    theirs = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    with kernels.use_backend("numba"):
        fn_kernel(*ours)
    fn_reference(*theirs)
    return ours[out_index], theirs[out_index]


@DTYPES
def test_wide_unfold_and_fold_give_the_references_bits(dtype, build):
    c, kk, n, run, groups = 4, 5, 3, 11, 2
    starts = np.array([0, 1, 2, 7, 9], dtype=np.int64)
    xp = _random((c, n, run + 9), dtype)
    col = np.zeros((c, kk, n, run), dtype)
    got, want = _both(k.unfold_wide, k.unfold_wide_numpy, (xp, starts, col), 2)
    np.testing.assert_array_equal(got, want)
    cols = _random((groups, kk, c // groups, n, run), dtype, seed=1)
    store = _random((groups, c // groups, n, run + 9), dtype, seed=2)  # overlapping windows
    got, want = _both(k.fold_wide, k.fold_wide_numpy, (cols, starts, store), 2)
    np.testing.assert_array_equal(got, want)


@DTYPES
@pytest.mark.parametrize("stride", [(1, 1), (2, 3)], ids=["stride 1", "stride 2x3"])
def test_plain_unfold_and_fold_give_the_references_bits(dtype, stride, build):
    c, n, groups, (l0, l1) = 4, 3, 2, (4, 3)
    origins = np.array([[0, 0], [0, 2], [1, 1], [2, 0], [2, 2]], dtype=np.int64)  # dilated
    p0, p1 = stride[0] * (l0 - 1) + 3, stride[1] * (l1 - 1) + 3
    xp = _random((c, n, p0, p1), dtype)
    col = np.zeros((c, len(origins), n, l0, l1), dtype)
    got, want = _both(k.unfold_plain, k.unfold_plain_numpy, (xp, origins, stride, col), 3)
    np.testing.assert_array_equal(got, want)
    # a transposed (non-contiguous) padded input, as an unpadded convolution passes it
    xt = np.ascontiguousarray(xp.swapaxes(0, 1)).swapaxes(0, 1)
    got, want = _both(k.unfold_plain, k.unfold_plain_numpy, (xt, origins, stride, col), 3)
    np.testing.assert_array_equal(got, want)
    cols = _random((groups, len(origins), c // groups, n, l0, l1), dtype, seed=1)
    store = _random((groups, c // groups, n, p0, p1), dtype, seed=2)
    got, want = _both(k.fold_plain, k.fold_plain_numpy, (cols, origins, stride, store), 3)
    np.testing.assert_array_equal(got, want)


@DTYPES
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no bias"])
def test_narrow_wide_gives_the_references_bits(dtype, with_bias, build):
    y = _random((3, 2, 4, 7), dtype)
    bias = _random(3, dtype, seed=1) if with_bias else None
    out = np.zeros((3, 2, 4, 5), dtype)
    got, want = _both(k.narrow_wide, k.narrow_wide_numpy, (y, bias, out), 2)
    np.testing.assert_array_equal(got, want)


def test_arrays_the_kernels_cannot_take_give_the_references_result():
    starts = np.array([0, 2], dtype=np.int64)
    xp = _random((2, 3, 12), np.float16)
    col = np.zeros((2, 2, 3, 10), np.float16)
    got, want = _both(k.unfold_wide, k.unfold_wide_numpy, (xp, starts, col), 2)
    np.testing.assert_array_equal(got, want)
    cols = _random((1, 2, 2, 3, 10), np.float32)
    store = _random((1, 2, 3, 24), np.float32)[..., ::2]  # strided: the reference runs
    got, want = _both(k.fold_wide, k.fold_wide_numpy, (cols, starts, store), 2)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "case",
    [
        dict(padding=2),  # the wide layout (stride 1)
        dict(stride=2, padding=1, dilation=2, groups=2),  # the plain layout
        dict(padding=0),  # plain without padding: a transposed view of the input
    ],
    ids=["wide", "plain, groups", "plain, unpadded"],
)
def test_conv2d_gives_the_same_bits_on_both_backends(case):
    x0 = _random((3, 4, 9, 8), np.float32)
    w0 = _random((6, 4 // case.get("groups", 1), 3, 3), np.float32, seed=1)
    results = []
    for backend in ("numba", "numpy"):
        with kernels.use_backend(backend):
            x = nnlab.tensor(x0, requires_grad=True)
            w = nnlab.tensor(w0, requires_grad=True)
            b = nnlab.zeros(6, requires_grad=True)
            y = F.conv2d(x, w, b, **case)
            (y * y).sum().backward()
            results.append([y.detach().numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()])
    for got, want in zip(*results):
        np.testing.assert_array_equal(got, want)
