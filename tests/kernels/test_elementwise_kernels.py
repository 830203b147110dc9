"""The activation, softmax and dropout kernels against their NumPy references.

Bound: **bit-identical**, float32 and float64 alike (NaN where the reference has NaN, and
the same sign on every zero). The kernels perform the reference's IEEE operations in its
order and dtype; the row sums replay NumPy's pairwise summation (``pairwise_sum_py``), so
any difference is a bug, not rounding.

Each kernel runs on its serial and its parallel build (``prange``, forced onto these small
arrays), on random values spanning many magnitudes plus ±0, ±inf, NaN, huge and tiny
values; arrays with permuted axes take the elementwise kernels and keep their layout;
arrays a kernel cannot take (strided, laid out unlike each other, float16, 0-d, empty)
must give the reference's result. The ops' agreement with torch is tests/ops (run under both
``NNLAB_KERNELS`` values); here the ops are checked against torch only where edge values
(NaN, ±inf) meet the kernels.
"""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
import nnlab.nn.functional as F
from nnlab import kernels
from nnlab.kernels import activation as act
from nnlab.kernels import dropout as drop
from nnlab.kernels import softmax as sm

pytestmark = pytest.mark.skipif(not kernels.numba_available(), reason="numba is not installed")

DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
EDGES = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 1e-40, -1e-40, 88.0, -104.0, 1.0]


def _skip_parallel_float64(build, dtype):
    """The row kernels' parallel builds are checked in float32 only: their arithmetic is the
    serial build's, and compiling each in float64 too cost about 20 s on a fresh cache."""
    if build == "parallel" and dtype is np.float64:
        pytest.skip("parallel row kernels: float32 only (compile time)")


def _values(shape, dtype, seed=0):
    """Random signs and magnitudes over 1e-3..1e2 with the edge values mixed in."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 3, shape)
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, min(len(EDGES), flat.size), replace=False)] = EDGES[: flat.size]
    with np.errstate(over="ignore"):
        return x.astype(dtype)


def _assert_same_bits(got, want, where=""):
    if isinstance(want, tuple):  # several outputs (ReLU's y and mask)
        assert isinstance(got, tuple) and len(got) == len(want), where
        for a, b in zip(got, want):
            _assert_same_bits(a, b, where)
        return
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, where
    np.testing.assert_array_equal(got, want, err_msg=where)
    both = ~np.isnan(want)
    np.testing.assert_array_equal(np.signbit(got[both]), np.signbit(want[both]), err_msg=where)


def _on(backend, fn, *args):
    with kernels.use_backend(backend), np.errstate(all="ignore"):
        return fn(*args)


#: (dispatcher, reference, number of array arguments, extra scalar arguments)
ELEMENTWISE = {
    "relu": (act.relu, act.relu_numpy, 1, ()),
    "relu_backward": (act.relu_backward, act.relu_backward_numpy, 2, ()),  # (g, mask)
    "leaky_relu": (act.leaky_relu, act.leaky_relu_numpy, 1, (0.01,)),
    "leaky_relu_backward": (act.leaky_relu_backward, act.leaky_relu_backward_numpy, 2, (0.2,)),
    "elu_backward": (act.elu_backward, act.elu_backward_numpy, 3, (1.3,)),
    "tanh_backward": (act.tanh_backward, act.tanh_backward_numpy, 2, ()),
    "sigmoid_backward": (act.sigmoid_backward, act.sigmoid_backward_numpy, 2, ()),
    "silu_backward": (act.silu_backward, act.silu_backward_numpy, 3, ()),
    "gelu_tanh": (act.gelu_tanh, act.gelu_tanh_numpy, 1, ()),
    "gelu_tanh_backward": (act.gelu_tanh_backward, act.gelu_tanh_backward_numpy, 2, ()),
}


def _elementwise_args(name, shape, dtype):
    _, _, n_arrays, extra = ELEMENTWISE[name]
    arrays = [_values(shape, dtype, seed=i) for i in range(n_arrays)]
    if name == "relu_backward":
        arrays[1] = arrays[1] > 0
    return arrays + list(extra)


@DTYPES
@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_kernels_give_the_references_bits(name, dtype, build):
    kernel, reference, _, _ = ELEMENTWISE[name]
    args = _elementwise_args(name, (37, 23), dtype)
    want = _on("numpy", reference, *[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    got = _on("numba", kernel, *args)
    _assert_same_bits(got, want, f"{name} {build}")


@pytest.mark.parametrize("layout", ["transposed", "channel-first", "fortran"])
@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_kernels_take_permuted_layouts_and_keep_them(name, layout):
    """A dense array with permuted axes (the (N, C, H, W) view of a convolution's
    channel-first buffer, say) takes the kernel: the reference's bits, in its layout."""
    shape = (6, 8) if layout == "transposed" else (3, 4, 5, 6)
    args = _elementwise_args(name, shape, np.float32)
    permute = {
        "transposed": lambda a: a.T,
        "channel-first": lambda a: np.ascontiguousarray(a.swapaxes(0, 1)).swapaxes(0, 1),
        "fortran": np.asfortranarray,
    }[layout]
    args = [permute(a) if isinstance(a, np.ndarray) else a for a in args]
    assert kernels.elementwise_views(args[0]) is not None
    kernel, reference, _, _ = ELEMENTWISE[name]
    want = _on("numpy", reference, *args)
    got = _on("numba", kernel, *args)
    _assert_same_bits(got, want, f"{name} {layout}")
    for a, b in zip(*((r if isinstance(r, tuple) else (r,)) for r in (got, want))):
        assert a.strides == b.strides, f"{name} {layout}"


