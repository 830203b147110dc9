"""Upsample and F.interpolate vs PyTorch: values, input gradients, gradcheck, errors.

Convention: each :class:`UpCase` gives ``nn.Upsample``'s arguments (the same in both
libraries) and the input shapes; both layers run on the same seeded input in float32 and
float64 and must agree on the output and on the gradient of the input for a random
upstream gradient (``parity.TOLERANCES``). Adding a configuration means adding a row.

One torch quirk is pinned down separately: for 1-D and 3-D ``nearest`` resizing whose
output size equals the input size (or twice it) while ``scale_factor`` says otherwise,
torch's forward applies the scale but its backward assumes a copy (or o // 2). nnlab
reproduces the forward and returns the true gradient of it.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass
class UpCase:
    name: str
    kwargs: dict[str, Any]
    shapes: list[tuple[int, ...]]


U = UpCase
CASES = [
    # nearest
    U("nearest1d-x2", dict(scale_factor=2), [(2, 3, 7), (1, 1, 1)]),
    U("nearest1d-x1.7", dict(scale_factor=1.7), [(2, 3, 7)]),
    U("nearest1d-down", dict(scale_factor=0.6), [(2, 3, 11)]),
    U("nearest1d-size", dict(size=13), [(2, 2, 5), (1, 2, 20)]),
    U("nearest2d-x2", dict(scale_factor=2), [(2, 3, 5, 4), (1, 2, 1, 3)]),
    U("nearest2d-x3", dict(scale_factor=3.0), [(1, 2, 3, 4)]),
    U("nearest2d-rect-scale", dict(scale_factor=(1.5, 2.5)), [(2, 2, 5, 3)]),
    U("nearest2d-x1.1-keeps-size", dict(scale_factor=1.1), [(2, 2, 5, 6)]),
    U("nearest2d-down", dict(scale_factor=0.45), [(2, 2, 9, 11)]),
    U("nearest2d-size", dict(size=(5, 9)), [(2, 3, 4, 4), (1, 1, 7, 13)]),
    U("nearest2d-recompute", dict(scale_factor=1.7, recompute_scale_factor=True), [(2, 2, 5, 6)]),
    U("nearest3d-x2", dict(scale_factor=2), [(1, 2, 3, 4, 2)]),
    U("nearest3d-size", dict(size=(4, 7, 5)), [(2, 1, 3, 4, 5)]),
    U("nearest-exact2d", dict(scale_factor=1.7, mode="nearest-exact"), [(2, 2, 5, 6)]),
    U("nearest-exact1d-size", dict(size=4, mode="nearest-exact"), [(2, 2, 9)]),
    # linear, bilinear, trilinear with align_corners both ways
    U("linear-x2", dict(scale_factor=2, mode="linear"), [(2, 3, 7), (1, 1, 2)]),
    U("linear-x2-corners", dict(scale_factor=2, mode="linear", align_corners=True),
      [(2, 3, 7)]),
    U("linear-down", dict(scale_factor=0.6, mode="linear"), [(2, 3, 11)]),
    U("linear-size", dict(size=11, mode="linear"), [(2, 2, 4)]),
    U("linear-size1-corners", dict(size=1, mode="linear", align_corners=True), [(2, 2, 5)]),
    U("bilinear-x2", dict(scale_factor=2, mode="bilinear"), [(2, 3, 5, 4), (1, 1, 1, 1)]),
    U("bilinear-x2-corners", dict(scale_factor=2, mode="bilinear", align_corners=True),
      [(2, 3, 5, 4)]),
    U("bilinear-rect-scale", dict(scale_factor=(1.5, 0.7), mode="bilinear"), [(2, 2, 5, 9)]),
    U("bilinear-rect-scale-corners",
      dict(scale_factor=(2.3, 1.4), mode="bilinear", align_corners=True), [(2, 2, 5, 6)]),
    U("bilinear-size", dict(size=(5, 9), mode="bilinear"), [(2, 3, 4, 4), (1, 2, 7, 13)]),
    U("bilinear-size-corners", dict(size=(7, 3), mode="bilinear", align_corners=True),
      [(2, 3, 4, 5)]),
    U("bilinear-recompute", dict(scale_factor=1.7, mode="bilinear",
                                 recompute_scale_factor=True), [(2, 2, 5, 6)]),
    U("bilinear-x1.1-keeps-size", dict(scale_factor=1.1, mode="bilinear"), [(2, 2, 5, 6)]),
    U("trilinear-x2", dict(scale_factor=2, mode="trilinear"), [(1, 2, 3, 4, 2)]),
    U("trilinear-size-corners", dict(size=(4, 3, 6), mode="trilinear", align_corners=True),
      [(2, 1, 3, 5, 4)]),
    # area (adaptive average pooling)
    U("area2d", dict(size=(3, 4), mode="area"), [(2, 3, 7, 9)]),
    U("area1d-scale", dict(scale_factor=0.5, mode="area"), [(2, 3, 9)]),
]  # fmt: skip


def run_both(ours: Any, theirs: Any, x: np.ndarray, dtype: Any, label: str,
             rng: np.random.Generator) -> None:  # fmt: skip
    xa = x.astype(dtype)
    xn = nnlab.Tensor(xa, requires_grad=True)
    xt = torch.from_numpy(xa).requires_grad_(True)
    out_n, out_t = ours(xn), theirs(xt)
    tol = TOLERANCES[np.dtype(dtype)]
    assert_close(out_n.array, out_t.detach().numpy(), tol, f"{label}: output")
    g = rng.standard_normal(tuple(out_t.shape)).astype(dtype)
    out_n.backward(g)
    out_t.backward(torch.from_numpy(g))
    assert_close(xn.grad.array, xt.grad.numpy(), tol, f"{label}: gradient of the input")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_upsample_matches_torch(case: UpCase, dtype: Any) -> None:
    ours, theirs = nn.Upsample(**case.kwargs), T.Upsample(**case.kwargs)
    assert repr(ours) == repr(theirs)
    rng = rng_for("upsample", case.name, np.dtype(dtype).name)
    for shape in case.shapes:
        x = rng.standard_normal(shape) * 2
        run_both(ours, theirs, x, dtype, f"{case.name} {shape} {np.dtype(dtype)}", rng)


def test_interpolate_non_contiguous_input() -> None:
    rng = rng_for("interpolate-view")
    x = rng.standard_normal((2, 3, 6, 5)).swapaxes(-1, -2)
    for mode in ("nearest", "bilinear"):
        run_both(lambda t, m=mode: F.interpolate(t, scale_factor=1.5, mode=m),
                 lambda t, m=mode: TF.interpolate(t, scale_factor=1.5, mode=m),
                 x, np.float64, f"{mode} transposed", rng)  # fmt: skip


def test_align_corners_meaning() -> None:
    """align_corners=True keeps the corner values; False keeps the image edges, so a
    2x upsampling of [0, 1] reads the source coordinates -0.25 (clamped to 0), 0.25,
    0.75, 1.25 (clamped to the last pixel)."""
    x = nnlab.tensor([[[0.0, 1.0]]])
    corners = F.interpolate(x, size=4, mode="linear", align_corners=True)
    np.testing.assert_allclose(corners.array.ravel(), [0, 1 / 3, 2 / 3, 1], rtol=1e-6)
    edges = F.interpolate(x, scale_factor=2, mode="linear")
    np.testing.assert_allclose(edges.array.ravel(), [0, 0.25, 0.75, 1], rtol=1e-6)


@pytest.mark.parametrize("shape", [(1, 1, 7), (1, 1, 7, 7, 7)], ids=["1d", "3d"])
def test_nearest_same_size_scale_is_applied_and_differentiated_exactly(shape) -> None:
    """L = 7, scale_factor = 1.1: the output keeps 7 pixels but reads 0, 0, 1, ..., 5 (as
    torch's forward does). The true gradient of a sum: 2 for pixel 0, 0 for pixel 6 (per
    resized dim); torch 2.13's backward returns 1 everywhere instead."""
    x = np.arange(float(np.prod(shape))).reshape(shape)
    xn = nnlab.tensor(x, requires_grad=True)
    y = F.interpolate(xn, scale_factor=1.1)
    expected = TF.interpolate(torch.from_numpy(x), scale_factor=1.1)
    np.testing.assert_array_equal(y.array, expected.numpy())
    y.sum().backward()
    per_dim = np.array([2.0, 1, 1, 1, 1, 1, 0])
    grad = per_dim
    for _ in range(len(shape) - 3):
        grad = np.multiply.outer(grad, per_dim)
    np.testing.assert_array_equal(xn.grad.array.reshape(grad.shape), grad)


