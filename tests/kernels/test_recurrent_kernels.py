"""The LSTM and GRU gate kernels against their NumPy references.

Bound: **bit-identical**, float32 and float64 alike (NaN where the reference has NaN, and
the same sign on every zero): the kernels perform the reference's IEEE operations in its
order and dtype, and both call NumPy's ``tanh`` on the same views.

Each step function runs on one step in the middle of a packed layout (b = 3 of B = 5
rows, rows 7:10 of N = 23) on the serial and the parallel build (``prange``, forced onto
these small arrays), on random values spanning many magnitudes plus ±0, ±inf, NaN, huge
and tiny values; arrays a kernel cannot take (float16, Fortran-order) must run the
reference and give its result. The whole ops (LSTM with projection, GRU, packed and
bidirectional) must give the same bits under both backends; their agreement with torch
is tests/nn (run under both ``NNLAB_KERNELS`` values).
"""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
from nnlab import kernels
from nnlab.kernels import recurrent as rk
from nnlab.ops.recurrent import lstm_sequence
from nnlab.ops.recurrent_gru import gru_sequence

pytestmark = pytest.mark.skipif(not kernels.numba_available(), reason="numba is not installed")

DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
EDGES = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 1e-40, -1e-40, 88.0, -104.0, 1.0]
B, H, N, LO, HI = 5, 13, 23, 7, 10  # H = 13: the kernels' loops end in a partial vector


def _skip_parallel_float64(build, dtype):
    """The parallel builds are checked in float32 only: their arithmetic is the serial
    build's, and compiling eight kernels once more in float64 costs several seconds."""
    if build == "parallel" and dtype is np.float64:
        pytest.skip("parallel builds: float32 only (compile time)")


