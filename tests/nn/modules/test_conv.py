"""Conv1d/2d/3d and F.conv* vs PyTorch: values, gradients, init, errors, gradcheck.

Convention: each :class:`ConvCase` names a layer class (the same name in ``nnlab.nn`` and
``torch.nn``), its constructor arguments and the input shapes it runs on. The torch layer is
built first (seeded), its ``state_dict`` loads into the nnlab twin, and both run on the same
seeded input in float32 and float64: output, the gradient of the input and of every
parameter (by ``state_dict`` name) must agree. Adding a configuration means adding a row.

Tolerances: float64 uses ``parity.TOLERANCES`` as is. In float32 a convolution output is a
sum of C·Πk products and a weight gradient a sum of N·ΠL of them, computed in a different
order than torch's (one GEMM over the K-major im2col matrix vs oneDNN's blocked kernels).
The rounding error of such a sum grows with the size of its terms, not of the result, so an
element that cancels to near 0 can differ by more than 1e-6 absolutely while the sum is
right to 1e-7 of its terms: ``F32`` keeps rtol 1e-5 and allows atol 1e-5·(the largest
|element| of the compared array), i.e. 1e-5 relative to the scale of the sum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from parity import compare_to_torch as compare
from parity import load_from_torch, rng_for

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.autograd.gradcheck import gradcheck
from nnlab.ops.conv import conv_composed

T = torch.nn
TF = torch.nn.functional
DTYPES = (np.float32, np.float64)
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}
# torch warns that it copies the input for an even kernel with padding='same' (so do we).
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


@dataclass
class ConvCase:
    """A layer class (same name in both libraries), its arguments, the input shapes."""

    name: str
    cls: str
    args: tuple[Any, ...]
    shapes: list[tuple[int, ...]]
    kwargs: dict[str, Any] = field(default_factory=dict)


C = ConvCase
CASES = [
    # 1-D
    C("1d", "Conv1d", (4, 6, 3), [(2, 4, 11), (1, 4, 3), (4, 9)]),
    C("1d-stride-pad-dilation", "Conv1d", (3, 5, 3), [(2, 3, 13)],
      dict(stride=2, padding=1, dilation=2)),
    C("1d-groups-no-bias", "Conv1d", (4, 6, 2), [(3, 4, 8)], dict(groups=2, bias=False)),
    C("1d-depthwise", "Conv1d", (4, 8, 3), [(2, 4, 10)], dict(groups=4, padding=1)),
    C("1d-same-even", "Conv1d", (2, 3, 4), [(2, 2, 9)], dict(padding="same", dilation=3)),
    C("1d-valid", "Conv1d", (2, 3, 5), [(2, 2, 9)], dict(padding="valid")),
    C("1d-mnist1d", "Conv1d", (1, 32, 5), [(4, 1, 40)]),
    C("1d-reflect", "Conv1d", (2, 3, 3), [(2, 2, 7)], dict(padding=2, padding_mode="reflect")),
    C("1d-replicate", "Conv1d", (2, 3, 3), [(2, 2, 7)],
      dict(padding=3, padding_mode="replicate")),
    C("1d-circular", "Conv1d", (2, 3, 3), [(2, 2, 7)], dict(padding=2, padding_mode="circular")),
    # 2-D
    C("2d", "Conv2d", (3, 5, 3), [(2, 3, 8, 7), (1, 3, 3, 3), (3, 6, 5)]),
    C("2d-lenet-first", "Conv2d", (1, 6, 5), [(3, 1, 12, 12)], dict(padding=2)),
    C("2d-stride-pad-dilation", "Conv2d", (3, 4, (3, 2)), [(2, 3, 11, 10)],
      dict(stride=(2, 3), padding=(1, 2), dilation=(2, 1))),
    C("2d-groups-no-bias", "Conv2d", (6, 9, 3), [(2, 6, 7, 6)], dict(groups=3, bias=False)),
    C("2d-depthwise", "Conv2d", (4, 4, 3), [(2, 4, 6, 7)], dict(groups=4, padding=1)),
    C("2d-depthwise-multiplier", "Conv2d", (4, 8, 3), [(2, 4, 6, 6)],
      dict(groups=4, stride=2, padding=1)),
    C("2d-same", "Conv2d", (3, 4, (4, 3)), [(2, 3, 7, 6)], dict(padding="same", dilation=(1, 2))),
    C("2d-valid", "Conv2d", (3, 4, 3), [(2, 3, 5, 6)], dict(padding="valid")),
    C("2d-1x1", "Conv2d", (5, 3, 1), [(2, 5, 4, 3)]),
    C("2d-1x1-stride", "Conv2d", (5, 3, 1), [(2, 5, 5, 4)], dict(stride=2)),
    C("2d-1x1-padded", "Conv2d", (3, 2, 1), [(2, 3, 4, 4)], dict(padding=(1, 2))),
    C("2d-kernel-1x5", "Conv2d", (2, 3, (1, 5)), [(2, 2, 4, 9)], dict(padding=(0, 2))),
    C("2d-stride-beyond-kernel", "Conv2d", (2, 3, 2), [(2, 2, 9, 8)], dict(stride=3)),
    C("2d-reflect", "Conv2d", (2, 3, 3), [(2, 2, 6, 5)], dict(padding=(1, 2),
      padding_mode="reflect")),
    C("2d-replicate", "Conv2d", (2, 3, 3), [(2, 2, 5, 5)], dict(padding=2,
      padding_mode="replicate")),
    C("2d-circular-stride", "Conv2d", (2, 3, 3), [(2, 2, 6, 7)], dict(padding=1, stride=2,
      padding_mode="circular")),
    C("2d-same-reflect", "Conv2d", (2, 3, 4), [(2, 2, 6, 6)], dict(padding="same",
      padding_mode="reflect")),
    # 3-D
    C("3d", "Conv3d", (2, 3, 3), [(2, 2, 5, 6, 4), (2, 4, 4, 4)]),
    C("3d-stride-groups-dilation", "Conv3d", (2, 4, (2, 3, 2)), [(2, 2, 6, 7, 5)],
      dict(stride=(1, 2, 1), padding=1, groups=2, dilation=(1, 1, 2))),
    C("3d-same-replicate", "Conv3d", (2, 2, 3), [(1, 2, 4, 5, 3)], dict(padding="same",
      padding_mode="replicate", bias=False)),
    C("3d-circular", "Conv3d", (1, 2, 2), [(2, 1, 3, 4, 3)], dict(padding=1,
      padding_mode="circular")),
]  # fmt: skip


def check_case(case: ConvCase, shape: tuple[int, ...], dtype: Any) -> None:
    torch.manual_seed(0)
    theirs = getattr(T, case.cls)(*case.args, **case.kwargs).to(TORCH_DTYPE[dtype])
    ours = getattr(nn, case.cls)(*case.args, **case.kwargs).to(dtype)
    load_from_torch(ours, theirs)
    rng = rng_for(case.name, str(shape))
    x = rng.standard_normal(shape).astype(dtype)
    xs, xt = nnlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ys, yt = ours(xs), theirs(xt)
    label = f"{case.name} {shape} {np.dtype(dtype)}"
    compare(ys, yt, dtype, f"{label}: output")
    g = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    ys.backward(g)
    yt.backward(torch.from_numpy(g))
    compare(xs.grad, xt.grad, dtype, f"{label}: input gradient")
    mine = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        compare(mine[name].grad, p.grad, dtype, f"{label}: gradient of {name}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize(
    "case, shape", [(c, s) for c in CASES for s in c.shapes],
    ids=[f"{c.name}-{'x'.join(map(str, s))}" for c in CASES for s in c.shapes],
)  # fmt: skip
def test_conv_matches_torch(case: ConvCase, shape: tuple[int, ...], dtype: Any) -> None:
    check_case(case, shape, dtype)


def test_larger_conv_float32_matches_torch() -> None:
    """A ResNet-like 3×3 layer: sums of 576 products forward, 2,048 per weight gradient."""
    check_case(C("2d-resnet", "Conv2d", (64, 32, 3), [], dict(padding=1, bias=False)),
               (8, 64, 8, 8), np.float32)  # fmt: skip


def test_stacked_convs_and_non_contiguous_input() -> None:
    """Layers feed each other their channel-first output views; the input is a permuted
    view (non-contiguous), as after a channels-last → channels-first transpose."""

    def build(lib: Any) -> Any:
        m = lib.nn
        return m.Sequential(
            m.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), m.Tanh(),
            m.Conv2d(4, 4, 3, groups=2, stride=2), m.ReLU(),
            m.Conv2d(4, 2, 1), m.Flatten(), m.Linear(2 * 3 * 3, 3),
        ).double()  # fmt: skip

    torch.manual_seed(0)
    theirs, ours = build(torch), build(nnlab)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    nhwc = rng_for("stacked").standard_normal((2, 7, 8, 3))
    xs = nnlab.tensor(nhwc, requires_grad=True)
    xt = torch.tensor(nhwc, requires_grad=True)
    ys, yt = ours(xs.permute(0, 3, 1, 2)), theirs(xt.permute(0, 3, 1, 2))
    compare(ys, yt, np.float64, "output")
    (ys * ys).sum().backward()
    (yt * yt).sum().backward()
    compare(xs.grad, xt.grad, np.float64, "input gradient")
    mine = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        compare(mine[name].grad, p.grad, np.float64, f"gradient of {name}")


# -- functional form --------------------------------------------------------------------

FUNCTIONAL = [
    ("conv1d", (2, 4, 9), (6, 2, 3), dict(stride=2, padding=2, groups=2)),
    ("conv1d", (4, 9), (3, 4, 2), dict(padding="same")),
    ("conv2d", (2, 3, 6, 5), (4, 3, 2, 3), dict(padding=(1, 0), dilation=(2, 1))),
    ("conv2d", (1, 4, 5, 5), (4, 1, 3, 3), dict(padding="same", groups=4)),
    ("conv2d", (2, 2, 5, 5), (3, 2, 3, 3), dict(padding="valid", stride=(1, 2))),
    ("conv3d", (1, 2, 4, 5, 3), (2, 2, 2, 2, 2), dict(stride=(2, 1, 1), padding=(0, 1, 1))),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("fn, x_shape, w_shape, kwargs", FUNCTIONAL)
def test_functional_conv_matches_torch(fn, x_shape, w_shape, kwargs, bias, dtype) -> None:
    rng = rng_for(fn, str(x_shape), str(w_shape))
    arrays = [rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, w_shape[:1])]
    if not bias:
        arrays = arrays[:2]
    ours = [nnlab.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    ys, yt = getattr(F, fn)(*ours, **kwargs), getattr(TF, fn)(*theirs, **kwargs)
    compare(ys, yt, dtype, f"{fn} output")
    g = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    ys.backward(g)
    yt.backward(torch.from_numpy(g))
    for k, (a, b) in enumerate(zip(ours, theirs)):
        compare(a.grad, b.grad, dtype, f"{fn} gradient of argument {k}")


COMPOSED = [
    ((2, 4, 7, 6), (6, 2, 3, 2), dict(stride=(2, 1), padding=1, groups=2, dilation=(1, 2))),
    ((2, 3, 9), (2, 3, 4), dict(stride=3, padding=2)),
    ((1, 2, 4, 3, 5), (3, 2, 2, 1, 3), dict(padding=(1, 0, 1))),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", COMPOSED)
def test_fused_conv_equals_composed_twin(x_shape, w_shape, kwargs) -> None:
    fn = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}[len(x_shape)]
    results = []
    for op in (fn, conv_composed):
        rng = rng_for("composed", str(x_shape))
        x = nnlab.tensor(rng.standard_normal(x_shape), requires_grad=True)
        w = nnlab.tensor(rng.standard_normal(w_shape), requires_grad=True)
        b = nnlab.tensor(rng.standard_normal(w_shape[0]), requires_grad=True)
        y = op(x, w, b, **kwargs)
        y.backward(rng.standard_normal(y.shape))
        results.append([y.array, x.grad.array, w.grad.array, b.grad.array])
    for a, e in zip(*results):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


# -- numerical gradients (float64) ------------------------------------------------------

GRADCHECK = [
    ("conv1d", (2, 2, 6), (4, 1, 3), dict(stride=2, padding=1, groups=2, dilation=1)),
    ("conv1d", (1, 1, 7), (2, 1, 2), dict(padding="same", dilation=2)),
    ("conv2d", (2, 2, 5, 6), (3, 2, 2, 3), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))),
    ("conv2d", (1, 3, 4, 4), (3, 1, 3, 3), dict(padding=1, groups=3)),
    ("conv3d", (1, 2, 3, 4, 3), (2, 1, 2, 2, 2), dict(padding=(1, 0, 1), groups=2, stride=2)),
]


@pytest.mark.parametrize("fn, x_shape, w_shape, kwargs", GRADCHECK)
def test_conv_gradcheck(fn, x_shape, w_shape, kwargs) -> None:
    rng = rng_for("gradcheck", fn, str(x_shape))
    inputs = [
        nnlab.tensor(rng.standard_normal(s), requires_grad=True)
        for s in (x_shape, w_shape, w_shape[:1])
    ]
    assert gradcheck(lambda x, w, b: getattr(F, fn)(x, w, b, **kwargs), inputs)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_conv_padding_mode_gradcheck(mode: str) -> None:
    layer = nn.Conv2d(2, 2, 3, padding=(2, 1), padding_mode=mode, dtype=nnlab.float64)
    x = nnlab.tensor(rng_for("pm", mode).standard_normal((1, 2, 3, 4)), requires_grad=True)
    assert gradcheck(lambda t: layer(t), [x])
    assert gradcheck(lambda w: F.conv2d(F.pad(x, (1, 1, 2, 2), mode=mode), w), [layer.weight])


def test_conv_skips_unneeded_gradients() -> None:
    x = nnlab.randn(2, 3, 6, 6)  # an input batch: no gradient wanted
    conv = nn.Conv2d(3, 4, 3)
    conv.bias.requires_grad_(False)
    conv(x).sum().backward()
    assert x.grad is None and conv.bias.grad is None and conv.weight.grad is not None
    with nnlab.no_grad():
        assert not conv(x).requires_grad


def test_conv_does_not_write_into_its_input() -> None:
    x = nnlab.randn(2, 3, 5, 5, requires_grad=True)
    before = x.array.copy()
    for mode in ("zeros", "reflect", "circular"):
        y = nn.Conv2d(3, 3, 3, padding=1, padding_mode=mode)(x)
        y.backward(np.ones(y.shape, dtype=np.float32))
    np.testing.assert_array_equal(x.array, before)


# -- initialisation, state_dict, repr ---------------------------------------------------


@pytest.mark.parametrize(
    "cls, args, kwargs",
    [("Conv1d", (8, 16, 5), {}), ("Conv2d", (32, 64, 3), dict(groups=4)),
     ("Conv3d", (4, 8, 3), {}), ("ConvTranspose2d", (16, 32, 4), dict(groups=2)),
     ("ConvTranspose1d", (6, 4, 3), dict(bias=False))],
)  # fmt: skip
def test_default_init_matches_torch(cls: str, args: tuple, kwargs: dict) -> None:
    """U(−1/√fan_in, 1/√fan_in) for weight and bias, fan_in = weight.shape[1]·Πk as torch
    computes it (for a transposed layer that is out_channels/groups·Πk)."""
    torch.manual_seed(0)
    theirs = getattr(T, cls)(*args, **kwargs)
    nnlab.manual_seed(0)
    ours = getattr(nn, cls)(*args, **kwargs)
    fan_in = ours.weight.shape[1] * math.prod(ours.weight.shape[2:])
    bound = 1 / math.sqrt(fan_in)
    for name, p in theirs.named_parameters():
        mine = dict(ours.named_parameters())[name].array
        ref = p.detach().numpy()
        assert mine.shape == ref.shape and mine.dtype == ref.dtype == np.float32
        assert np.abs(mine).max() <= bound and np.abs(ref).max() <= bound
        if mine.size > 1000:  # a uniform on ±bound: std = bound/√3, max ≈ bound
            assert abs(mine.std() - ref.std()) < 0.05 * bound / math.sqrt(3)
            assert abs(mine.std() - bound / math.sqrt(3)) < 0.05 * bound / math.sqrt(3)
            assert np.abs(mine).max() > 0.99 * bound
    nnlab.manual_seed(0)
    again = getattr(nn, cls)(*args, **kwargs)
    np.testing.assert_array_equal(again.weight.array, ours.weight.array)


@pytest.mark.parametrize(
    "cls, args, kwargs",
    [("Conv1d", (1, 32, 5), {}),
     ("Conv2d", (4, 8, 3), dict(stride=2, padding=1, bias=False)),
     ("Conv2d", (4, 8, 3), dict(padding="same", dilation=2, groups=4, padding_mode="reflect")),
     ("Conv3d", (2, 4, (1, 2, 3)), dict(padding="valid")),
     ("ConvTranspose2d", (4, 2, 3), dict(stride=2, output_padding=1, dilation=2)),
     ("ConvTranspose3d", (4, 6, 2), dict(groups=2, bias=False))],
)  # fmt: skip
def test_state_dict_and_repr_match_torch(cls: str, args: tuple, kwargs: dict) -> None:
    theirs, ours = getattr(T, cls)(*args, **kwargs), getattr(nn, cls)(*args, **kwargs)
    assert {k: tuple(v.shape) for k, v in theirs.state_dict().items()} == {
        k: v.shape for k, v in ours.state_dict().items()
    }
    assert ours.extra_repr() == theirs.extra_repr()
    assert repr(ours).splitlines()[0] == repr(theirs)
    for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding",
                 "dilation", "groups", "padding_mode", "output_padding", "transposed"):  # fmt: skip
        assert getattr(ours, attr) == getattr(theirs, attr), attr


# -- errors -------------------------------------------------------------------------------


def test_wrong_channels_names_path_and_shapes() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3))
    with pytest.raises(nn.ShapeError) as info:
        model(nnlab.zeros(4, 1, 28, 28))
    message = str(info.value)
    assert "model.0 (Conv2d)" in message
    assert "(N, 3, H, W) or (3, H, W)" in message and "(4, 1, 28, 28)" in message
    assert "in_channels=3" in message and "1 channels" in message


@pytest.mark.parametrize(
    "cls, shape",
    [
        ("Conv1d", (2, 3)),
        ("Conv2d", (2, 3, 4, 5, 6)),
        ("Conv3d", (3, 4, 4)),
        ("ConvTranspose2d", (3, 4)),
    ],
)
def test_wrong_rank_is_a_shape_error(cls: str, shape: tuple[int, ...]) -> None:
    layer = getattr(nn, cls)(3, 2, 1)
    with pytest.raises(nn.ShapeError, match=r"model \(" + cls + r"\).*" + str(shape)):
        layer(nnlab.zeros(*shape))
    with pytest.raises((RuntimeError, ValueError)):
        getattr(T, cls)(3, 2, 1)(torch.zeros(*shape))


def test_output_size_not_positive_explains_the_sizes() -> None:
    layer = nn.Conv2d(3, 4, 5, dilation=2)
    with pytest.raises(nn.ShapeError) as info:
        layer(nnlab.zeros(1, 3, 8, 12))
    message = str(info.value)
    assert "(1, 3, 8, 12)" in message and "(0, 4)" in message
    assert "⌊(S + 2p − δ(k − 1) − 1)/s⌋ + 1" in message and "dilation=(2, 2)" in message
    with pytest.raises(RuntimeError, match=r"conv2d.*\(0, 4\)"):
        F.conv2d(nnlab.zeros(1, 3, 8, 12), nnlab.zeros(4, 3, 5, 5), dilation=2)
    with pytest.raises(RuntimeError):
        TF.conv2d(torch.zeros(1, 3, 8, 12), torch.zeros(4, 3, 5, 5), dilation=2)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [((6, 4, 3), dict(groups=4), r"in_channels must be divisible by groups.*6.*groups=4"),
     ((4, 6, 3), dict(groups=4), r"out_channels must be divisible by groups.*6.*groups=4"),
     ((4, 4, 3), dict(groups=0), "groups must be a positive integer"),
     ((4, 4, 3), dict(stride=2, padding="same"), "not supported for strided"),
     ((4, 4, 3), dict(padding="full"), "padding string 'full'"),
     ((4, 4, 3), dict(padding_mode="mirror"), "padding_mode must be one of")],
)  # fmt: skip
def test_bad_configuration_raises_value_error_like_torch(args, kwargs, match) -> None:
    with pytest.raises(ValueError):
        T.Conv2d(*args, **kwargs)
    with pytest.raises(ValueError, match=match):
        nn.Conv2d(*args, **kwargs)


@pytest.mark.parametrize(
    "x_shape, w_shape, kwargs, match",
    [((1, 3, 5, 5), (2, 2, 3, 3), {}, r"expects an input with 2 channels.*\(1, 3, 5, 5\)"),
     ((1, 4, 5, 5), (3, 2, 3, 3), dict(groups=2), "out_channels=3.*groups=2"),
     ((1, 4, 5, 5), (4, 4, 3, 3), dict(stride=2, padding="same"), "strided"),
     ((4, 5), (4, 4, 3, 3), {}, r"3-D \(unbatched\) or 4-D"),
     ((1, 4, 5, 5), (4, 4, 3, 3), dict(padding=-1), "non-negative")],
)  # fmt: skip
def test_functional_errors_like_torch(x_shape, w_shape, kwargs, match) -> None:
    with pytest.raises(RuntimeError):
        TF.conv2d(torch.zeros(x_shape), torch.zeros(w_shape), **kwargs)
    with pytest.raises(RuntimeError, match=match):
        F.conv2d(nnlab.zeros(*x_shape), nnlab.zeros(*w_shape), **kwargs)


def test_dtype_mismatch_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="dtype"):
        nn.Conv1d(2, 2, 3)(nnlab.zeros(1, 2, 5, dtype=nnlab.float64))


def test_blocked_col2im_matches_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The input gradient's col2im works a block of kernel offsets at a time; one offset
    per block (the smallest cap) must give the same result as one block for all."""
    import nnlab.ops.im2col as im2col

    monkeypatch.setattr(im2col, "FOLD_BLOCK_BYTES", 1)
    by_name = {c.name: c for c in CASES}
    for name in ("2d-groups-no-bias", "2d-stride-pad-dilation", "2d-same", "3d"):
        check_case(by_name[name], by_name[name].shapes[0], np.float64)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_random_configurations_match_torch(data: st.DataObject) -> None:
    """Any valid (d, sizes, kernel, stride, padding, dilation, groups) agrees with torch."""
    d = data.draw(st.integers(1, 3), label="d")
    groups = data.draw(st.sampled_from([1, 2]), label="groups")
    c_in = groups * data.draw(st.integers(1, 2))
    c_out = groups * data.draw(st.integers(1, 2))
    kernel = data.draw(st.tuples(*[st.integers(1, 3)] * d), label="kernel")
    dilation = data.draw(st.tuples(*[st.integers(1, 2)] * d), label="dilation")
    stride = data.draw(st.tuples(*[st.integers(1, 3)] * d), label="stride")
    padding = data.draw(st.tuples(*[st.integers(0, 2)] * d), label="padding")
    span = [dl * (k - 1) + 1 for k, dl in zip(kernel, dilation)]
    size = tuple(data.draw(st.integers(max(1, s - 2 * p), s + 4)) for s, p in zip(span, padding))
    shape = (data.draw(st.integers(1, 2)), c_in) + size
    case = C("random", f"Conv{d}d", (c_in, c_out, kernel), [shape],
             dict(stride=stride, padding=padding, dilation=dilation, groups=groups))  # fmt: skip
    check_case(case, shape, np.float64)


def test_border_padding_larger_than_input_names_the_layer() -> None:
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=3, padding_mode="reflect"))
    expected = r"model\.0 \(Conv2d\).*H > 3, W > 3.*\(1, 1, 3, 8\).*reflect"
    with pytest.raises(nn.ShapeError, match=expected):
        model(nnlab.zeros(1, 1, 3, 8))
    with pytest.raises(RuntimeError):
        T.Conv2d(1, 1, 3, padding=3, padding_mode="reflect")(torch.zeros(1, 1, 3, 8))
