"""F.pad (constant, reflect, replicate, circular) and the padding layers vs PyTorch.

Padding only copies elements, so values must match torch exactly and gradients (sums of
the copies' gradients) to the shared tolerances of ``parity.TOLERANCES``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from parity import TOLERANCES, assert_close, rng_for

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.autograd.gradcheck import gradcheck

T = torch.nn
TF = torch.nn.functional
DTYPES = (np.float32, np.float64)
MODES = ("constant", "reflect", "replicate", "circular")

PADS = [
    ((2, 3, 6), (1, 2)),
    ((3, 6), (2, 0)),
    ((2, 3, 6), (5, 5)),  # reflect: the largest allowed (width < size)
    ((2, 2, 5, 6), (1, 2, 2, 0)),
    ((2, 4, 3), (0, 0, 3, 1)),
    ((1, 2, 3, 4, 5), (1, 1, 2, 0, 1, 2)),
    ((2, 3, 6), (-1, 2)),  # negative widths crop
    ((2, 2, 5, 6), (2, -3, -1, 1)),
]


def _run(lib: Any, fn: Any, x: np.ndarray, seed: np.ndarray | None, **kwargs: Any):
    t = lib.tensor(x, requires_grad=True)
    y = fn(t, **kwargs)
    if seed is None:
        return y, None
    y.backward(seed if lib is nnlab else torch.from_numpy(seed))
    return y, t.grad


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape, pad", PADS, ids=[f"{s}-{p}" for s, p in PADS])
def test_pad_matches_torch(shape: tuple, pad: tuple, mode: str, dtype: Any) -> None:
    sizes = shape[::-1][: len(pad) // 2]  # the padded dims, last first, as in ``pad``
    if mode == "reflect" and any(max(pad[2 * i : 2 * i + 2]) >= n for i, n in enumerate(sizes)):
        pytest.skip("reflect padding must be smaller than the dim (an error, tested below)")
    rng = rng_for("pad", str(shape), str(pad), mode)
    x = rng.standard_normal(shape).astype(dtype)
    yt, _ = _run(torch, TF.pad, x, None, pad=pad, mode=mode)
    seed = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    yt, gt = _run(torch, TF.pad, x, seed, pad=pad, mode=mode)
    ys, gs = _run(nnlab, F.pad, x, seed, pad=pad, mode=mode)
    label = f"pad {shape} {pad} {mode} {np.dtype(dtype)}"
    assert_close(ys.array, yt.detach().numpy(), None, f"{label}: output")  # copies: exact
    assert_close(gs.array, gt.numpy(), TOLERANCES[np.dtype(dtype)], f"{label}: gradient")


def test_constant_pad_value() -> None:
    x = rng_for("value").standard_normal((2, 3, 4))
    ys = F.pad(nnlab.tensor(x), (1, 2, 0, 1), value=-2.5)
    yt = TF.pad(torch.tensor(x), (1, 2, 0, 1), value=-2.5)
    assert_close(ys.array, yt.numpy(), None, "constant pad with a value")


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    "shape, pad", [((2, 5), (2, 3)), ((1, 3, 4), (1, 2, 2, 1)),
                   ((1, 1, 2, 3, 3), (1, 0, 2, 2, 1, 1)), ((2, 4), (-1, 2))],
)  # fmt: skip
def test_pad_gradcheck(shape: tuple, pad: tuple, mode: str) -> None:
    if mode == "reflect" and pad == (1, 0, 2, 2, 1, 1):
        pad = (1, 0, 1, 1, 1, 1)  # reflect needs widths below the dim sizes
    x = nnlab.tensor(rng_for("gc", str(shape), mode).standard_normal(shape), requires_grad=True)
    assert gradcheck(lambda t: F.pad(t, pad, mode=mode), [x])


LAYERS = [
    ("ZeroPad1d", (2,), (2, 3, 5)), ("ZeroPad2d", ((1, 2, 0, 3),), (2, 3, 4, 5)),
    ("ZeroPad3d", (1,), (1, 2, 3, 3, 3)), ("ConstantPad1d", ((0, 2), 1.5), (3, 4)),
    ("ConstantPad2d", (1, -0.5), (2, 2, 3, 3)), ("ConstantPad3d", ((1, 0, 0, 1, 2, 0), 2.0),
                                                 (2, 2, 2, 3)),
    ("ReflectionPad1d", ((3, 1),), (2, 3, 5)), ("ReflectionPad2d", (2,), (2, 3, 4, 5)),
    ("ReflectionPad3d", ((1, 1, 0, 1, 1, 0),), (2, 2, 3, 3)),
    ("ReplicationPad1d", (4,), (3, 2)), ("ReplicationPad2d", ((1, 0, 3, 2),), (1, 2, 3, 4)),
    ("ReplicationPad3d", (1,), (1, 1, 2, 3, 4)),
    ("CircularPad1d", ((2, 1),), (2, 3, 4)), ("CircularPad2d", (1,), (2, 2, 3, 3)),
    ("CircularPad3d", ((0, 1, 1, 0, 2, 2),), (1, 1, 2, 3, 3)),
]  # fmt: skip


@pytest.mark.parametrize("cls, args, shape", LAYERS, ids=[c for c, _, _ in LAYERS])
def test_padding_layers_match_torch(cls: str, args: tuple, shape: tuple) -> None:
    ours, theirs = getattr(nn, cls)(*args), getattr(T, cls)(*args)
    assert repr(ours) == repr(theirs) and ours.padding == theirs.padding
    rng = rng_for(cls)
    x = rng.standard_normal(shape)
    yt, _ = _run(torch, theirs, x, None)
    seed = rng.standard_normal(tuple(yt.shape))
    yt, gt = _run(torch, theirs, x, seed)
    ys, gs = _run(nnlab, ours, x, seed)
    assert_close(ys.array, yt.detach().numpy(), None, f"{cls}: output")
    assert_close(gs.array, gt.numpy(), TOLERANCES[np.dtype(np.float64)], f"{cls}: gradient")


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, pad, mode, match",
    [((1, 2, 3), (3, 0), "reflect", "smaller than the padded dim"),
     ((1, 2, 3), (0, 4), "circular", "wraps around more than once")],
)  # fmt: skip
def test_too_much_padding_raises_like_torch(shape, pad, mode, match) -> None:
    with pytest.raises(RuntimeError):
        TF.pad(torch.zeros(shape), pad, mode=mode)
    with pytest.raises(RuntimeError, match=match):
        F.pad(nnlab.zeros(*shape), pad, mode=mode)


@pytest.mark.parametrize(
    "pad, kwargs, match",
    [((1, 1), dict(mode="mirror"), "mode must be"),
     ((1, 1, 1), dict(mode="reflect"), "divisible by 2"),
     ((1,) * 8, dict(mode="replicate"), "pads 4 dims"),
     ((1, 1), dict(mode="replicate", value=1.0), "only applies to mode='constant'")],
)  # fmt: skip
def test_bad_arguments_raise_value_error(pad, kwargs, match) -> None:
    """torch raises NotImplementedError or RuntimeError here; nnlab treats a bad argument
    value as Python does (ValueError), as the constant mode already did."""
    with pytest.raises((RuntimeError, NotImplementedError)):
        TF.pad(torch.zeros(1, 2, 3), pad, **kwargs)
    with pytest.raises(ValueError, match=match):
        F.pad(nnlab.zeros(1, 2, 3), pad, **kwargs)


def test_padding_layer_shape_errors() -> None:
    with pytest.raises(nn.ShapeError, match=r"model \(ReflectionPad2d\).*\(N, C, H, W\).*\(5,"):
        nn.ReflectionPad2d(1)(nnlab.zeros(5, 6))
    with pytest.raises(nn.ShapeError, match=r"ConstantPad3d.*at least 3 dims"):
        nn.ConstantPad3d(1, 0.0)(nnlab.zeros(5, 6))
    with pytest.raises(TypeError, match="tuple of 4 ints"):
        nn.ZeroPad2d((1, 2))
