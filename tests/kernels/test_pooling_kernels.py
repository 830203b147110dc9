"""The pooling kernels (nnlab.kernels.pooling) against their NumPy references.

Bound: **bit-identical**, float32 and float64 alike (NaN where the reference has NaN, the
same sign on every zero, the same winners). The kernels perform the reference's IEEE
operations in its order; overlapping windows add their gradients in the reference's
order (offset by offset), so any difference is a bug, not rounding.

Each configuration (1-, 2- and 3-d windows; padding, dilation, ceil mode, overlapping
windows, the 2×2 fast paths; count_include_pad and divisor_override) runs on inputs with
ties and edge values (±0, ±inf, NaN) and upstream gradients with edge values, laid out
C-contiguous and channel-first (the (N, C, ...) view of a (C, N, ...) buffer, as a
convolution returns), on the kernels' serial build and their parallel one (float32 only:
the same arithmetic, and compile time). Layouts a kernel cannot take must give the
reference's result. The ops' agreement with torch is tests/nn/modules/test_pooling.py
(run under both ``NNLAB_KERNELS`` values).
"""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
import nnlab.nn.functional as F
from nnlab import kernels
from nnlab.kernels import pooling as kp
from nnlab.ops.pooling import _divisor
from nnlab.ops.pooling_window import _window

pytestmark = pytest.mark.skipif(not kernels.numba_available(), reason="numba is not installed")

DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
EDGES = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 1.0, 1.0, -0.0]


def _skip_parallel_float64(build, dtype):
    if build == "parallel" and dtype is np.float64:
        pytest.skip("parallel builds: float32 only (compile time)")