@pytest.mark.parametrize("layout", ["mixed", "strided", "float16", "0-d", "empty"])
@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_arrays_a_kernel_cannot_take_give_the_references_result(name, layout):
    shape = {"0-d": (), "empty": (0, 5)}.get(layout, (6, 8))
    dtype = np.float16 if layout == "float16" else np.float64
    args = _elementwise_args(name, shape, dtype)
    if layout == "mixed":  # one argument C-ordered, the others Fortran-ordered
        args = [args[0]] + [np.asfortranarray(a) if isinstance(a, np.ndarray) else a
                            for a in args[1:]]  # fmt: skip
    if layout == "strided":
        args = [a[:, ::2] if isinstance(a, np.ndarray) else a for a in args]
    kernel, reference, _, _ = ELEMENTWISE[name]
    want = _on("numpy", reference, *[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    _assert_same_bits(_on("numba", kernel, *args), want, f"{name} {layout}")


@pytest.mark.parametrize("need_grad", [False, True], ids=["forward", "with dydx"])
@pytest.mark.parametrize("shape", [(3, 70001), (37, 23)], ids=["two blocks", "one block"])
def test_gelu_float32_kernels_give_the_references_bits(shape, need_grad, build):
    x = _values(shape, np.float32) * np.float32(3)
    want = _on("numpy", act.gelu_erf_float32_numpy, x, need_grad)
    got = _on("numba", act.gelu_erf_float32, x, need_grad)
    for name, a, b in zip(("y", "dydx"), got, want):
        if b is None:
            assert a is None
        else:
            _assert_same_bits(a, b, f"gelu {name} {build}")


@DTYPES
def test_gelu_tanh_kernels_give_the_references_bits_block_by_block(dtype):
    x, g = _values((3, 70001), dtype), _values((3, 70001), dtype, seed=1)
    _assert_same_bits(_on("numba", act.gelu_tanh, x), _on("numpy", act.gelu_tanh_numpy, x))
    want = _on("numpy", act.gelu_tanh_backward_numpy, g, x)
    _assert_same_bits(_on("numba", act.gelu_tanh_backward, g, x), want)


def test_gelu_float32_strided_input_gives_the_references_result():
    x = _values((8, 12), np.float32)[:, ::3]
    want = _on("numpy", act.gelu_erf_float32_numpy, x, True)
    for a, b in zip(_on("numba", act.gelu_erf_float32, x, True), want):
        _assert_same_bits(a, b)


# -- softmax -------------------------------------------------------------------------------

#: row lengths covering every branch of NumPy's pairwise sum (< 8, ≤ 128, split, odd rests)
ROW_LENGTHS = [1, 5, 8, 13, 128, 129, 300, 1030]


def _row_values(n_cols, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((3, n_cols)) * 4).astype(dtype)


@DTYPES
@pytest.mark.parametrize("n_cols", ROW_LENGTHS + [3000])
def test_row_sums_replay_numpys_sum(n_cols, dtype, build):
    _skip_parallel_float64(build, dtype)
    x = _row_values(n_cols, dtype)
    x *= 10.0 ** np.random.default_rng(1).integers(-6, 6, x.shape)
    _assert_same_bits(_on("numba", sm.row_sum, x), x.sum(axis=-1))


def test_pairwise_plan_splits_as_numpy():
    """1030 values: halves of 512 (515 rounded down to a multiple of 8) and 518; 518 splits
    into 256 and 262, 262 into 128 and 134, 134 into 64 and 70."""
    blocks, adds = sm.pairwise_plan(1030)
    starts = [0, 128, 256, 384, 512, 640, 768, 896, 960]
    assert blocks.tolist() == [[s, 128] for s in starts[:7]] + [[896, 64], [960, 70]]
    # the additions in the recursion's order; values 9.. are their results, 16 the total
    assert adds.tolist() == [[0, 1], [2, 3], [9, 10], [4, 5], [7, 8], [6, 13], [12, 14],
                             [11, 15]]  # fmt: skip
    blocks, adds = sm.pairwise_plan(128)
    assert blocks.tolist() == [[0, 128]] and adds.shape == (0, 2)


@DTYPES
@pytest.mark.parametrize("n_cols", ROW_LENGTHS)
def test_softmax_kernels_give_the_references_bits(n_cols, dtype, build):
    _skip_parallel_float64(build, dtype)
    x, g = _row_values(n_cols, dtype), _row_values(n_cols, dtype, seed=1)
    y = _on("numpy", sm.softmax_numpy, x, -1)
    _assert_same_bits(_on("numba", sm.softmax, x, -1), y, "softmax")
    want = _on("numpy", sm.softmax_backward_numpy, g, y, -1)
    _assert_same_bits(_on("numba", sm.softmax_backward, g, y, -1), want, "softmax backward")
    log_y = np.log(y)
    want = _on("numpy", sm.log_softmax_backward_numpy, g, log_y, -1)
    _assert_same_bits(_on("numba", sm.log_softmax_backward, g, log_y, -1), want, "log_softmax")


@DTYPES
def test_softmax_kernels_on_edge_values(dtype, build):
    """Rows holding ±inf, NaN, huge logits and an all -inf row: the reference's NaN and
    zeros, row by row."""
    _skip_parallel_float64(build, dtype)
    x = _values((6, 17), dtype)
    x[5] = -np.inf
    x[4, :] = np.linspace(-3e4, 3e4, 17).astype(dtype)
    g = _values((6, 17), dtype, seed=1)
    y = _on("numpy", sm.softmax_numpy, x, 1)
    _assert_same_bits(_on("numba", sm.softmax, x, 1), y, "softmax")
    for fn, ref in [(sm.softmax_backward, sm.softmax_backward_numpy),
                    (sm.log_softmax_backward, sm.log_softmax_backward_numpy)]:  # fmt: skip
        _assert_same_bits(_on("numba", fn, g, y, -1), _on("numpy", ref, g, y, -1), fn.__name__)


@pytest.mark.parametrize("case", ["first axis", "middle axis", "fortran", "no rows", "float16"])
def test_softmax_off_the_last_axis_or_odd_arrays_gives_the_references_result(case):
    x = _row_values(12, np.float16 if case == "float16" else np.float64).reshape(3, 4, 3)
    dim = {"first axis": 0, "middle axis": 1}.get(case, -1)
    if case == "fortran":
        x = np.asfortranarray(x)
    if case == "no rows":
        x = x[:0]
    g = np.ones_like(x)
    for fn, ref, args in [
        (sm.softmax, sm.softmax_numpy, (x, dim)),
        (sm.softmax_backward, sm.softmax_backward_numpy, (g, x, dim)),
        (sm.log_softmax_backward, sm.log_softmax_backward_numpy, (g, x, dim)),
    ]:
        _assert_same_bits(_on("numba", fn, *args), _on("numpy", ref, *args), fn.__name__)


# -- dropout -------------------------------------------------------------------------------


def _dropout_as_before(x, p, seed):
    """Dropout as nnlab computed it before the kernels: the draws of the default generator
    after ``manual_seed(seed)``, compared with p, scaled, multiplied."""
    nnlab.manual_seed(seed)
    u = nnlab.random.default_generator.numpy.random(x.shape, dtype=np.float32)
    mask = (u >= p) * np.asarray(1.0 / (1.0 - p), dtype=x.dtype)
    with np.errstate(invalid="ignore"):  # inf · 0
        return x * mask


@DTYPES
@pytest.mark.parametrize("p", [0.1, 0.5, 0.7])
def test_seeded_dropout_gives_todays_masks_on_both_backends(p, dtype, build):
    x = _values((40, 33), dtype)
    want = _dropout_as_before(x, p, seed=3)
    for backend in ("numpy", "numba"):
        nnlab.manual_seed(3)
        with kernels.use_backend(backend), np.errstate(all="ignore"):
            got = F.dropout(nnlab.tensor(x), p=p).array
        _assert_same_bits(got, want, f"dropout p={p} on {backend}")


def test_dropout_kernel_compares_p_as_numpy_does():
    """p = 0.7 is 0.69999999 in float32: a draw equal to that is kept, as ``u >= 0.7``
    (float32 against a Python float) keeps it."""
    u = np.array([np.float32(0.7), np.nextafter(np.float32(0.7), 0)], np.float32)
    x = np.ones(2, np.float64)
    want = drop.dropout_numpy(x, u, 0.7)
    got = _on("numba", drop.dropout, x, u, 0.7)
    for a, b in zip(got, want):
        _assert_same_bits(a, b)
    assert want[1].tolist() == [1 / 0.30000000000000004, 0.0]
    # a NumPy float64 p is compared in float64 (NumPy 2's promotion), by the kernel too
    k = 9_000_000
    u = np.full(3, k * 2.0**-24, np.float32)
    p = np.float64((k + 0.4) * 2.0**-24)  # rounds down to u in float32, stays above it
    want = drop.dropout_numpy(x[:1].repeat(3), u, p)
    assert want[1].tolist() == [0.0] * 3
    for a, b in zip(_on("numba", drop.dropout, x[:1].repeat(3), u, p), want):
        _assert_same_bits(a, b)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_softmax_of_a_0d_tensor_is_one_with_a_zero_gradient(backend):
    with kernels.use_backend(backend):
        x = nnlab.tensor(1.5, requires_grad=True)
        y = F.softmax(x, dim=-1)
        y.backward()
        assert y.item() == 1.0 and x.grad.item() == 0.0
        assert F.log_softmax(nnlab.tensor(2.0), dim=0).item() == 0.0


def test_dropout_gradient_is_the_mask_on_both_backends():
    x = _values((8, 9), np.float32)
    x[~np.isfinite(x)] = 1.0
    grads = []
    for backend in ("numpy", "numba"):
        nnlab.manual_seed(5)
        t = nnlab.tensor(x, requires_grad=True)
        with kernels.use_backend(backend):
            F.dropout(t, p=0.4).sum().backward()
        grads.append(t.grad.array)
    _assert_same_bits(grads[1], grads[0])


# -- the ops on edge values, against torch ---------------------------------------------------


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize(
    "op",
    ["relu", "leaky_relu", "elu", "gelu", "tanh", "sigmoid", "silu", "softmax", "log_softmax"],
)
def test_ops_propagate_nan_and_inf_as_torch(op, backend):
    torch = pytest.importorskip("torch")
    x = _values((5, 12), np.float32)
    x[3] = -np.inf  # a row with nothing but -inf
    if op == "gelu":  # at +inf torch's GELU gives NaN, nnlab's its limit, +inf
        x[np.isinf(x)] = 0.0
    kwargs = {"dim": -1} if "softmax" in op else {}
    with kernels.use_backend(backend), np.errstate(all="ignore"):
        got = getattr(F, op)(nnlab.tensor(x), **kwargs).array
    want = getattr(torch.nn.functional, op)(torch.from_numpy(x), **kwargs).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=op)
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want), err_msg=op)
    # atol: values near 0 (GELU's float32 tail, where torch's 1 + erf cancels)
    np.testing.assert_allclose(got[finite], want[finite], rtol=2e-6, atol=1e-6, err_msg=op)