def test_upsampling_2d_layers_match_torch() -> None:
    rng = rng_for("upsampling2d")
    x = rng.standard_normal((2, 3, 4, 5))
    for ours, theirs in [
        (nn.UpsamplingNearest2d(scale_factor=2), T.UpsamplingNearest2d(scale_factor=2)),
        (nn.UpsamplingBilinear2d(size=(7, 3)), T.UpsamplingBilinear2d(size=(7, 3))),
    ]:
        assert repr(ours) == repr(theirs)
        run_both(ours, theirs, x, np.float64, repr(ours), rng)


def test_upsample_repr_matches_torch() -> None:
    configs = [
        dict(scale_factor=2), dict(scale_factor=(2, 3), mode="bilinear"),
        dict(size=(3, 4), mode="bilinear", align_corners=True), dict(size=5),
    ]  # fmt: skip
    for kwargs in configs:
        assert repr(nn.Upsample(**kwargs)) == repr(T.Upsample(**kwargs))


# -- finite differences in float64 ---------------------------------------------------------

GRADCHECK = [
    ("nearest1d-up", dict(scale_factor=1.7), (1, 2, 4)),
    ("nearest1d-down", dict(size=3), (1, 2, 7)),
    ("nearest2d", dict(size=(5, 3)), (1, 2, 3, 4)),
    ("nearest3d", dict(scale_factor=(2, 1.5, 0.5)), (1, 1, 2, 2, 4)),
    ("nearest-exact", dict(scale_factor=1.7, mode="nearest-exact"), (1, 1, 3, 4)),
    ("linear", dict(scale_factor=2.5, mode="linear"), (2, 1, 4)),
    ("linear-corners", dict(size=7, mode="linear", align_corners=True), (2, 1, 4)),
    ("bilinear", dict(size=(5, 3), mode="bilinear"), (1, 2, 3, 4)),
    ("bilinear-corners", dict(scale_factor=1.5, mode="bilinear", align_corners=True),
     (1, 1, 3, 3)),
    ("trilinear", dict(size=(3, 2, 4), mode="trilinear"), (1, 1, 2, 3, 2)),
    ("area", dict(size=(2, 3), mode="area"), (1, 2, 5, 4)),
]  # fmt: skip


