"""ConvTranspose1d/2d/3d and F.conv_transpose* vs PyTorch, and the adjoint identity.

Same convention as ``test_conv.py``: a row per configuration; the torch layer is built
first, its ``state_dict`` loads into the nnlab twin, both run on the same seeded input in
float32 and float64 and must agree on the output and on every gradient. float32 allows an
absolute error of 1e-5 × the largest |element| (sums of many products, reordered; see
``test_conv.py``).

A transposed convolution is, by definition here, the adjoint of a convolution with the same
weight and arguments: ⟨conv(x, W), y⟩ = ⟨x, conv_transpose(y, W)⟩ for all x, y, which
``test_adjoint_identity`` checks directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from parity import TOLERANCES, Tol, assert_close, rng_for

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.autograd.gradcheck import gradcheck

T = torch.nn
TF = torch.nn.functional
DTYPES = (np.float32, np.float64)
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def compare(actual: Any, expected: torch.Tensor, dtype: Any, what: str) -> None:
    e = expected.detach().numpy()
    a = np.asarray(actual.array if isinstance(actual, nnlab.Tensor) else actual)
    tol = TOLERANCES[np.dtype(dtype)]
    if np.dtype(dtype) == np.float32 and e.size:
        tol = Tol(rtol=1e-5, atol=max(1e-6, 1e-5 * float(np.abs(e).max())))
    assert_close(a, e, tol, what)


@dataclass
class Case:
    name: str
    cls: str
    args: tuple[Any, ...]
    shapes: list[tuple[int, ...]]
    kwargs: dict[str, Any] = field(default_factory=dict)
    output_size: tuple[int, ...] | None = None


CASES = [
    Case("1d", "ConvTranspose1d", (4, 3, 3), [(2, 4, 6), (1, 4, 1), (4, 5)]),
    Case("1d-stride-output-padding", "ConvTranspose1d", (3, 2, 3), [(2, 3, 5)],
         dict(stride=2, padding=1, output_padding=1)),
    Case("1d-groups-dilation-no-bias", "ConvTranspose1d", (4, 6, 3), [(2, 4, 5)],
         dict(groups=2, dilation=2, output_padding=1, bias=False)),
    Case("2d", "ConvTranspose2d", (3, 2, 3), [(2, 3, 4, 5), (1, 3, 2, 2), (3, 3, 3)]),
    Case("2d-stride-padding-output-padding", "ConvTranspose2d", (4, 3, (3, 2)), [(2, 4, 5, 4)],
         dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2))),
    Case("2d-upsample-x2", "ConvTranspose2d", (4, 2, 3), [(2, 4, 7, 7)],
         dict(stride=2, padding=1, output_padding=1)),
    Case("2d-groups-dilation", "ConvTranspose2d", (4, 6, 2), [(2, 4, 3, 4)],
         dict(groups=2, dilation=(2, 3), padding=1)),
    Case("2d-depthwise", "ConvTranspose2d", (3, 3, 3), [(2, 3, 4, 4)], dict(groups=3, stride=2)),
    Case("2d-1x1", "ConvTranspose2d", (3, 5, 1), [(2, 3, 3, 4)]),
    Case("2d-kernel-eq-stride", "ConvTranspose2d", (2, 3, 2), [(2, 2, 3, 3)], dict(stride=2)),
    Case("2d-output-size", "ConvTranspose2d", (4, 2, 3), [(2, 4, 5, 5)], dict(stride=3),
         output_size=(17, 16)),
    Case("3d", "ConvTranspose3d", (2, 3, 2), [(2, 2, 3, 2, 3)]),
    Case("3d-stride-output-padding-groups", "ConvTranspose3d", (4, 2, (2, 3, 2)),
         [(1, 4, 3, 2, 3)], dict(stride=(2, 1, 2), padding=(0, 1, 1), output_padding=(1, 0, 1),
                                 groups=2)),
]  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize(
    "case, shape", [(c, s) for c in CASES for s in c.shapes],
    ids=[f"{c.name}-{'x'.join(map(str, s))}" for c in CASES for s in c.shapes],
)  # fmt: skip
def test_conv_transpose_matches_torch(case: Case, shape: tuple[int, ...], dtype: Any) -> None:
    check_case(case, shape, dtype)


def check_case(case: Case, shape: tuple[int, ...], dtype: Any) -> None:
    torch.manual_seed(0)
    theirs = getattr(T, case.cls)(*case.args, **case.kwargs).to(TORCH_DTYPE[dtype])
    ours = getattr(nn, case.cls)(*case.args, **case.kwargs).to(dtype)
    sd = theirs.state_dict()
    assert {k: tuple(v.shape) for k, v in sd.items()} == {
        k: v.shape for k, v in ours.state_dict().items()
    }
    ours.load_state_dict({k: v.detach().numpy() for k, v in sd.items()})
    rng = rng_for(case.name, str(shape))
    x = rng.standard_normal(shape).astype(dtype)
    xs, xt = nnlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    extra = {} if case.output_size is None else {"output_size": case.output_size}
    ys, yt = ours(xs, **extra), theirs(xt, **extra)
    label = f"{case.name} {shape} {np.dtype(dtype)}"
    compare(ys, yt, dtype, f"{label}: output")
    g = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    ys.backward(g)
    yt.backward(torch.from_numpy(g))
    compare(xs.grad, xt.grad, dtype, f"{label}: input gradient")
    mine = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        compare(mine[name].grad, p.grad, dtype, f"{label}: gradient of {name}")


FUNCTIONAL = [
    ("conv_transpose1d", (2, 4, 5), (4, 1, 3), dict(stride=3, padding=1, output_padding=2,
                                                     groups=2)),
    ("conv_transpose2d", (1, 2, 3, 4), (2, 3, 2, 3), dict(stride=(1, 2), dilation=(2, 1),
                                                          output_padding=(1, 1))),
    ("conv_transpose3d", (2, 2, 2, 3, 2), (2, 2, 3, 2, 2), dict(stride=2, padding=1)),
]  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("fn, x_shape, w_shape, kwargs", FUNCTIONAL)
def test_functional_conv_transpose_matches_torch(fn, x_shape, w_shape, kwargs, dtype) -> None:
    rng = rng_for(fn, str(x_shape))
    c_out = w_shape[1] * kwargs.get("groups", 1)
    arrays = [rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, (c_out,))]
    ours = [nnlab.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    ys, yt = getattr(F, fn)(*ours, **kwargs), getattr(TF, fn)(*theirs, **kwargs)
    compare(ys, yt, dtype, f"{fn} output")
    g = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    ys.backward(g)
    yt.backward(torch.from_numpy(g))
    for k, (a, b) in enumerate(zip(ours, theirs)):
        compare(a.grad, b.grad, dtype, f"{fn} gradient of argument {k}")


ADJOINT = [
    ((2, 4, 9), (6, 2, 3), dict(stride=2, padding=1, groups=2)),
    ((2, 3, 7, 8), (5, 3, 3, 2), dict(stride=(2, 3), padding=(1, 0), dilation=(1, 2))),
    ((1, 2, 5, 4, 6), (4, 2, 2, 2, 3), dict(stride=(1, 2, 2), padding=(0, 1, 1))),
    ((2, 2, 6), (2, 2, 3), dict(dilation=2)),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", ADJOINT)
def test_adjoint_identity(x_shape, w_shape, kwargs) -> None:
    """⟨conv(x), y⟩ = ⟨x, conv_transpose(y)⟩: the transposed op is the conv's adjoint.
    ``output_padding`` recovers the exact input size a strided conv rounded down."""
    d = len(x_shape) - 2
    conv = getattr(F, f"conv{d}d")
    conv_t = getattr(F, f"conv_transpose{d}d")
    rng = rng_for("adjoint", str(x_shape))
    x = nnlab.tensor(rng.standard_normal(x_shape))
    w = nnlab.tensor(rng.standard_normal(w_shape))
    y = nnlab.tensor(rng.standard_normal(conv(x, w, **kwargs).shape))
    shortest = conv_t(y, w, **kwargs).shape[2:]
    output_padding = tuple(a - b for a, b in zip(x_shape[2:], shortest))
    back = conv_t(y, w, output_padding=output_padding, **kwargs)
    assert back.shape == x.shape
    lhs = float((conv(x, w, **kwargs) * y).sum())
    rhs = float((x * back).sum())
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))


GRADCHECK = [
    ("conv_transpose2d", (1, 2, 3, 3), (2, 2, 2, 2), dict(padding=1, dilation=(1, 2))),
    ("conv_transpose1d", (2, 2, 3), (2, 2, 3), dict(stride=2, padding=1, output_padding=1)),
    ("conv_transpose2d", (1, 2, 3, 2), (2, 1, 2, 3), dict(stride=(2, 1), groups=2,
                                                          dilation=(1, 2))),
    ("conv_transpose3d", (1, 2, 2, 2, 2), (2, 1, 2, 2, 1), dict(stride=2, padding=(1, 0, 0),
                                                                 output_padding=1)),
]  # fmt: skip


@pytest.mark.parametrize("fn, x_shape, w_shape, kwargs", GRADCHECK)
def test_conv_transpose_gradcheck(fn, x_shape, w_shape, kwargs) -> None:
    rng = rng_for("gradcheck", fn)
    c_out = w_shape[1] * kwargs.get("groups", 1)
    inputs = [
        nnlab.tensor(rng.standard_normal(s), requires_grad=True)
        for s in (x_shape, w_shape, (c_out,))
    ]
    assert gradcheck(lambda x, w, b: getattr(F, fn)(x, w, b, **kwargs), inputs)


def test_encoder_decoder_round_trip_matches_torch() -> None:
    """Conv down by 2, transposed conv back up to the input size, as in an autoencoder."""

    def build(lib: Any) -> Any:
        m = lib.nn
        return m.Sequential(
            m.Conv2d(2, 4, 3, stride=2, padding=1), m.ReLU(),
            m.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1),
        )  # fmt: skip

    torch.manual_seed(0)
    theirs, ours = build(torch), build(nnlab)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = rng_for("autoencoder").standard_normal((3, 2, 8, 6)).astype(np.float32)
    ys, yt = ours(nnlab.tensor(x)), theirs(torch.tensor(x))
    assert ys.shape == x.shape
    compare(ys, yt, np.float32, "output")
    (ys * ys).mean().backward()
    (yt * yt).mean().backward()
    mine = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        compare(mine[name].grad, p.grad, np.float32, f"gradient of {name}")


# -- errors -------------------------------------------------------------------------------


def test_output_size_out_of_range_raises_like_torch() -> None:
    layer = nn.ConvTranspose2d(4, 4, 3, stride=2)
    with pytest.raises(ValueError, match=r"\(20, 20\).*from \(9, 9\) to \(10, 10\)"):
        layer(nnlab.zeros(1, 4, 4, 4), output_size=(20, 20))
    with pytest.raises(ValueError):
        T.ConvTranspose2d(4, 4, 3, stride=2)(torch.zeros(1, 4, 4, 4), output_size=(20, 20))
    assert layer(nnlab.zeros(1, 4, 4, 4), output_size=(1, 4, 10, 10)).shape == (1, 4, 10, 10)


def test_output_padding_must_be_smaller_than_stride_or_dilation() -> None:
    x, w = nnlab.zeros(1, 2, 3, 3), nnlab.zeros(2, 2, 3, 3)
    with pytest.raises(RuntimeError):
        TF.conv_transpose2d(torch.zeros(1, 2, 3, 3), torch.zeros(2, 2, 3, 3), output_padding=1)
    with pytest.raises(RuntimeError, match="output_padding=.*smaller than either stride"):
        F.conv_transpose2d(x, w, output_padding=1)


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(padding_mode="reflect"), 'Only "zeros" padding mode'),
     (dict(padding="same"), "padding must be an int"),
     (dict(groups=3), "in_channels must be divisible by groups")],
)  # fmt: skip
def test_bad_configuration(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        nn.ConvTranspose2d(4, 6, 3, **kwargs)


def test_wrong_channels_names_path() -> None:
    model = nn.Sequential(nn.ConvTranspose1d(8, 1, 5))
    with pytest.raises(nn.ShapeError, match=r"model\.0 \(ConvTranspose1d\).*\(N, 8, L\)"):
        model(nnlab.zeros(2, 4, 10))
    with pytest.raises(RuntimeError, match=r"expects an input with 8 channels"):
        F.conv_transpose1d(nnlab.zeros(2, 4, 10), nnlab.zeros(8, 1, 5))


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_random_configurations_match_torch(data: st.DataObject) -> None:
    """Any valid (d, sizes, kernel, stride, padding, output_padding, dilation, groups)."""
    d = data.draw(st.integers(1, 3), label="d")
    groups = data.draw(st.sampled_from([1, 2]), label="groups")
    c_in = groups * data.draw(st.integers(1, 2))
    c_out = groups * data.draw(st.integers(1, 2))
    kernel = data.draw(st.tuples(*[st.integers(1, 3)] * d), label="kernel")
    dilation = data.draw(st.tuples(*[st.integers(1, 2)] * d), label="dilation")
    stride = data.draw(st.tuples(*[st.integers(1, 3)] * d), label="stride")
    output_padding = tuple(
        data.draw(st.integers(0, max(s, dl) - 1)) for s, dl in zip(stride, dilation)
    )
    size = tuple(data.draw(st.integers(1, 4)) for _ in range(d))
    # padding may remove at most what the output would otherwise have, minus one element
    full = [(n - 1) * s + dl * (k - 1) + op + 1
            for n, s, dl, k, op in zip(size, stride, dilation, kernel, output_padding)]  # fmt: skip
    padding = tuple(data.draw(st.integers(0, min(2, (f - 1) // 2))) for f in full)
    shape = (data.draw(st.integers(1, 2)), c_in) + size
    case = Case("random", f"ConvTranspose{d}d", (c_in, c_out, kernel), [shape],
                dict(stride=stride, padding=padding, output_padding=output_padding,
                     dilation=dilation, groups=groups))  # fmt: skip
    check_case(case, shape, np.float64)
