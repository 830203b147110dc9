"""Attention's masked softmax kernels (forward and backward, on the op's key-major score
buffer) against their NumPy references.

Bound: **bit-identical**, float32 and float64 (NaN where the reference has NaN, the same
sign on every zero): the kernels add down the columns in NumPy's order (one row after
another, from 0), so any difference is a bug. Each runs on its serial and its parallel build
(forced onto these small buffers), on scores with ±0, ±inf, NaN and fully masked queries,
under masks of every broadcast shape the op meets (key padding, causal, per head, full,
one value per query), and on tiles that split a block of queries (L ≥ TILE) or group
several. Buffers and masks a kernel cannot take give the reference's result. The op's
agreement with torch is tests/nn/modules (test_attention, test_multihead), run under both
``NNLAB_KERNELS`` values.
"""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
import nnlab.nn.functional as F
from nnlab import kernels
from nnlab.kernels import attention as ka

pytestmark = pytest.mark.skipif(not kernels.numba_available(), reason="numba is not installed")

EDGES = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 1e-40, 88.0, -104.0]

# (lead, L, S, mask shape or None): key padding, causal, per head, full, per query (…, L, 1),
# a block of queries split into tiles (L > TILE), blocks grouped in tiles with a remainder.
CASES = [
    ((2, 3), 5, 7, (2, 1, 1, 7)),
    ((2, 3), 6, 9, (6, 9)),
    ((2, 3), 4, 6, (3, 1, 6)),
    ((2, 3), 4, 6, (2, 3, 4, 6)),
    ((3,), 5, 4, (5, 1)),
    ((2,), ka.TILE + 37, 3, (1, 3)),
    ((11,), 100, 5, None),
    ((), 2, 130, None),
]
IDS = [
    "key-padding",
    "causal",
    "per-head",
    "full",
    "per-query",
    "split-block",
    "grouped",
    "no-mask",
]


def _buffer(lead, L, S, dtype, seed=0):
    """Key-major scores (S, …, L): random magnitudes with the edge values mixed in."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((S,) + lead + (L,)) * 10.0 ** rng.integers(-2, 2, (S,) + lead + (L,))
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, min(len(EDGES), flat.size), replace=False)] = EDGES[: flat.size]
    with np.errstate(over="ignore"):
        return x.astype(dtype)


def _mask(shape, dtype, seed=1):
    """An additive mask: -inf on about a third of the keys, finite values elsewhere; with a
    key axis, the first query row masks every key (an empty query)."""
    if shape is None:
        return None
    rng = np.random.default_rng(seed)
    b = np.where(rng.random(shape) < 0.3, -np.inf, rng.standard_normal(shape)).astype(dtype)
    if len(shape) >= 2 and shape[-1] > 1:
        b[..., 0, :] = -np.inf
    return b


def _assert_same_bits(got, want, where=""):
    assert got.dtype == want.dtype and got.shape == want.shape, where
    np.testing.assert_array_equal(got, want, err_msg=where)
    both = ~np.isnan(want)
    np.testing.assert_array_equal(np.signbit(got[both]), np.signbit(want[both]), err_msg=where)


def _softmax_on(backend, buf, bias, zero_empty):
    out = buf.copy()
    with kernels.use_backend(backend), np.errstate(all="ignore"):
        ka.masked_softmax(out, bias, zero_empty)
    return out


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_masked_softmax_kernels_give_the_references_bits(case, dtype, build):
    if build == "parallel" and dtype is np.float64:
        pytest.skip("parallel builds: float32 only (compile time; the arithmetic is the same)")
    lead, L, S, mask_shape = case
    buf, bias = _buffer(lead, L, S, dtype), _mask(mask_shape, dtype)
    for zero_empty in (True, False):
        want = _softmax_on("numpy", buf, bias, zero_empty)
        _assert_same_bits(_softmax_on("numba", buf, bias, zero_empty), want, f"{zero_empty}")
    # backward on finite weights (the op's P) and a gradient with the edge values, with
    # and without a dropout mask
    p = np.nan_to_num(want, posinf=0.0).reshape(S, -1)
    d = _buffer(lead, L, S, dtype, seed=2).reshape(S, -1)
    keep = np.random.default_rng(3).random(p.shape) >= 0.25
    for mask in (None, (keep * np.asarray(1 / 0.75, dtype)).astype(dtype)):
        got, ref = d.copy(), d.copy()
        with np.errstate(all="ignore"):
            ka.softmax_columns_backward_numpy(p, ref, mask)
            with kernels.use_backend("numba"):
                ka.softmax_columns_backward(p, got, L, mask)
        _assert_same_bits(got, ref, f"backward, mask {mask is not None}")


def test_empty_queries_give_zero_or_nan_as_asked():
    buf = np.random.default_rng(0).standard_normal((5, 2, 3, 4)).astype(np.float32)
    bias = np.zeros((2, 1, 1, 5), np.float32)
    bias[1] = -np.inf  # every key of batch 1 masked
    zero = _softmax_on("numba", buf, bias, True)
    assert (zero[:, 1] == 0).all()
    assert np.isnan(_softmax_on("numba", buf, bias, False)[:, 1]).all()


@pytest.mark.parametrize("case", ["one-column", "float16", "mask-float64", "numpy-backend"])
def test_buffers_and_masks_a_kernel_cannot_take_give_the_references_result(case):
    dtype = np.float16 if case == "float16" else np.float32
    L = 1 if case == "one-column" else 4
    buf = _buffer((1,), L, 6, dtype)
    bias = _mask((L, 6), np.float64 if case == "mask-float64" else dtype)
    want = buf.copy()
    with np.errstate(all="ignore"):
        ka.masked_softmax_numpy(want, bias, True)
    got = _softmax_on("numpy" if case == "numpy-backend" else "numba", buf, bias, True)
    _assert_same_bits(got, want, case)


@pytest.mark.parametrize("dropout_p", [0.0, 0.3])
def test_sdpa_gradients_agree_across_backends(dropout_p):
    """The op end to end (forward and backward) gives the same bits on both backends (the
    key padding mask, a fully masked query and seeded dropout included)."""
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal((2, 3, 5, 4)).astype(np.float32) for _ in range(3))
    mask = np.ones((2, 1, 5, 5), bool)
    mask[0, :, :, 3:] = False
    mask[1, :, 2] = False

    def run(name):
        with kernels.use_backend(name):
            t = [nnlab.tensor(a, requires_grad=True) for a in (q, k, v)]
            nnlab.manual_seed(0)
            out = F.scaled_dot_product_attention(*t, attn_mask=mask, dropout_p=dropout_p)
            (out * nnlab.tensor(v[..., :4])).sum().backward()
            return [out.array] + [x.grad.array for x in t]

    for a, b in zip(run("numba"), run("numpy")):
        _assert_same_bits(a, b)
        assert np.isfinite(a).all()
