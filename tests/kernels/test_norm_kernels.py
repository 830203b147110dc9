"""The normalization kernels (nnlab.kernels.normalization) against float64 references.

The kernels sum each row or channel in float64 in a fixed order other than NumPy's
(pairwise sums, BLAS dot products), so they are not bit-identical to the references. The
bound is the error against the truth, the NumPy reference run in float64 on the same
values: within 1e-14 of the largest value (relative) for float64 inputs, within 2e-6 for
float32 inputs (the references' own float32 error is of the same order). Bits are
demanded only where no order changes: a kernel's serial and parallel builds (every row's
or channel's sums are made by one thread), a resumed run against an uninterrupted one, and
arrays a kernel cannot take (they run the reference itself). The ops' agreement with torch
is tests/nn/modules/test_normalization.py and test_norm2d.py, run under both backends.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import nnlab
from nnlab import kernels, nn, optim
from nnlab.kernels import normalization as kn
from nnlab.kernels import runtime

pytestmark = pytest.mark.skipif(not kernels.numba_available(), reason="numba is not installed")

TOLERANCE = {np.float32: 2e-6, np.float64: 1e-14}
DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])


def _assert_close(got, truth, dtype, what):
    """Each array of ``got`` within TOLERANCE[dtype] × the largest |value| of ``truth`` (at
    least 1: a true 0, as dx of a group of one value, is then held to the tolerance)."""
    for name, a, t in zip(("first", "second", "third", "fourth", "fifth"), got, truth):
        if t is None:
            assert a is None, f"{what}: {name} output should be None"
            continue
        assert a.dtype == dtype and a.shape == t.shape, f"{what}: {name} output's dtype/shape"
        scale = max(float(np.abs(t).max()), 1.0)
        error = float(np.abs(a.astype(np.float64) - t).max()) / scale
        assert error <= TOLERANCE[dtype], f"{what}: {name} output off by {error:.2e} relative"


def _f64(*arrays):
    return [None if a is None else a.astype(np.float64) for a in arrays]


def _data(shape, channels, dtype, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 2 + offset).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal(channels).astype(dtype)
    b = rng.standard_normal(channels).astype(dtype)
    return x, g, w, b


AFFINE = pytest.mark.parametrize("affine", ["weight+bias", "none", "weight"])


def _affine(w, b, affine):
    return (w if "weight" in affine else None), (b if "bias" in affine else None)


@DTYPES
@AFFINE
@pytest.mark.parametrize("shape", [(13, 37), (3, 2, 8)], ids=["13x37", "3x2x8"])
def test_layer_norm_kernels_against_float64(shape, affine, dtype, build):
    d = shape[-1]
    x, g, w, b = _data(shape, d, dtype)
    w, b = _affine(w, b, affine)
    rows, g2 = x.reshape(-1, d), g.reshape(-1, d)
    truth = kn.layer_norm_forward_numpy(*_f64(rows, w, b), 1e-5, True)
    with kernels.use_backend("numba"):
        got = kn.layer_norm_forward(rows, w, b, 1e-5, True)
        _assert_close(got, truth, dtype, "layer_norm_forward")
        y, no_xhat, _ = kn.layer_norm_forward(rows, w, b, 1e-5, False)  # without a graph
        assert no_xhat is None
        np.testing.assert_array_equal(y, got[0], strict=True)
        grads = kn.layer_norm_backward(g2, got[1], got[2], w, True, w is not None, b is not None)
    truth_grads = kn.layer_norm_backward_numpy(
        *_f64(g2, truth[1], truth[2], w), True, w is not None, b is not None
    )
    _assert_close(grads, truth_grads, dtype, "layer_norm_backward")


@DTYPES
@AFFINE
@pytest.mark.parametrize("shape, groups", [((3, 6, 10), 3), ((2, 4, 1), 2), ((2, 8, 9), 1)])
def test_group_norm_kernels_against_float64(shape, groups, affine, dtype, build):
    x, g, w, b = _data(shape, shape[1], dtype, seed=1)
    w, b = _affine(w, b, affine)
    truth = kn.group_norm_forward_numpy(*_f64(x, w, b), groups, 1e-5)
    with kernels.use_backend("numba"):
        got = kn.group_norm_forward(x, w, b, groups, 1e-5)
        _assert_close(got, truth, dtype, "group_norm_forward")
        grads = kn.group_norm_backward(g, got[1], got[2], w, groups, True, True, True)
    truth_grads = kn.group_norm_backward_numpy(
        *_f64(g, truth[1], truth[2], w), groups, True, True, True
    )
    _assert_close(grads, truth_grads, dtype, "group_norm_backward")


def _channel_first(a: np.ndarray) -> np.ndarray:
    """a's values laid out as a convolution's output: memory ordered (C, N, *S)."""
    return np.ascontiguousarray(a.swapaxes(0, 1)).swapaxes(0, 1)


@DTYPES
@AFFINE
@pytest.mark.parametrize("layout", ["C", "channel-first"])
@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
@pytest.mark.parametrize("shape", [(4, 5, 3, 3), (1, 3, 11), (6, 2, 2, 3, 2)])
def test_batch_norm_kernels_against_float64(shape, training, layout, affine, dtype, build):
    """Includes a batch of one sample (torch refuses training on (1, C) only, where every
    channel has a single value; nnlab too, see test_normalization.py), and a convolution's
    channel-first layout, whose outputs keep it."""
    c = shape[1]
    x, g, w, b = _data(shape, c, dtype, seed=2)
    if layout == "channel-first":
        x, g = _channel_first(x), _channel_first(g)
    w, b = _affine(w, b, affine)
    rng = np.random.default_rng(3)
    mean = None if training else rng.standard_normal(c).astype(dtype)
    var = None if training else (0.5 + rng.random(c)).astype(dtype)
    truth = kn.batch_norm_forward_numpy(*_f64(x, w, b, mean, var), 1e-5)
    with kernels.use_backend("numba"):
        got = kn.batch_norm_forward(x, w, b, mean, var, 1e-5)
        _assert_close(got, truth, dtype, "batch_norm_forward")
        assert got[0].strides == got[1].strides == np.empty_like(x).strides
        grads = kn.batch_norm_backward(g, got[1], got[2], w, training, True, True, True)
    truth_grads = kn.batch_norm_backward_numpy(
        *_f64(g, truth[1], truth[2], w), training, True, True, True
    )
    _assert_close(grads, truth_grads, dtype, "batch_norm_backward")


@pytest.mark.parametrize("op", ["layer", "group", "batch"])
def test_constant_rows_give_zero_variance_and_eps(op):
    """Constant rows/channels: σ² = 0, so x̂ = 0, y = β, 1/√(σ² + ε) = 1/√ε, and the
    gradients stay finite."""
    x = np.full((4, 6, 5), 3.25, np.float32)
    g = np.random.default_rng(4).standard_normal(x.shape).astype(np.float32)
    w, b = np.full(6, 2.0, np.float32), np.arange(6, dtype=np.float32)
    with kernels.use_backend("numba"):
        if op == "layer":
            rows = x.reshape(-1, 30)
            y, xhat, invstd = kn.layer_norm_forward(rows, None, None, 1e-5, True)
            grads = kn.layer_norm_backward(g.reshape(-1, 30), xhat, invstd, None, True, 1, 1)
            expected_y = 0.0
        elif op == "group":
            y, xhat, invstd = kn.group_norm_forward(x, w, b, 3, 1e-5)
            grads = kn.group_norm_backward(g, xhat, invstd, w, 3, True, True, True)
            expected_y = np.broadcast_to(b[None, :, None], x.shape)
        else:
            y, xhat, invstd, mean, var = kn.batch_norm_forward(x, w, b, None, None, 1e-5)
            grads = kn.batch_norm_backward(g, xhat, invstd, w, True, True, True, True)
            expected_y = np.broadcast_to(b[None, :, None], x.shape)
            np.testing.assert_array_equal(mean, 3.25)
            np.testing.assert_array_equal(var, 0.0)
    np.testing.assert_array_equal(xhat, 0.0)
    np.testing.assert_array_equal(y.reshape(x.shape), expected_y)
    np.testing.assert_allclose(invstd, 1 / np.sqrt(np.float32(1e-5)), rtol=1e-6)
    assert all(np.all(np.isfinite(a)) for a in grads)


@pytest.mark.parametrize("op", ["layer", "group", "batch"])
def test_a_large_offset_loses_nothing_in_float32(op):
    """x + 1e4 in float32 (unit spread): two-pass statistics with μ split into two float32
    parts keep x̂ within 1e-5 of the float64 truth for the same float32 values (the naive
    E[x²] - E[x]² would lose everything, a float32 μ alone about 5e-4)."""
    x, *_ = _data((8, 4, 64), 4, np.float32, seed=5, offset=1e4)
    with kernels.use_backend("numba"):
        if op == "layer":
            xhat = kn.layer_norm_forward(x.reshape(-1, 64), None, None, 1e-5, True)[1]
            rows = x.reshape(-1, 64).astype(np.float64)
            truth = kn.layer_norm_forward_numpy(rows, None, None, 1e-5, True)[1]
        elif op == "group":
            xhat = kn.group_norm_forward(x, None, None, 2, 1e-5)[1]
            x64 = x.astype(np.float64)
            truth = kn.group_norm_forward_numpy(x64, None, None, 2, 1e-5)[1]
        else:
            xhat = kn.batch_norm_forward(x, None, None, None, None, 1e-5)[1]
            x64 = x.astype(np.float64)
            truth = kn.batch_norm_forward_numpy(x64, None, None, None, None, 1e-5)[1]
    assert np.abs(xhat - truth).max() < 1e-5


def test_arrays_a_kernel_cannot_take_run_the_reference():
    """Non-contiguous (strided; channels first for group norm), mixed-dtype or float16
    arrays, and (N, C) batch norm, give exactly the reference's result under the numba
    backend."""
    rng = np.random.default_rng(6)
    base = rng.standard_normal((4, 6, 10))
    strided = base[:, :, ::2]  # not contiguous
    channels_first = _channel_first(base)
    g_broadcast = np.broadcast_to(rng.standard_normal(5), strided.shape)
    w, b10 = rng.standard_normal(6), rng.standard_normal(10)
    cases = [
        (kn.batch_norm_forward, kn.batch_norm_forward_numpy, (strided, w, None, None, None, 1e-5)),
        (kn.group_norm_forward, kn.group_norm_forward_numpy, (strided, w, w, 2, 1e-5)),
        (kn.group_norm_forward, kn.group_norm_forward_numpy, (channels_first, w, w, 3, 1e-5)),
        (kn.layer_norm_forward, kn.layer_norm_forward_numpy,
         (base[0].astype(np.float16), None, None, 1e-5, True)),
        (kn.layer_norm_forward, kn.layer_norm_forward_numpy,
         (base[0], w.astype(np.float32)[:5].repeat(2), None, 1e-5, True)),
        (kn.batch_norm_forward, kn.batch_norm_forward_numpy, (base[0], None, b10, None, None, 0.1)),
    ]  # fmt: skip
    _, xhat, invstd = kn.layer_norm_forward_numpy(strided[0], None, None, 1e-5, True)
    cases.append(
        (kn.layer_norm_backward, kn.layer_norm_backward_numpy,
         (g_broadcast[0], xhat, invstd, None, True, True, True))
    )  # fmt: skip
    for kernel_path, reference, args in cases:
        with kernels.use_backend("numba"):
            got = kernel_path(*args)
        for a, want in zip(got, reference(*args)):
            np.testing.assert_array_equal(a, want, strict=True)


def _results(op, dtype):
    """Forward and backward outputs of one op's kernels on fixed data (big enough for
    several rows or channels per thread)."""
    x, g, w, b = _data((6, 8, 20), 8, dtype, seed=7)
    if op == "layer":
        y, xhat, invstd = kn.layer_norm_forward(x.reshape(-1, 20), None, None, 1e-5, True)
        return (y, *kn.layer_norm_backward(g.reshape(-1, 20), xhat, invstd, None, 1, 1, 1))
    if op == "group":
        y, xhat, invstd = kn.group_norm_forward(x, w, b, 4, 1e-5)
        return (y, *kn.group_norm_backward(g, xhat, invstd, w, 4, True, True, True))
    y, xhat, invstd, mean, var = kn.batch_norm_forward(x, w, b, None, None, 1e-5)
    return (y, mean, var, *kn.batch_norm_backward(g, xhat, invstd, w, True, True, True, True))


@pytest.mark.parametrize("op", ["layer", "group", "batch"])
def test_results_do_not_depend_on_the_number_of_threads(op, monkeypatch):
    if runtime.load_numba().config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba's pool has one thread")
    with kernels.use_backend("numba"):
        serial = _results(op, np.float32)
        monkeypatch.setattr(runtime, "PARALLEL_MIN_SIZE", 0)
        monkeypatch.setattr(runtime, "_num_threads", 2)
        parallel = _results(op, np.float32)
    for a, b in zip(parallel, serial):
        np.testing.assert_array_equal(a, b, strict=True)


def _model():
    nnlab.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.GroupNorm(2, 4),
        nn.Flatten(),
        nn.LayerNorm(4 * 5 * 5),
        nn.Linear(4 * 5 * 5, 3),
    )


def _train(model, opt, batches):
    for x, y in batches:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(nnlab.tensor(x)), nnlab.tensor(y))
        loss.backward()
        opt.step()
    return [p.array.copy() for p in model.parameters()] + [b.array.copy() for b in model.buffers()]


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_resume_from_a_checkpoint_is_bit_exact(backend):
    """Four training steps through all three norms (running statistics included) against
    two steps, a checkpoint, a fresh model and optimizer loading it, and two more."""
    rng = np.random.default_rng(8)
    batches = [
        (rng.standard_normal((5, 2, 5, 5)).astype(np.float32), rng.integers(0, 3, 5))
        for _ in range(4)
    ]
    with kernels.use_backend(backend):
        model = _model()
        whole = _train(model, optim.Adam(model.parameters(), lr=0.01), batches)
        model = _model()
        opt = optim.Adam(model.parameters(), lr=0.01)
        _train(model, opt, batches[:2])
        saved = copy.deepcopy((model.state_dict(), opt.state_dict()))
        model = _model()
        opt = optim.Adam(model.parameters(), lr=0.01)
        model.load_state_dict(saved[0])
        opt.load_state_dict(saved[1])
        resumed = _train(model, opt, batches[2:])
    for a, b in zip(resumed, whole):
        np.testing.assert_array_equal(a, b, strict=True)