@pytest.mark.parametrize("name, kwargs, shape", GRADCHECK, ids=[g[0] for g in GRADCHECK])
def test_interpolate_gradcheck(name, kwargs, shape) -> None:
    x = nnlab.tensor(np.random.default_rng(len(name)).standard_normal(shape),
                     dtype=nnlab.float64, requires_grad=True)  # fmt: skip
    assert gradcheck(lambda t: F.interpolate(t, **kwargs), [x])


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, kwargs, mentions",
    [
        ((1, 2, 4, 4), dict(scale_factor=2, mode="linear"), ("4D", "linear", "3D")),
        ((1, 2, 4), dict(scale_factor=2, mode="bilinear"), ("3D", "bilinear", "4D")),
        ((1, 2, 4, 4), dict(scale_factor=2, mode="trilinear"), ("trilinear", "5D")),
        ((2, 3), dict(size=3), ("2D", "(2, 3)")),
        ((1, 2, 4, 4), dict(scale_factor=2, align_corners=True), ("align_corners",)),
        ((1, 2, 4, 4), dict(), ("either size or scale_factor",)),
        ((1, 2, 4, 4), dict(size=3, scale_factor=2), ("only one of size or scale_factor",)),
        ((1, 2, 4, 4), dict(size=(3, 4, 5)), ("[4, 4]", "(3, 4, 5)")),
        ((1, 2, 4, 4), dict(scale_factor=(2, 3, 4)), ("[4, 4]", "(2, 3, 4)")),
        ((1, 2, 4, 4), dict(size=3, recompute_scale_factor=True), ("recompute_scale_factor",)),
        ((1, 2, 4, 4), dict(scale_factor=2, mode="bicubic-typo"), ("bicubic-typo",)),
    ],
)  # fmt: skip
def test_interpolate_errors_like_torch(shape, kwargs, mentions) -> None:
    with pytest.raises(Exception) as torch_exc:
        TF.interpolate(torch.zeros(shape), **kwargs)
    with pytest.raises(torch_exc.type) as ours:
        F.interpolate(nnlab.zeros(*shape), **kwargs)
    for m in ("interpolate", *mentions):
        assert m in str(ours.value), (m, str(ours.value))


def test_upsample_shape_errors_name_path() -> None:
    model = nn.Sequential(nn.Identity(), nn.Upsample(scale_factor=2, mode="bilinear"))
    with pytest.raises(
        nn.ShapeError, match=r"model\.1 \(Upsample\).*\(N, C, H, W\).*mode='linear'"
    ):
        model(nnlab.zeros(2, 3, 5))
    with pytest.raises(nn.ShapeError, match=r"\(2, 3\)"):
        nn.Upsample(scale_factor=2)(nnlab.zeros(2, 3))
