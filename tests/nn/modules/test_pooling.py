"""Pooling layers and F.*pool* vs PyTorch: values, indices, input gradients, gradcheck, errors.

Convention: each :class:`PoolCase` names a layer class (the same name in ``nnlab.nn`` and
``torch.nn``), its constructor arguments and the input shapes it runs on (a shape one dim
short is an unbatched sample). Both layers run on the same seeded input in float32 and
float64; the output, the indices (exactly, when ``return_indices``) and the gradient of the
input for a random upstream gradient must agree. Adding a configuration means adding a row.

Inputs: ``"normal"`` draws N(0, 1) values (ties have probability 0); ``"ties"`` draws small
integers so that most max-pooling windows hold their maximum several times — torch picks
(and sends the gradient to) the FIRST maximum in row-major order, and so must nnlab;
``"transposed"`` passes a non-contiguous view.

Tolerances: ``parity.TOLERANCES`` as they are (max pooling is exact; an average sums at
most 27 terms, well within float32's 1e-5 relative).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from parity import TOLERANCES, assert_close, rng_for

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.autograd.gradcheck import gradcheck
from nnlab.ops.pooling import pool_output_size

T = torch.nn
TF = torch.nn.functional
DTYPES = (np.float32, np.float64)


def make_input(kind: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if kind == "ties":
        return rng.integers(-2, 3, size=shape).astype(np.float64)
    if kind == "transposed":
        return rng.standard_normal(shape[:-2] + shape[:-3:-1]).swapaxes(-1, -2)
    return rng.standard_normal(shape)


def run_both(ours: Any, theirs: Any, x: np.ndarray, dtype: Any, label: str,
             rng: np.random.Generator, grad: bool = True) -> None:  # fmt: skip
    """Forward both on x (cast to dtype, same strides), compare outputs and indices, then
    backpropagate the same random gradient of the first output and compare dL/dx."""
    xa = x.astype(dtype)  # astype keeps the strides of a transposed view
    xn = nnlab.Tensor(xa, requires_grad=grad)
    xt = torch.from_numpy(xa).requires_grad_(grad)
    out_n, out_t = ours(xn), theirs(xt)
    if isinstance(out_t, tuple):
        assert isinstance(out_n, tuple), f"{label}: nnlab returned no indices"
        assert_close(out_n[1].array, out_t[1].numpy(), None, f"{label}: indices")
        out_n, out_t = out_n[0], out_t[0]
    expected = out_t.detach().numpy()
    assert_close(out_n.array, expected, TOLERANCES[np.dtype(dtype)], f"{label}: output")
    if not grad:
        return
    g = rng.standard_normal(expected.shape).astype(dtype)
    out_n.backward(g)
    out_t.backward(torch.from_numpy(g))
    e = xt.grad.numpy()
    assert_close(xn.grad.array, e, TOLERANCES[np.dtype(dtype)], f"{label}: gradient of the input")


@dataclass
class PoolCase:
    name: str
    cls: str
    args: tuple[Any, ...]
    shapes: list[tuple[int, ...]]
    kwargs: dict[str, Any] = field(default_factory=dict)
    input: str = "normal"


P = PoolCase
CASES = [
    # max pooling, 1-D
    P("max1d", "MaxPool1d", (2,), [(2, 3, 8), (1, 2, 7), (3, 9)]),
    P("max1d-overlap-pad", "MaxPool1d", (3,), [(2, 3, 10)], dict(stride=1, padding=1)),
    P("max1d-dilation-ceil", "MaxPool1d", (3,), [(2, 2, 12), (2, 2, 11)],
      dict(stride=2, dilation=2, ceil_mode=True, return_indices=True)),
    P("max1d-ties", "MaxPool1d", (3,), [(2, 3, 11)], dict(stride=2, return_indices=True),
      "ties"),
    # max pooling, 2-D
    P("max2d", "MaxPool2d", (2,), [(2, 3, 8, 8), (1, 2, 7, 9), (3, 6, 5)]),
    P("max2d-lenet", "MaxPool2d", (2,), [(2, 6, 28, 28)], dict(return_indices=True)),
    P("max2d-overlap", "MaxPool2d", (3,), [(2, 3, 9, 8)], dict(stride=1)),
    P("max2d-overlap-s2", "MaxPool2d", (3,), [(2, 2, 9, 10)], dict(stride=2)),
    P("max2d-pad-ceil", "MaxPool2d", (3,), [(2, 2, 8, 7), (1, 1, 6, 6)],
      dict(stride=2, padding=1, ceil_mode=True, return_indices=True)),
    P("max2d-pad-floor", "MaxPool2d", (3,), [(2, 2, 8, 7)],
      dict(stride=2, padding=1, ceil_mode=False, return_indices=True)),
    P("max2d-rect-dilation", "MaxPool2d", ((3, 2),), [(2, 2, 11, 9)],
      dict(stride=(2, 1), padding=(1, 0), dilation=(2, 3), return_indices=True)),
    P("max2d-ceil-odd", "MaxPool2d", (2,), [(2, 3, 7, 5), (1, 1, 3, 3)],
      dict(ceil_mode=True, return_indices=True)),
    P("max2d-ties", "MaxPool2d", (2,), [(2, 3, 6, 6)], dict(return_indices=True), "ties"),
    P("max2d-ties-overlap", "MaxPool2d", (3,), [(2, 2, 7, 7)],
      dict(stride=1, padding=1, return_indices=True), "ties"),
    P("max2d-transposed", "MaxPool2d", (2,), [(2, 3, 6, 8)], dict(stride=1), "transposed"),
    # max pooling, 3-D
    P("max3d", "MaxPool3d", (2,), [(2, 2, 4, 6, 5), (2, 4, 4, 4)]),
    P("max3d-pad-ceil", "MaxPool3d", (3,), [(1, 2, 5, 6, 7)],
      dict(stride=2, padding=1, ceil_mode=True, return_indices=True)),
    P("max3d-ties-dilation", "MaxPool3d", (2,), [(2, 2, 5, 5, 6)],
      dict(stride=1, dilation=(1, 2, 1), return_indices=True), "ties"),
    # average pooling
    P("avg1d", "AvgPool1d", (3,), [(2, 3, 10), (3, 7)]),
    P("avg1d-pad-exclude-ceil", "AvgPool1d", (3,), [(2, 2, 10)],
      dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    P("avg1d-pad-include-ceil", "AvgPool1d", (3,), [(2, 2, 10)],
      dict(stride=2, padding=1, ceil_mode=True)),
    P("avg2d", "AvgPool2d", (2,), [(2, 3, 8, 8), (1, 2, 7, 9), (3, 6, 5)]),
    P("avg2d-overlap", "AvgPool2d", (3,), [(2, 3, 9, 8)], dict(stride=1)),
    P("avg2d-pad-include", "AvgPool2d", (3,), [(2, 2, 8, 7)], dict(stride=2, padding=1)),
    P("avg2d-pad-exclude", "AvgPool2d", (3,), [(2, 2, 8, 7)],
      dict(stride=2, padding=1, count_include_pad=False)),
    P("avg2d-ceil-include", "AvgPool2d", ((3, 2),), [(2, 2, 8, 7)],
      dict(stride=2, padding=1, ceil_mode=True)),
    P("avg2d-ceil-exclude", "AvgPool2d", ((3, 2),), [(2, 2, 8, 7)],
      dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    P("avg2d-divisor", "AvgPool2d", (3,), [(2, 2, 7, 8)],
      dict(stride=2, padding=1, divisor_override=5)),
    P("avg2d-transposed", "AvgPool2d", (2,), [(2, 3, 6, 8)], dict(stride=1), "transposed"),
    P("avg3d", "AvgPool3d", (2,), [(2, 2, 4, 6, 5), (2, 4, 4, 4)]),
    P("avg3d-pad-ceil-exclude", "AvgPool3d", (3,), [(1, 2, 5, 6, 7)],
      dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    P("avg3d-divisor", "AvgPool3d", ((2, 3, 2),), [(1, 2, 5, 6, 7)],
      dict(stride=(1, 2, 3), padding=1, divisor_override=7)),
    # adaptive pooling: sizes that divide the input, that do not, and larger outputs
    P("adaptive-avg1d", "AdaptiveAvgPool1d", (3,), [(2, 3, 7), (2, 3, 9), (3, 2)]),
    P("adaptive-avg1d-5of7", "AdaptiveAvgPool1d", (5,), [(2, 3, 7)]),
    P("adaptive-avg2d", "AdaptiveAvgPool2d", ((3, 4),), [(2, 3, 7, 9), (1, 2, 6, 8), (2, 5, 5)]),
    P("adaptive-avg2d-none", "AdaptiveAvgPool2d", ((None, 2),), [(2, 3, 5, 7)]),
    P("adaptive-avg2d-global", "AdaptiveAvgPool2d", (1,), [(2, 3, 5, 7)]),
    P("adaptive-avg2d-grow", "AdaptiveAvgPool2d", (6,), [(2, 2, 4, 5)]),
    P("adaptive-avg3d", "AdaptiveAvgPool3d", ((2, 3, 4),), [(2, 2, 5, 7, 6)]),
    P("adaptive-max1d", "AdaptiveMaxPool1d", (3,), [(2, 3, 7)], dict(return_indices=True)),
    P("adaptive-max2d", "AdaptiveMaxPool2d", ((3, 4),), [(2, 3, 7, 9), (2, 5, 5)],
      dict(return_indices=True)),
    P("adaptive-max2d-ties", "AdaptiveMaxPool2d", ((3, 2),), [(2, 3, 7, 5)],
      dict(return_indices=True), "ties"),
    P("adaptive-max2d-grow", "AdaptiveMaxPool2d", ((5, None),), [(2, 2, 3, 4)]),
    P("adaptive-max3d", "AdaptiveMaxPool3d", ((2, 3, 2),), [(2, 2, 5, 7, 3)],
      dict(return_indices=True), "ties"),
]  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_pool_layer_matches_torch(case: PoolCase, dtype: Any) -> None:
    ours = getattr(nn, case.cls)(*case.args, **case.kwargs)
    theirs = getattr(T, case.cls)(*case.args, **case.kwargs)
    assert repr(ours) == repr(theirs)
    rng = rng_for("pool", case.name, np.dtype(dtype).name)
    for shape in case.shapes:
        x = make_input(case.input, shape, rng)
        run_both(ours, theirs, x, dtype, f"{case.name} {shape} {np.dtype(dtype)}", rng)


FUNCTIONAL = [
    ("max_pool1d", (3,), dict(stride=2, padding=1, ceil_mode=True, return_indices=True),
     (2, 3, 10)),
    ("max_pool2d", ((2, 3),), dict(stride=(1, 2), dilation=(2, 1), return_indices=True),
     (2, 2, 7, 9)),
    ("max_pool3d", (2,), dict(ceil_mode=True, return_indices=True), (1, 2, 3, 5, 4)),
    ("avg_pool1d", (4,), dict(stride=3, padding=2, count_include_pad=False), (2, 3, 11)),
    ("avg_pool2d", (3,), dict(padding=1, ceil_mode=True, divisor_override=4), (2, 2, 7, 5)),
    ("avg_pool3d", ((2, 2, 3),), dict(stride=2), (1, 2, 5, 5, 7)),
    ("adaptive_avg_pool1d", (4,), {}, (2, 3, 11)),
    ("adaptive_avg_pool2d", ((2, 5),), {}, (2, 3, 7, 6)),
    ("adaptive_avg_pool3d", ((1, 2, 3),), {}, (1, 2, 4, 5, 7)),
    ("adaptive_max_pool1d", (4,), dict(return_indices=True), (2, 3, 11)),
    ("adaptive_max_pool2d", ((2, 5),), dict(return_indices=True), (2, 3, 7, 6)),
    ("adaptive_max_pool3d", ((1, 2, 3),), dict(return_indices=True), (1, 2, 4, 5, 7)),
]  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name, args, kwargs, shape", FUNCTIONAL, ids=[f[0] for f in FUNCTIONAL])
def test_functional_matches_torch(name, args, kwargs, shape, dtype) -> None:
    rng = rng_for("functional", name)
    ours = lambda x: getattr(F, name)(x, *args, **kwargs)  # noqa: E731
    theirs = lambda x: getattr(TF, name)(x, *args, **kwargs)  # noqa: E731
    run_both(ours, theirs, rng.standard_normal(shape), dtype, f"F.{name}", rng)


@st.composite
def window_configs(draw: Any) -> tuple[Any, ...]:
    """A random 1-D or 2-D pooling configuration that torch accepts."""
    n = draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(n))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(n))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(n))
    ceil_mode = draw(st.booleans())
    span = [d * (k - 1) + 1 - 2 * p for k, d, p in zip(kernel, dilation, padding)]
    size = tuple(draw(st.integers(max(s, 1), max(s, 1) + 6)) for s in span)
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + size
    # torch sends the gradient of a window made only of padding (dilation can do that) to
    # an index past its channel, i.e. into the next channel; such windows are tested apart.
    for L, k, s, p, d in zip(size, kernel, stride, padding, dilation):
        out = pool_output_size(L, k, s, p, d, ceil_mode)
        reads = np.arange(out)[:, None] * s - p + np.arange(k) * d
        assume((((reads >= 0) & (reads < L)).any(axis=1)).all())
    kind = draw(st.sampled_from(["max", "avg"]))
    kwargs = dict(stride=stride, padding=padding, ceil_mode=ceil_mode)
    if kind == "max":
        kwargs.update(dilation=dilation, return_indices=True)
    else:
        kwargs.update(count_include_pad=draw(st.booleans()))
    return f"{kind}_pool{n}d", kernel, kwargs, shape, draw(st.booleans())


@settings(max_examples=60, deadline=None)
@given(window_configs())
def test_random_window_configurations_match_torch(config) -> None:
    """Any valid kernel, stride, padding, dilation and ceil_mode, with or without ties."""
    name, kernel, kwargs, shape, ties = config
    rng = rng_for("random", name, str(kernel), str(shape))
    ours = lambda x: getattr(F, name)(x, kernel, **kwargs)  # noqa: E731
    theirs = lambda x: getattr(TF, name)(x, kernel, **kwargs)  # noqa: E731
    x = make_input("ties" if ties else "normal", shape, rng)
    run_both(ours, theirs, x, np.float64, f"{name} {kernel} {kwargs} {shape}", rng)


def test_ties_go_to_the_first_maximum_like_torch() -> None:
    """A window full of equal values: torch (and nnlab) pick its first element, in
    row-major order, for the index and the whole gradient."""
    x = np.array([[[[1.0, 1.0, 0.0], [1.0, 1.0, 2.0], [0.0, 2.0, 2.0]]]])
    xn = nnlab.tensor(x, requires_grad=True)
    y, idx = F.max_pool2d(xn, 2, stride=1, return_indices=True)
    y.sum().backward()
    np.testing.assert_array_equal(idx.array, [[[[0, 5], [7, 5]]]])  # first in row-major order
    np.testing.assert_array_equal(xn.grad.array, [[[[1, 0, 0], [0, 0, 2], [0, 1, 0]]]])
    xt = torch.tensor(x, requires_grad=True)
    yt, it = TF.max_pool2d(xt, 2, stride=1, return_indices=True)
    yt.sum().backward()
    np.testing.assert_array_equal(it.numpy(), idx.array)
    np.testing.assert_array_equal(xt.grad.numpy(), xn.grad.array)


@pytest.mark.parametrize(
    "op, x, kwargs",
    [
        ("max_pool1d", [[[-np.inf, -np.inf, 1.0]]], dict(kernel_size=3, stride=1, padding=1)),
        ("max_pool2d", np.full((1, 1, 3, 4), -np.inf),
         dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
        ("max_pool2d", np.full((1, 1, 5, 4), -np.inf),
         dict(kernel_size=3, stride=1, padding=1, dilation=2)),
    ],
    ids=["1d", "2d", "2d-dilated"],
)  # fmt: skip
def test_padding_never_wins_over_minus_inf_like_torch(op, x, kwargs) -> None:
    """A window of real -inf values picks its first real element, never the padding."""
    rng = rng_for("padding-never-wins", op, str(kwargs))
    ours = lambda t: getattr(F, op)(t, return_indices=True, **kwargs)  # noqa: E731
    theirs = lambda t: getattr(TF, op)(t, return_indices=True, **kwargs)  # noqa: E731
    run_both(ours, theirs, np.asarray(x, dtype=np.float64), np.float64, op, rng)


def test_window_of_padding_only() -> None:
    """Dilation can make a window read only padding: its value is -inf, its index torch's
    (the first position past the left padding, here 1, outside the length-1 input), and it
    passes no gradient. (torch 2.13 sends that gradient to the out-of-range index, which
    with several channels lands in the next channel, so its backward is not compared.)"""
    x = np.array([[[0.3], [0.7]]])
    xn = nnlab.tensor(x, requires_grad=True)
    y, idx = F.max_pool1d(xn, 2, stride=1, padding=1, dilation=2, return_indices=True)
    y_t, idx_t = TF.max_pool1d(torch.from_numpy(x), 2, 1, 1, 2, return_indices=True)
    np.testing.assert_array_equal(y.array, y_t.numpy())
    np.testing.assert_array_equal(idx.array, idx_t.numpy())
    np.testing.assert_array_equal(idx.array, [[[1], [1]]])
    y.backward(np.ones((1, 2, 1)))
    np.testing.assert_array_equal(xn.grad.array, np.zeros((1, 2, 1)))


def test_overlapping_windows_accumulate_gradients() -> None:
    """One large value inside four overlapping 2x2 windows gets all four gradients."""
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0
    xn = nnlab.tensor(x, requires_grad=True)
    F.max_pool2d(xn, 2, stride=1).sum().backward()
    assert xn.grad.array[0, 0, 1, 1] == 4.0 and xn.grad.array.sum() == 4.0


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize(
    "kernel, kwargs, shape",
    [(2, {}, (2, 3, 8, 6)), (3, dict(stride=2, padding=1), (2, 2, 7, 7)),
     ((3, 2), dict(stride=(2, 1), padding=(1, 0)), (1, 2, 9, 8))],
    ids=["k2", "k3-s2-p1", "rect"],
)  # fmt: skip
def test_max_unpool2d_matches_torch(kernel, kwargs, shape, dtype) -> None:
    """Pool, then unpool (to the default size, and to the input size): values and the
    gradient of the pooled values."""
    rng = rng_for("unpool", str(kernel), str(shape))
    x = rng.standard_normal(shape).astype(dtype)
    y_n, i_n = F.max_pool2d(nnlab.tensor(x), kernel, return_indices=True, **kwargs)
    y_t, i_t = TF.max_pool2d(torch.from_numpy(x), kernel, return_indices=True, **kwargs)
    ours, theirs = nn.MaxUnpool2d(kernel, **kwargs), T.MaxUnpool2d(kernel, **kwargs)
    assert repr(ours) == repr(theirs)
    for size in (None, shape[-2:]):
        run_both(partial(ours, indices=i_n, output_size=size),
                 partial(theirs, indices=i_t, output_size=size),
                 y_t.numpy().astype(np.float64), dtype, f"MaxUnpool2d {size}", rng)  # fmt: skip


def test_max_unpool_1d_3d_and_unbatched_match_torch() -> None:
    rng = rng_for("unpool-nd")
    for n, shape in ((1, (2, 3, 9)), (2, (3, 6, 6)), (3, (1, 2, 4, 4, 6))):
        x = rng.standard_normal(shape)
        y_n, i_n = getattr(F, f"max_pool{n}d")(nnlab.tensor(x), 2, return_indices=True)
        y_t, i_t = getattr(TF, f"max_pool{n}d")(torch.from_numpy(x), 2, return_indices=True)
        ours = getattr(F, f"max_unpool{n}d")(y_n, i_n, 2)
        theirs = getattr(TF, f"max_unpool{n}d")(y_t, i_t, 2)
        np.testing.assert_array_equal(ours.array, theirs.numpy())


def test_global_avg_pool() -> None:
    rng = rng_for("global")
    for shape in ((2, 3, 5), (2, 3, 4, 5), (1, 2, 3, 4, 2)):
        x = rng.standard_normal(shape)
        axes = tuple(range(2, len(shape)))
        for flatten in (True, False):
            expected = torch.from_numpy(x).mean(dim=axes, keepdim=not flatten)
            layer = nn.GlobalAvgPool(flatten=flatten)
            run_both(layer, lambda t, a=axes, f=flatten: t.mean(dim=a, keepdim=not f), x,
                     np.float64, f"GlobalAvgPool {shape}", rng)  # fmt: skip
            assert layer(nnlab.tensor(x)).shape == tuple(expected.shape)
    y = nn.GlobalAvgPool()(nnlab.ones(2, 4, 3, 3))
    assert repr(nn.GlobalAvgPool()) == "GlobalAvgPool(flatten=True)" and y.shape == (2, 4)


# -- finite differences in float64 ---------------------------------------------------------


def _distinct(shape: tuple[int, ...], seed: int) -> nnlab.Tensor:
    """Values at least 0.01 apart (no ties: a max-pooling derivative is then defined and
    a finite-difference step of 1e-6 never changes which element wins)."""
    n = int(np.prod(shape))
    values = np.random.default_rng(seed).permutation(n).reshape(shape) * 0.01 - 0.3
    return nnlab.tensor(values, dtype=nnlab.float64, requires_grad=True)


GRADCHECK = [
    ("max_pool1d", lambda x: F.max_pool1d(x, 3, 2, 1, 1, True), (2, 2, 8)),
    ("max_pool2d-overlap", lambda x: F.max_pool2d(x, 3, 1, 1), (1, 2, 5, 4)),
    ("max_pool2d-dilation-ceil", lambda x: F.max_pool2d(x, 2, 2, 0, 2, True), (1, 2, 6, 5)),
    ("max_pool3d", lambda x: F.max_pool3d(x, 2, (1, 2, 2), 1), (1, 1, 3, 4, 3)),
    ("avg_pool1d", lambda x: F.avg_pool1d(x, 3, 2, 1, True, False), (2, 2, 8)),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 3, 2, 1, True, True), (1, 2, 6, 5)),
    ("avg_pool2d-divisor", lambda x: F.avg_pool2d(x, 2, 1, 1, divisor_override=3), (1, 1, 4, 4)),
    ("avg_pool3d", lambda x: F.avg_pool3d(x, 2, 1, 1, count_include_pad=False), (1, 1, 3, 3, 3)),
    ("adaptive_avg_pool1d", lambda x: F.adaptive_avg_pool1d(x, 3), (2, 2, 7)),
    ("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, (3, 2)), (1, 2, 5, 5)),
    ("adaptive_avg_pool3d", lambda x: F.adaptive_avg_pool3d(x, 2), (1, 1, 3, 3, 3)),
    ("adaptive_max_pool1d", lambda x: F.adaptive_max_pool1d(x, 3), (2, 2, 7)),
    ("adaptive_max_pool2d", lambda x: F.adaptive_max_pool2d(x, (3, 2)), (1, 2, 5, 5)),
    ("adaptive_max_pool3d", lambda x: F.adaptive_max_pool3d(x, 2), (1, 1, 3, 3, 3)),
    ("global_avg_pool", lambda x: F.global_avg_pool(x), (2, 2, 3, 3)),
]  # fmt: skip


@pytest.mark.parametrize("name, fn, shape", GRADCHECK, ids=[g[0] for g in GRADCHECK])
def test_pool_gradcheck(name, fn, shape) -> None:
    assert gradcheck(fn, [_distinct(shape, len(name))])


def test_max_unpool2d_gradcheck() -> None:
    y, idx = F.max_pool2d(_distinct((1, 2, 4, 6), 0), 2, return_indices=True)
    pooled = nnlab.tensor(y.array, requires_grad=True)
    assert gradcheck(lambda v: F.max_unpool2d(v, idx, 2, output_size=(5, 7)), [pooled])


def test_pool_backward_refuses_double_backward() -> None:
    x = _distinct((1, 1, 4, 4), 1)
    with pytest.raises(RuntimeError, match="higher-order"):
        nnlab.autograd.grad((F.max_pool2d(x, 2) ** 2).sum(), [x], create_graph=True)


# -- errors ---------------------------------------------------------------------------------


def _both_raise(ours: Any, theirs: Any, x_shape: tuple[int, ...], mentions: tuple[str, ...]):
    """torch rejects the input; nnlab raises the same exception class, naming the sizes."""
    with pytest.raises(Exception) as torch_exc:
        theirs(torch.zeros(x_shape))
    with pytest.raises(torch_exc.type) as ours_exc:
        ours(nnlab.zeros(x_shape))
    for m in mentions:
        assert m in str(ours_exc.value), (m, str(ours_exc.value))


@pytest.mark.parametrize(
    "op, args, shape, mentions",
    [
        ("max_pool2d", (3,), (1, 3, 2, 2), ("(3x2x2)", "(3x0x0)", "(3, 3)", "(2, 2)")),
        ("avg_pool2d", (3,), (1, 3, 2, 2), ("(3x2x2)", "(3x0x0)", "too small")),
        ("max_pool1d", (3,), (1, 3, 2), ("(3x2)", "(3x0)")),
        ("max_pool3d", (3,), (1, 3, 2, 2, 2), ("(3x2x2x2)", "(3x0x0x0)")),
        ("avg_pool3d", (3,), (1, 3, 2, 2, 2), ("(3x2x2x2)", "(3x0x0x0)")),
        ("avg_pool3d", (4, 1, 2), (1, 3, 4, 8, 2), ("(T: 4 H: 8 W: 2)", "kW: 4")),
        ("max_pool2d", (3, 1, 2), (1, 3, 6, 6), ("padding=(2, 2)", "kernel_size=(3, 3)")),
        ("avg_pool2d", (2, 1, 2), (1, 3, 6, 6), ("padding=(2, 2)", "kernel_size=(2, 2)")),
        ("max_pool1d", (2, 1, 2), (1, 3, 6), ("padding=(2,)", "kernel_size=(2,)")),
        ("max_pool2d", (2, 0), (1, 3, 6, 6), ("stride", "(0, 0)")),
        ("max_pool2d", (2,), (2, 3), ("3-D", "4-D", "(2, 3)")),
        ("avg_pool2d", (2,), (2, 3, 4, 4, 4), ("(2, 3, 4, 4, 4)",)),
        ("adaptive_avg_pool2d", (2,), (2, 3), ("(2, 3)",)),
        ("adaptive_max_pool2d", (2,), (2, 3), ("(2, 3)",)),
        ("adaptive_avg_pool2d", ((2, 2, 2),), (1, 2, 4, 4), ("output_size",)),
    ],
)  # fmt: skip
def test_bad_arguments_raise_like_torch(op, args, shape, mentions) -> None:
    _both_raise(lambda x: getattr(F, op)(x, *args), lambda x: getattr(TF, op)(x, *args),
                shape, (op, *mentions))  # fmt: skip


def test_max_unpool_errors_like_torch() -> None:
    x = nnlab.zeros(1, 3, 2, 2)
    xt = torch.zeros(1, 3, 2, 2)
    bad = np.full((1, 3, 2, 2), 99)
    with pytest.raises(RuntimeError, match="invalid max index: 99"):
        TF.max_unpool2d(xt, torch.from_numpy(bad), 2)
    with pytest.raises(RuntimeError, match=r"max_unpool2d.*invalid max index: 99.*4x4"):
        F.max_unpool2d(x, nnlab.tensor(bad), 2)
    zeros = np.zeros((1, 3, 2, 2), dtype=np.int64)
    with pytest.raises(ValueError, match="must be between 2 and 6"):
        TF.max_unpool2d(xt, torch.from_numpy(zeros), 2, output_size=(9, 9))
    with pytest.raises(ValueError, match=r"dim 0 must be between 2 and 6"):
        F.max_unpool2d(x, nnlab.tensor(zeros), 2, output_size=(9, 9))
    with pytest.raises(RuntimeError, match=r"\(1, 3, 2, 3\)"):
        F.max_unpool2d(x, nnlab.tensor(np.zeros((1, 3, 2, 3), dtype=np.int64)), 2)


@pytest.mark.parametrize(
    "layer, shape, pattern",
    [
        (nn.MaxPool2d(2), (4, 10), r"model\.1 \(MaxPool2d\).*\(N, C, H, W\).*\(4, 10\).*Flatten"),
        (nn.MaxPool2d(2), (2, 3, 4, 4, 4), r"\(2, 3, 4, 4, 4\).*use MaxPool3d"),
        (nn.AvgPool1d(2), (2, 3, 4, 4), r"\(N, C, L\).*use AvgPool2d"),
        (nn.AdaptiveAvgPool2d(1), (2, 3), r"AdaptiveAvgPool2d.*\(2, 3\)"),
        (nn.AdaptiveMaxPool2d(1), (2, 3, 4, 4, 4), r"use AdaptiveMaxPool3d"),
        (nn.MaxPool3d(2), (2, 3, 4), r"\(N, C, D, H, W\).*use MaxPool1d"),
        (nn.GlobalAvgPool(), (2, 3), r"GlobalAvgPool.*\(2, 3\)"),
    ],
)  # fmt: skip
def test_layers_raise_shape_errors_with_path(layer, shape, pattern) -> None:
    model = nn.Sequential(nn.Identity(), layer)
    with pytest.raises(nn.ShapeError, match=pattern):
        model(nnlab.zeros(*shape))


def test_reprs_match_torch() -> None:
    pairs = [
        (nn.MaxPool1d(3, 2, 1, 2, ceil_mode=True), T.MaxPool1d(3, 2, 1, 2, ceil_mode=True)),
        (nn.MaxPool3d((2, 1, 2)), T.MaxPool3d((2, 1, 2))),
        (nn.AvgPool1d(3, 2, 1), T.AvgPool1d(3, 2, 1)),
        (nn.AvgPool2d((2, 3), 1, 1, True, False, 4), T.AvgPool2d((2, 3), 1, 1, True, False, 4)),
        (nn.AvgPool3d(2), T.AvgPool3d(2)),
        (nn.AdaptiveMaxPool2d((2, None), True), T.AdaptiveMaxPool2d((2, None), True)),
        (nn.AdaptiveAvgPool3d(1), T.AdaptiveAvgPool3d(1)),
        (nn.MaxUnpool1d(2), T.MaxUnpool1d(2)),
        (nn.MaxUnpool3d(2, 1), T.MaxUnpool3d(2, 1)),
    ]  # fmt: skip
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict()) == []
