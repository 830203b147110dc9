"""Every op of ``op_db`` (the losses of ``loss_db`` included) against PyTorch: values, dtypes
and every input gradient in float32 and float64, plus the bad inputs both must reject. The
few behaviours torch cannot be compared on (which tied index ``max(dim)`` returns, dropout's
random mask) are checked here against their definitions instead."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from loss_db import LOSSES_BY_NAME
from op_db import OPS, OPS_BY_NAME
from parity import (
    DTYPES,
    TOLERANCES,
    Sample,
    assert_close,
    check_parity,
    check_raises_like_torch,
    make_inputs,
    rng_for,
)

import nnlab
import nnlab.nn.functional as F

# Ops the issue lists; each must have an entry (one entry may stand for an operator).
REQUIRED = {
    "add", "sub", "mul", "div", "pow", "neg", "matmul", "exp", "log", "log1p", "sqrt", "abs",
    "sin", "cos", "tanh", "sigmoid", "relu", "leaky_relu", "elu", "gelu", "silu", "softplus",
    "softmax", "log_softmax", "sum", "mean", "max", "min", "prod", "var", "std", "logsumexp",
    "amax", "amin", "max.dim", "min.dim", "argmax", "argmin", "lt", "le", "gt", "ge", "eq",
    "ne", "where", "clamp", "clip", "reshape", "view", "flatten", "squeeze", "unsqueeze",
    "transpose", "permute", "expand", "getitem", "cat", "stack", "split", "chunk", "pad",
    "gather", "scatter_add", "one_hot", "index_select", "masked_fill", "dropout", "erf",
}  # fmt: skip


# NumPy warnings (log(0), 0/0) must never leak out of a loss.
_NO_NUMPY_WARNINGS = pytest.mark.filterwarnings("error::RuntimeWarning")


def _cases() -> list[object]:
    params = []
    for op in OPS:
        marks = [_NO_NUMPY_WARNINGS] if op.name in LOSSES_BY_NAME else []
        for sample in op.samples(rng_for(op.name)):
            if not sample.torch:
                continue
            for dtype in DTYPES:
                params.append(
                    pytest.param(
                        op, sample, dtype, id=f"{op.name}-{sample.name}-{dtype}", marks=marks
                    )
                )
    return params


def _error_cases() -> list[object]:
    return [
        pytest.param(op, case, id=f"{op.name}-{case.name}")
        for op in OPS
        for case in op.error_cases()
    ]


@pytest.mark.parametrize(("op", "sample", "dtype"), _cases())
def test_matches_torch(op, sample, dtype):
    check_parity(op, sample, dtype)


@pytest.mark.parametrize(("op", "case"), _error_cases())
def test_rejects_what_torch_rejects(op, case):
    check_raises_like_torch(op, case)


def test_every_listed_op_has_an_entry():
    assert REQUIRED <= set(OPS_BY_NAME), sorted(REQUIRED - set(OPS_BY_NAME))


def test_every_entry_has_named_edge_cases():
    for op in OPS:
        names = [s.name for s in op.samples(rng_for(op.name))]
        assert len(names) == len(set(names)), f"{op.name}: duplicate case names"
        assert len(names) >= 2, f"{op.name}: needs several cases"


# -- the harness itself ----------------------------------------------------------------------


def test_failure_message_names_the_worst_element():
    expected = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    actual = expected.copy()
    actual[1, 0] = 3.5
    actual[0, 1] = 2.0001
    with pytest.raises(AssertionError) as info:
        assert_close(actual, expected, TOLERANCES[np.dtype(np.float32)], "op 'x', case 'y'")
    message = str(info.value)
    assert "op 'x', case 'y'" in message and "2 of 4 elements differ" in message
    assert "index (1, 0): nnlab 3.5, torch 3.0" in message


def test_views_reach_both_libraries_non_contiguous():
    """A transposed or strided sample must not be copied on its way to the op."""
    op = OPS_BY_NAME["exp"]
    views = [s for s in op.samples(rng_for(op.name)) if s.name in ("transposed", "strided")]
    assert len(views) == 2
    for sample in views:
        (x,) = make_inputs(sample, "nnlab", np.float32).args
        (t,) = make_inputs(sample, "torch", np.float32).args
        assert not x.array.flags.c_contiguous and not t.is_contiguous()
        assert x.array.strides == tuple(s * x.array.itemsize for s in t.stride())


# -- max/min along a dim with ties ---------------------------------------------------------


@pytest.mark.parametrize("name", ["max.dim", "min.dim"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_tied_extremes_gradient_follows_returned_index(name, dtype):
    """torch leaves unspecified which tied index ``max(x, dim)`` returns; whatever nnlab
    returns must hold an extreme value, and the gradient must flow to exactly that index."""
    op = OPS_BY_NAME[name]
    tied = [s for s in op.samples(rng_for(op.name)) if s.name.startswith("ties")]
    assert tied
    for sample in tied:
        inputs = make_inputs(sample, "nnlab", dtype)
        (x,) = inputs.leaves
        dim, keepdim = sample.kwargs["dim"], sample.kwargs.get("keepdim", False)
        values, indices = op.nnlab(*inputs.args, **inputs.kwargs)
        assert indices.dtype == np.int64
        expected = (x.array.max if name == "max.dim" else x.array.min)(axis=dim, keepdims=keepdim)
        np.testing.assert_array_equal(values.array, expected)
        idx = indices.array if keepdim else np.expand_dims(indices.array, dim)
        picked = np.take_along_axis(x.array, idx, axis=dim)
        np.testing.assert_array_equal(
            picked, expected if keepdim else np.expand_dims(expected, dim)
        )
        g = rng_for(name, sample.name).standard_normal(values.shape).astype(dtype)
        (grad,) = nnlab.autograd.grad(values, [x], g)
        want = np.zeros(x.shape, dtype=dtype)
        np.put_along_axis(want, idx, g if keepdim else np.expand_dims(g, dim), axis=dim)
        np.testing.assert_array_equal(grad.array, want)


# -- undefined results: NaN where torch gives NaN ---------------------------------------------


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_variance_of_one_element_is_nan_like_torch(name, dtype):
    """With Bessel's correction a single element has no variance: NaN, and a NaN gradient
    (not a ZeroDivisionError in backward). Both libraries warn; that is not under test."""
    op = OPS_BY_NAME[name]
    sample = Sample("one_element_slices", (rng_for(name).standard_normal((1, 4)),), {"dim": 0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_parity(op, sample, dtype)


# -- dropout: statistics instead of torch's mask ----------------------------------------------


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_dropout_training_statistics(p, dtype):
    """Each element is zeroed with probability p and kept ones are scaled by 1/(1-p); the
    gradient is the same mask, mask/(1-p)."""
    n = 200_000
    x = nnlab.Tensor(np.full(n, 2.0, dtype=dtype), requires_grad=True)
    y = F.dropout(x, p, training=True, generator=nnlab.Generator(123))
    assert y.dtype == dtype and y.shape == x.shape
    kept = y.array != 0
    # Binomial(n, p) has standard deviation sqrt(n p (1-p)) ≤ 224 here; allow 5 of them.
    assert abs((~kept).mean() - p) < 5 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y.array[kept], 2.0 / (1 - p), rtol=1e-6)
    g = np.random.default_rng(0).standard_normal(n).astype(dtype)
    (grad,) = nnlab.autograd.grad(y, [x], g)
    mask = kept / np.asarray(1 - p, dtype=dtype)
    np.testing.assert_allclose(grad.array, g * mask, rtol=1e-6)
    # the mean is preserved in expectation
    assert abs(float(y.array.mean()) - 2.0) < 0.05


def test_dropout_seeded_generator_is_reproducible():
    x = nnlab.randn(50, 40)
    a = F.dropout(x, 0.5, generator=nnlab.Generator(3))
    b = F.dropout(x, 0.5, generator=nnlab.Generator(3))
    c = F.dropout(x, 0.5, generator=nnlab.Generator(4))
    np.testing.assert_array_equal(a.array, b.array)
    assert not np.array_equal(a.array, c.array)


def test_dropout_defaults_match_torch():
    """F.dropout(x) is training-mode dropout with p = 0.5 in both libraries."""
    x = np.ones(100_000, dtype=np.float32)
    ours = F.dropout(nnlab.Tensor(x)).array
    theirs = torch.nn.functional.dropout(torch.from_numpy(x)).numpy()
    assert set(np.unique(ours)) == set(np.unique(theirs)) == {0.0, 2.0}
    assert abs((ours == 0).mean() - 0.5) < 0.01


# -- no torch inside nnlab -------------------------------------------------------------------


def test_nnlab_never_imports_torch():
    code = "import sys, nnlab, nnlab.nn.functional; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