def _values(shape, dtype, seed, channel_first=False, edges=True):
    """Small integers (many ties, zeros of both signs) with edge values mixed in, laid out
    channel-first if asked."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, shape) * np.where(rng.random(shape) < 0.5, 1.0, -1.0)
    if edges:
        flat = x.reshape(-1)
        n = min(len(EDGES), flat.size // 4)
        flat[rng.choice(flat.size, n, replace=False)] = EDGES[:n]
    x = x.astype(dtype)
    if channel_first:
        return np.ascontiguousarray(x.swapaxes(0, 1)).swapaxes(0, 1)
    return x


def _assert_same_bits(got, want, where):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, where
    np.testing.assert_array_equal(got, want, err_msg=where)
    if want.dtype.kind == "f":
        both = ~np.isnan(want)
        np.testing.assert_array_equal(np.signbit(got[both]), np.signbit(want[both]), where)


#: (name, spatial dims, kernel, stride, padding, dilation, ceil_mode, input shape)
MAX = [
    ("2x2", 2, 2, None, 0, 1, False, (2, 3, 8, 6)),  # the fast path, windows tiling
    ("2x2-odd", 2, 2, None, 0, 1, False, (2, 2, 7, 5)),  # the fast path, a remainder
    ("2x2-ceil", 2, 2, None, 0, 1, True, (2, 2, 7, 5)),  # general: the last window overhangs
    ("3x3-s1-p1", 2, 3, 1, 1, 1, False, (2, 2, 7, 6)),  # overlapping, padded
    ("3x2-s2-dil", 2, (3, 2), (2, 1), (1, 0), (2, 3), False, (2, 2, 11, 9)),
    ("1d-pad-ceil", 1, 3, 2, 1, 1, True, (2, 3, 10)),
    ("1d-dil-pad-only", 1, 2, 1, 1, 2, False, (1, 2, 1)),  # windows of padding only
    ("3d-pad-ceil", 3, 3, 2, 1, 1, True, (1, 2, 5, 6, 7)),
    ("3d-dil", 3, 2, 1, 0, (1, 2, 1), False, (2, 2, 4, 5, 4)),
]


@DTYPES
@pytest.mark.parametrize("layout", ["C", "channel-first"])
@pytest.mark.parametrize("case", MAX, ids=[c[0] for c in MAX])
def test_max_pool_kernels_give_the_references_bits(case, layout, dtype, build):
    _skip_parallel_float64(build, dtype)
    name, n, kernel, stride, padding, dilation, ceil, shape = case
    x = _values(shape, dtype, 0, layout == "channel-first")
    win = _window("max_pool", x, n, kernel, stride, padding, dilation, ceil)
    y_ref, w_ref = kp.max_pool_numpy(x, win, True)
    with kernels.use_backend("numba"):
        y, winner = kp.max_pool(x, win, True)
        y_only, none = kp.max_pool(x, win, False)
    _assert_same_bits(y, y_ref, f"{name}: y")
    _assert_same_bits(winner, w_ref, f"{name}: winners")
    _assert_same_bits(y_only, y_ref, f"{name}: y without winners")
    assert none is None
    if layout == "channel-first":  # the output keeps the input's layout
        assert y.swapaxes(0, 1).flags.c_contiguous and winner.swapaxes(0, 1).flags.c_contiguous
    for g_layout in (False, True):  # g as y, or in the other layout (copied)
        g = _values(y.shape, dtype, 1, g_layout)
        dx_ref = kp.max_pool_backward_numpy(g, w_ref, win, x.shape)
        with kernels.use_backend("numba"):
            dx = kp.max_pool_backward(g, winner, win, x.shape)
        _assert_same_bits(dx, dx_ref, f"{name}: dx (g channel-first: {g_layout})")


#: (name, spatial dims, kernel, stride, padding, ceil_mode, count_include_pad,
#: divisor_override, input shape)
AVG = [
    ("2x2", 2, 2, None, 0, False, True, None, (2, 3, 8, 6)),  # the fast paths
    ("2x2-s1", 2, 2, 1, 0, False, True, None, (2, 2, 5, 7)),  # overlapping, stride 1
    ("3x3-s2-p1", 2, 3, 2, 1, False, True, None, (2, 2, 8, 7)),
    ("3x2-ceil-exclude", 2, (3, 2), 2, 1, True, False, None, (2, 2, 8, 7)),
    ("3x3-s3-divisor", 2, 3, 3, 1, False, True, 5, (2, 2, 7, 8)),  # disjoint, not tiling
    ("1d-pad-ceil", 1, 3, 2, 1, True, True, None, (2, 2, 10)),
    ("3d-s-mixed", 3, (2, 3, 2), (1, 2, 3), 1, False, True, 7, (1, 2, 5, 6, 7)),
]


@DTYPES
@pytest.mark.parametrize("layout", ["C", "channel-first"])
@pytest.mark.parametrize("case", AVG, ids=[c[0] for c in AVG])
def test_avg_pool_kernels_give_the_references_bits(case, layout, dtype, build):
    _skip_parallel_float64(build, dtype)
    name, n, kernel, stride, padding, ceil, include, override, shape = case
    x = _values(shape, dtype, 2, layout == "channel-first")
    win = _window("avg_pool", x, n, kernel, stride, padding, 1, ceil)
    if override is None:
        divisor = _divisor(win, include, x.dtype)
    else:
        divisor = np.asarray(override, dtype=x.dtype)
    with np.errstate(invalid="ignore"):
        y_ref = kp.avg_pool_numpy(x, win, divisor)
        with kernels.use_backend("numba"):
            y = kp.avg_pool(x, win, divisor)
        _assert_same_bits(y, y_ref, f"{name}: y")
        if layout == "channel-first":
            assert y.swapaxes(0, 1).flags.c_contiguous
        g = _values(y.shape, dtype, 3, layout == "channel-first")
        dx_ref = kp.avg_pool_backward_numpy(g, win, divisor, x.shape)
        with kernels.use_backend("numba"):
            dx = kp.avg_pool_backward(g, win, divisor, x.shape)
    _assert_same_bits(dx, dx_ref, f"{name}: dx")


def test_signed_zeros_and_all_zero_sums():
    """The reference's zero signs: np.maximum keeps the later of two equal zeros; a sum of
    -0s stays -0 unless the window holds padding (the reference adds its +0)."""
    x = np.array([[[[0.0, -0.0], [-0.0, -0.0]]]])
    win = _window("max_pool2d", x, 2, 2, None, 0, 1, False)
    y_ref, w_ref = kp.max_pool_numpy(x, win, True)
    assert np.signbit(y_ref).all() and w_ref.item() == 0  # -0 wins the value, +0 the index
    with kernels.use_backend("numba"):
        y, winner = kp.max_pool(x, win, True)
    _assert_same_bits(y, y_ref, "max")
    _assert_same_bits(winner, w_ref, "winner")
    for padding in (0, 1):
        x = np.full((1, 1, 2, 2), -0.0)
        win = _window("avg_pool2d", x, 2, 2, 1, padding, 1, False)
        divisor = _divisor(win, True, x.dtype)
        with kernels.use_backend("numba"):
            y = kp.avg_pool(x, win, divisor)
        _assert_same_bits(y, kp.avg_pool_numpy(x, win, divisor), f"avg, padding {padding}")


def test_a_nan_window_has_no_winner_and_passes_no_gradient():
    """y = NaN where a window holds a NaN; its winner is -1 and its g goes nowhere."""
    x = np.array([[[[1.0, np.nan, 3.0, 2.0]]]], dtype=np.float32)
    win = _window("max_pool2d", x, 2, (1, 2), None, 0, 1, False)
    with kernels.use_backend("numba"):
        y, winner = kp.max_pool(x, win, True)
        dx = kp.max_pool_backward(np.ones_like(y), winner, win, x.shape)
    assert np.isnan(y[0, 0, 0, 0]) and y[0, 0, 0, 1] == 3.0
    np.testing.assert_array_equal(winner, [[[[-1, 0]]]])
    np.testing.assert_array_equal(dx, [[[[0.0, 0.0, 1.0, 0.0]]]])


@pytest.mark.parametrize("layout", ["transposed", "strided", "float16", "int"])
def test_layouts_a_kernel_cannot_take_give_the_references_result(layout):
    x = _values((2, 3, 6, 8), np.float64, 4, edges=False)
    if layout == "transposed":
        x = np.ascontiguousarray(x.swapaxes(-1, -2)).swapaxes(-1, -2)
    elif layout == "strided":
        x = _values((2, 3, 6, 16), np.float64, 4, edges=False)[..., ::2]
    else:
        x = x.astype(np.float16 if layout == "float16" else np.int64)
    win = _window("max_pool2d", x, 2, 3, 1, 1, 1, False)
    y_ref, w_ref = kp.max_pool_numpy(x, win, True)
    with kernels.use_backend("numba"):
        y, winner = kp.max_pool(x, win, True)
    _assert_same_bits(y, y_ref, "max y")
    _assert_same_bits(winner, w_ref, "winners")
    if layout == "int":
        return
    divisor = _divisor(win, True, x.dtype)
    with kernels.use_backend("numba"):
        y = kp.avg_pool(x, win, divisor)
        dx = kp.avg_pool_backward(y, win, divisor, x.shape)
    _assert_same_bits(y, kp.avg_pool_numpy(x, win, divisor), "avg y")
    _assert_same_bits(dx, kp.avg_pool_backward_numpy(y, win, divisor, x.shape), "avg dx")


@pytest.mark.parametrize("op", ["max", "avg"])
def test_ops_agree_across_backends_on_a_channel_first_input(op):
    """The ops (values, torch's indices, input gradients) give the same bits on either
    backend, on a convolution-like channel-first input."""
    x = _values((3, 4, 9, 9), np.float32, 5, channel_first=True, edges=False)
    g = _values((3, 4, 5, 5), np.float32, 6, edges=False)
    results = []
    for backend in ("numpy", "numba"):
        with kernels.use_backend(backend):
            xt = nnlab.Tensor(x, requires_grad=True)
            if op == "max":
                y, idx = F.max_pool2d(xt, 3, stride=2, padding=1, return_indices=True)
                idx = idx.array
            else:
                y, idx = F.avg_pool2d(xt, 3, stride=2, padding=1), None
            y.backward(g)
            results.append((y.array, idx, xt.grad.array))
    for got, want, what in zip(results[1], results[0], ("y", "indices", "dx")):
        if want is not None:
            _assert_same_bits(got, want, f"{op} {what}")