def _values(shape, dtype, seed):
    """Random signs and magnitudes over 1e-3..1e2 with the edge values mixed in."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 3, shape)
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, len(EDGES), replace=False)] = EDGES
    with np.errstate(over="ignore"):
        return x.astype(dtype)


def _gates(shape, dtype, seed):
    """Plausible gate values: tanh outputs in [-1, 1] and σ outputs in [0, 1], with edges."""
    x = _values(shape, dtype, seed)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(x), np.tanh(x), x).astype(dtype)


def _assert_same_bits(got, want, where=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, where
    np.testing.assert_array_equal(got, want, err_msg=where)
    both = ~np.isnan(want)
    np.testing.assert_array_equal(np.signbit(got[both]), np.signbit(want[both]), err_msg=where)


# Each case: (dispatcher, reference, args(dtype, variant), indices of the arrays to compare).
# Scratch arguments (the forward's tt, the LSTM backward's dm) are left out of the checks.


def _lstm_forward_args(dtype, variant):
    return [
        _values((4, N, H), dtype, 0),  # g: the input projections
        None if variant == "no bias" else _values((4, H), dtype, 6),  # bias
        _values((B, 4 * H), dtype, 1),  # tt: the step's GEMM
        _values((N, H), dtype, 2),  # cp
        _values((N, H), dtype, 3),  # c
        _values((N, H), dtype, 4),  # tc
        _values((N, H), dtype, 5),  # m
        LO,
        HI,
    ]


def _lstm_factors_args(dtype, variant):
    return [_gates((4, N, H), dtype, 0), _gates((N, H), dtype, 1), _values((N, H), dtype, 2)]


def _lstm_backward_args(dtype, variant):
    gy = _values((N, H), dtype, 0)
    if variant == "column block":  # as a bidirectional layer's gy
        gy = np.ascontiguousarray(np.concatenate([gy, gy[:, ::-1]], axis=1))[:, :H]
    return [
        None if variant == "projection" else gy,
        _values((B, H), dtype, 1),  # dh
        _values((B, H), dtype, 2),  # dm (read with the projection)
        _values((N, H), dtype, 3),  # k1
        _values((N, H), dtype, 4),  # k2
        _values((3, N, H), dtype, 5),  # k3
        _gates((N, H), dtype, 6),  # f
        _values((B, H), dtype, 7),  # dc
        _values((N, 4 * H), dtype, 8),  # dz
        LO,
        HI,
    ]


def _gru_forward_args(dtype, variant):
    no_bias = variant == "no bias"
    return [
        _values((N, 3 * H), dtype, 0),  # g
        None if no_bias else _values((3 * H,), dtype, 6),  # b_i
        None if no_bias else _values((2 * H,), dtype, 7),  # b_h
        _values((B, 3 * H), dtype, 1),  # tt
        _values((N, H), dtype, 2),  # a
        _values((N, H), dtype, 3),  # hp
        _values((N, H), dtype, 4),  # y
        None if no_bias else _values((H,), dtype, 5),  # b_hn
        LO,
        HI,
    ]


def _gru_factors_args(dtype, variant):
    return [_gates((N, 3 * H), dtype, 0), _values((N, H), dtype, 1), _values((N, H), dtype, 2)]


def _gru_backward_args(dtype, variant):
    gy = _values((N, H), dtype, 0)
    if variant == "column block":
        gy = np.ascontiguousarray(np.concatenate([gy, gy[:, ::-1]], axis=1))[:, :H]
    return [
        gy,
        _values((B, H), dtype, 1),  # dh
        _values((B, H), dtype, 2),  # d
        _values((B, H), dtype, 3),  # dz_gate
        _gates((N, 3 * H), dtype, 4),  # g
        _values((N, H), dtype, 5),  # kz
        _values((N, H), dtype, 6),  # kn
        _values((N, H), dtype, 7),  # kr
        _values((N, 3 * H), dtype, 8),  # dzi
        _values((N, 3 * H), dtype, 9),  # dzh
        LO,
        HI,
    ]


CASES = {
    "lstm_forward_step": (
        rk.lstm_forward_step, rk.lstm_forward_step_numpy, _lstm_forward_args, (0, 4, 5, 6),
    ),
    "lstm_factors": (rk.lstm_factors, rk.lstm_factors_numpy, _lstm_factors_args, ()),
    "lstm_backward_step": (
        rk.lstm_backward_step, rk.lstm_backward_step_numpy, _lstm_backward_args, (7, 8),
    ),
    "gru_forward_step": (
        rk.gru_forward_step, rk.gru_forward_step_numpy, _gru_forward_args, (0, 4, 6),
    ),
    "gru_factors": (rk.gru_factors, rk.gru_factors_numpy, _gru_factors_args, ()),
    "gru_backward_step": (
        rk.gru_backward_step, rk.gru_backward_step_numpy, _gru_backward_args, (2, 3, 8, 9),
    ),
}  # fmt: skip
VARIANTS = {
    "lstm_forward_step": ["plain", "no bias"],
    "lstm_backward_step": ["plain", "projection", "column block"],
    "gru_forward_step": ["plain", "no bias"],
    "gru_backward_step": ["plain", "column block"],
}
PARAMS = [(name, v) for name in CASES for v in VARIANTS.get(name, ["plain"])]


def _run(backend, name, dtype, variant):
    """(returned arrays, in-place outputs) of one case on fresh arguments."""
    dispatcher, reference, make_args, outputs = CASES[name]
    args = make_args(dtype, variant)
    fn = reference if backend == "numpy" else dispatcher
    with kernels.use_backend(backend), np.errstate(all="ignore"):
        result = fn(*args)
    returned = () if result is None else result if isinstance(result, tuple) else (result,)
    return [np.array(a) for a in returned], [args[i] for i in outputs]


def _assert_cases_agree(got, want, where):
    for group_got, group_want in zip(got, want):
        assert len(group_got) == len(group_want), where
        for i, (a, b) in enumerate(zip(group_got, group_want)):
            _assert_same_bits(a, b, f"{where} #{i}")


@DTYPES
@pytest.mark.parametrize("name,variant", PARAMS, ids=[f"{n}-{v}" for n, v in PARAMS])
def test_recurrent_kernels_give_the_references_bits(name, variant, dtype, build):
    _skip_parallel_float64(build, dtype)
    want = _run("numpy", name, dtype, variant)
    got = _run("numba", name, dtype, variant)
    _assert_cases_agree(got, want, f"{name} {variant} {build}")


def _no_kernels(monkeypatch):
    def refuse(*args):
        raise AssertionError("a kernel ran on arrays it cannot take")

    for attr in dir(rk):
        if attr.endswith("_numba"):
            monkeypatch.setattr(rk, attr, refuse)


@pytest.mark.parametrize("layout", ["float16", "fortran"])
@pytest.mark.parametrize("name", list(CASES))
def test_arrays_a_kernel_cannot_take_run_the_reference(name, layout, monkeypatch):
    dtype = np.float16 if layout == "float16" else np.float64
    want = _run("numpy", name, dtype, "plain")
    _, _, make_args, _ = CASES[name]
    original = make_args

    def fortran_args(dtype, variant):  # the last 2-d argument (an output) Fortran-ordered
        args = original(dtype, variant)
        k = max(i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.ndim == 2)
        args[k] = np.asfortranarray(args[k])
        return args

    if layout == "fortran":
        monkeypatch.setitem(CASES, name, CASES[name][:2] + (fortran_args,) + CASES[name][3:])
    _no_kernels(monkeypatch)
    _assert_cases_agree(_run("numba", name, dtype, "plain"), want, f"{name} {layout}")


def test_the_dispatchers_run_the_kernels_where_they_apply(monkeypatch):
    """The opposite check: on suitable arrays the numba backend does not take the
    references (a dispatcher that always fell back would pass the bit checks)."""

    def refuse(*args):
        raise AssertionError("the reference ran on arrays the kernels take")

    for name, (_, reference, _, _) in CASES.items():
        monkeypatch.setattr(rk, reference.__name__, refuse)
        for variant in VARIANTS.get(name, ["plain"]):
            _run("numba", name, np.float32, variant)


# -- the whole ops, both backends ----------------------------------------------------------


def _op_run(backend, kind, dtype, batch_sizes, reverse, proj):
    """Outputs and every gradient of one fused layer on fixed data."""
    rng = np.random.default_rng(0)
    gates, hidden, inputs = (4 if kind == "lstm" else 3), 6, 4
    h_out = 3 if proj else hidden
    rows = int(np.sum(batch_sizes))
    batch = int(batch_sizes[0])

    def param(*shape):
        return nnlab.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)

    x = param(rows, inputs)
    h0 = param(batch, h_out)
    w_ih, w_hh = param(gates * hidden, inputs), param(gates * hidden, h_out)
    b_ih, b_hh = param(gates * hidden), param(gates * hidden)
    leaves = [x, h0, w_ih, w_hh, b_ih, b_hh]
    with kernels.use_backend(backend):
        if kind == "lstm":
            c0 = param(batch, hidden)
            w_hr = param(h_out, hidden) if proj else None
            leaves += [c0] + ([w_hr] if proj else [])
            outs = lstm_sequence(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, batch_sizes, reverse)
        else:
            outs = gru_sequence(x, h0, w_ih, w_hh, b_ih, b_hh, batch_sizes, reverse)
        loss = sum((o * nnlab.tensor(rng.standard_normal(o.shape).astype(dtype))).sum()
                   for o in outs)  # fmt: skip
        loss.backward()
    return [o.detach().numpy() for o in outs] + [t.grad.numpy() for t in leaves]


@pytest.mark.parametrize(
    "kind,dtype,batch_sizes,reverse,proj",
    [
        ("lstm", np.float32, [4, 4, 4, 4, 4], False, False),
        ("lstm", np.float64, [4, 3, 3, 1], True, True),
        ("gru", np.float32, [4, 3, 3, 1], False, False),
        ("gru", np.float64, [4, 4, 4], True, False),
    ],
    ids=["lstm-full", "lstm-packed-reverse-proj-f64", "gru-packed", "gru-full-reverse-f64"],
)
def test_the_ops_give_the_same_bits_on_both_backends(kind, dtype, batch_sizes, reverse, proj):
    want = _op_run("numpy", kind, dtype, np.array(batch_sizes), reverse, proj)
    got = _op_run("numba", kind, dtype, np.array(batch_sizes), reverse, proj)
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want)):
        _assert_same_bits(a, b, f"{kind} output/gradient #{i}")
