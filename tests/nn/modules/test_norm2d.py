"""Feature-map normalization vs PyTorch: BatchNorm2d/3d, GroupNorm, InstanceNorm1d/2d/3d and
LocalResponseNorm; the ops vs finite differences; errors and contracts.

Convention: a case names a layer class (the same name in ``nnlab.nn`` and ``torch.nn``), its
arguments and the input shapes. The torch layer gets random γ, β, its ``state_dict`` loads
into the nnlab twin, and both run several training steps and then evaluation steps on the
same seeded inputs; after every step the output, the gradients of the input and of every
parameter, and every buffer (running statistics, ``num_batches_tracked``) must agree.

Tolerances: float64 uses ``parity.TOLERANCES``; float32 keeps rtol 1e-5 but an atol of
1e-5, because dx = γ/σ·(G - ⟨G⟩ - x̂⟨Gx̂⟩) subtracts nearly equal O(1) terms (as in
tests/nn/modules/test_normalization.py). Each step is ``parity.check_module_step``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from parity import TOLERANCES, Tol, assert_close, check_module_step, rng_for

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.autograd.gradcheck import gradcheck
from nnlab.ops.normalization import batch_norm_composed, group_norm_composed

T = torch.nn
TF = torch.nn.functional
DTYPES = (np.float32, np.float64)
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def tolerance(dtype: Any) -> Tol:
    tol = TOLERANCES[np.dtype(dtype)]
    return Tol(tol.rtol, 1e-5) if np.dtype(dtype) == np.float32 else tol


def twins(cls: str, args: tuple[Any, ...], kwargs: dict[str, Any], dtype: Any):
    """The torch layer with random γ, β and its nnlab twin loaded from its state_dict."""
    theirs = getattr(T, cls)(*args, dtype=TORCH_DTYPE[dtype], **kwargs)
    with torch.no_grad():
        for p in theirs.parameters():
            p.uniform_(0.5, 1.5)
    ours = getattr(nn, cls)(*args, dtype=dtype, **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert repr(ours).splitlines()[0] == repr(theirs)
    return ours, theirs


def run_steps(ours, theirs, shapes, label: str, dtype: Any, modes=("train", "eval")) -> None:
    rng = rng_for(label, np.dtype(dtype).name)
    for mode in modes:
        ours.train(mode == "train")
        theirs.train(mode == "train")
        for k in range(2):
            for shape in shapes:
                x = (rng.standard_normal(shape) * 2.5 + 1.5).astype(dtype)
                g = rng.standard_normal(shape).astype(dtype)
                what = f"{label} {mode} step {k} {shape}"
                check_module_step(ours, theirs, x, g, tolerance(dtype), what)


CASES: list[tuple[str, str, tuple[Any, ...], dict[str, Any], list[tuple[int, ...]]]] = [
    ("bn2d", "BatchNorm2d", (3,), {}, [(4, 3, 5, 5), (2, 3, 3, 4), (1, 3, 4, 3)]),
    ("bn2d-momentum", "BatchNorm2d", (3,), {"momentum": 0.3}, [(3, 3, 4, 5)]),
    ("bn2d-momentum-none", "BatchNorm2d", (3,), {"momentum": None}, [(3, 3, 4, 5), (2, 3, 2, 3)]),
    ("bn2d-no-affine", "BatchNorm2d", (3,), {"affine": False}, [(2, 3, 4, 4)]),
    ("bn2d-no-bias", "BatchNorm2d", (3,), {"bias": False}, [(2, 3, 4, 4)]),
    ("bn2d-no-running-stats", "BatchNorm2d", (3,), {"track_running_stats": False},
     [(3, 3, 4, 4)]),
    ("bn2d-eps", "BatchNorm2d", (3,), {"eps": 0.1}, [(2, 3, 3, 3)]),
    ("bn3d", "BatchNorm3d", (2,), {}, [(2, 2, 3, 4, 2), (1, 2, 2, 2, 3)]),
    ("bn3d-momentum-none", "BatchNorm3d", (2,), {"momentum": None}, [(2, 2, 3, 2, 2)]),
    ("gn", "GroupNorm", (2, 6), {}, [(4, 6, 5, 5), (3, 6, 7), (1, 6, 2, 2, 3), (5, 6)]),
    ("gn-one-group", "GroupNorm", (1, 4), {}, [(3, 4, 3, 3)]),
    ("gn-groups-equal-channels", "GroupNorm", (4, 4), {}, [(3, 4, 3, 3)]),
    ("gn-no-affine", "GroupNorm", (3, 6), {"affine": False}, [(2, 6, 4)]),
    ("gn-no-bias-eps", "GroupNorm", (3, 6), {"bias": False, "eps": 0.1}, [(2, 6, 4, 3)]),
    ("in1d", "InstanceNorm1d", (3,), {}, [(4, 3, 7), (3, 5)]),
    ("in1d-affine", "InstanceNorm1d", (3,), {"affine": True}, [(4, 3, 7)]),
    ("in2d", "InstanceNorm2d", (3,), {}, [(2, 3, 5, 4), (3, 4, 4)]),
    ("in2d-affine-tracked", "InstanceNorm2d", (3,), {"affine": True, "track_running_stats": True},
     [(2, 3, 5, 4), (1, 3, 3, 3)]),
    ("in2d-tracked-momentum-none", "InstanceNorm2d", (3,),
     {"track_running_stats": True, "momentum": None}, [(2, 3, 4, 4)]),
    ("in3d-tracked", "InstanceNorm3d", (2,), {"track_running_stats": True, "momentum": 0.3},
     [(2, 2, 3, 2, 4), (2, 3, 2, 2)]),
]  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name, cls, args, kwargs, shapes", CASES, ids=[c[0] for c in CASES])
def test_norm_layer_matches_torch_over_steps(name, cls, args, kwargs, shapes, dtype) -> None:
    ours, theirs = twins(cls, args, kwargs, dtype)
    run_steps(ours, theirs, shapes, name, dtype)
    if cls.startswith("BatchNorm") and ours.track_running_stats:
        assert int(ours.num_batches_tracked.array) == 2 * len(shapes)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize(
    "args, shape",
    [((3,), (2, 6, 5)), ((2, 1e-3, 0.5, 2.0), (2, 5, 3, 4)), ((4, 1e-2), (1, 6, 2, 3, 2))],
    ids=["3d", "4d", "5d"],
)  # fmt: skip
def test_local_response_norm_matches_torch(args, shape, dtype) -> None:
    ours, theirs = nn.LocalResponseNorm(*args), T.LocalResponseNorm(*args)
    assert repr(ours) == repr(theirs)
    rng = rng_for("lrn", str(shape))
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    check_module_step(ours, theirs, x, g, tolerance(dtype), f"LRN {shape}")


def test_functional_instance_and_group_norm_match_torch() -> None:
    rng = rng_for("functional-norms")
    x = rng.standard_normal((3, 4, 5, 2)) * 2 + 1
    w, b = rng.uniform(0.5, 1.5, 4), rng.standard_normal(4)
    rm, rv = rng.standard_normal(4), rng.uniform(0.5, 2, 4)
    t = torch.from_numpy
    tol = TOLERANCES[np.dtype(np.float64)]
    for use_input_stats in (True, False):
        ours_rm, ours_rv = nnlab.tensor(rm), nnlab.tensor(rv)
        theirs_rm, theirs_rv = t(rm.copy()), t(rv.copy())
        y = F.instance_norm(nnlab.tensor(x), ours_rm, ours_rv, nnlab.tensor(w), nnlab.tensor(b),
                            use_input_stats, 0.2, 1e-3)  # fmt: skip
        e = TF.instance_norm(t(x), theirs_rm, theirs_rv, t(w), t(b), use_input_stats, 0.2, 1e-3)
        assert_close(y.array, e.numpy(), tol, f"instance_norm {use_input_stats}")
        assert_close(ours_rm.array, theirs_rm.numpy(), tol, "instance_norm running_mean")
        assert_close(ours_rv.array, theirs_rv.numpy(), tol, "instance_norm running_var")
    y = F.group_norm(nnlab.tensor(x), 2, nnlab.tensor(w), nnlab.tensor(b), 1e-3)
    assert_close(y.array, TF.group_norm(t(x), 2, t(w), t(b), 1e-3).numpy(), tol, "group_norm")


def test_batchnorm2d_running_statistics_by_hand() -> None:
    """Per channel over (N, H, W): the mean, and the unbiased variance with N·H·W - 1."""
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm2d(3, momentum=0.2, dtype=nnlab.float64)
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = rng.standard_normal((4, 3, 5, 2)) * 3 + 1
        bn(nnlab.tensor(x))
        mean = 0.8 * mean + 0.2 * x.mean(axis=(0, 2, 3))
        var = 0.8 * var + 0.2 * x.var(axis=(0, 2, 3), ddof=1)
        np.testing.assert_allclose(bn.running_mean.array, mean, rtol=1e-12)
        np.testing.assert_allclose(bn.running_var.array, var, rtol=1e-12)
    bn.eval()
    x = rng.standard_normal((2, 3, 2, 2))
    shape = (1, 3, 1, 1)
    expected = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + 1e-5)
    np.testing.assert_allclose(bn(nnlab.tensor(x)).array, expected, rtol=1e-12)


def test_batchnorm2d_fused_equals_composed() -> None:
    results = []
    for fn in (F.batch_norm, batch_norm_composed):
        rng = np.random.default_rng(3)
        x = nnlab.tensor(rng.standard_normal((3, 4, 5, 2)) * 2, requires_grad=True)
        w = nnlab.tensor(rng.uniform(0.5, 1.5, 4), requires_grad=True)
        b = nnlab.tensor(rng.standard_normal(4), requires_grad=True)
        rm, rv = nnlab.zeros(4, dtype=nnlab.float64), nnlab.ones(4, dtype=nnlab.float64)
        y = fn(x, rm, rv, w, b, True, 0.1, 1e-5)
        y.backward(rng.standard_normal((3, 4, 5, 2)))
        results.append([y.array, rm.array, rv.array, x.grad.array, w.grad.array, b.grad.array])
    for a, e in zip(*results):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "shape, groups, affine",
    [((3, 4, 5, 2), 2, True), ((2, 6, 7), 3, False), ((4, 6), 2, True), ((2, 4, 2, 3, 2), 4, True)],
)  # fmt: skip
def test_group_norm_fused_equals_composed(shape, groups, affine) -> None:
    results = []
    for fn in (F.group_norm, group_norm_composed):
        rng = np.random.default_rng(5)
        x = nnlab.tensor(rng.standard_normal(shape) * 2 + 1, requires_grad=True)
        w = nnlab.tensor(rng.uniform(0.5, 1.5, shape[1]), requires_grad=True) if affine else None
        b = nnlab.tensor(rng.standard_normal(shape[1]), requires_grad=True) if affine else None
        y = fn(x, groups, w, b, 1e-5)
        y.backward(rng.standard_normal(shape))
        results.append([y.array] + [t.grad.array for t in (x, w, b) if t is not None])
    for a, e in zip(*results):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12)


# -- finite differences in float64 ---------------------------------------------------------


def _f64(shape: tuple[int, ...], seed: int, scale: float = 1.0, shift: float = 0.0):
    data = np.random.default_rng(seed).standard_normal(shape) * scale + shift
    return nnlab.tensor(data, dtype=nnlab.float64, requires_grad=True)


def _stats(c: int) -> tuple[nnlab.Tensor, nnlab.Tensor]:
    return (nnlab.tensor(np.linspace(-0.5, 0.5, c), dtype=nnlab.float64),
            nnlab.tensor(np.linspace(0.5, 2.0, c), dtype=nnlab.float64))  # fmt: skip


GRADCHECK = [
    ("batch_norm-4d-train", (3, 2, 3, 2),
     lambda x, w, b: F.batch_norm(x, None, None, w, b, True)),
    ("batch_norm-4d-eval", (2, 2, 3, 2),
     lambda x, w, b: F.batch_norm(x, *_stats(2), w, b, False)),
    ("batch_norm-5d-train", (2, 2, 2, 2, 2),
     lambda x, w, b: F.batch_norm(x, None, None, w, b, True)),
    ("group_norm", (2, 4, 3, 2), lambda x, w, b: F.group_norm(x, 2, w, b)),
    ("group_norm-3d", (2, 4, 3), lambda x, w, b: F.group_norm(x, 4, w, b, 1e-3)),
    ("instance_norm", (2, 4, 3, 2), lambda x, w, b: F.instance_norm(x, None, None, w, b)),
    ("instance_norm-eval", (2, 4, 3),
     lambda x, w, b: F.instance_norm(x, *_stats(4), w, b, use_input_stats=False)),
]  # fmt: skip


@pytest.mark.parametrize("name, shape, fn", GRADCHECK, ids=[g[0] for g in GRADCHECK])
def test_norm_gradcheck(name, shape, fn) -> None:
    c = shape[1]
    x, w, b = _f64(shape, 1, 2.0, 0.5), _f64((c,), 2, 0.3, 1.0), _f64((c,), 3)
    assert gradcheck(fn, [x, w, b])


@pytest.mark.parametrize("shape", [(2, 5, 3), (1, 4, 2, 3)], ids=["3d", "4d"])
def test_local_response_norm_gradcheck(shape) -> None:
    x = _f64(shape, 4, 2.0)
    assert gradcheck(lambda t: F.local_response_norm(t, 3, alpha=0.5, beta=0.75, k=1.0), [x])


# -- errors and contracts ------------------------------------------------------------------


@pytest.mark.parametrize(
    "layer, shape, pattern",
    [
        (nn.BatchNorm2d(5), (2, 5, 4), r"model\.1 \(BatchNorm2d\).*\(N, 5, H, W\).*\(2, 5, 4\)"
                                       r".*BatchNorm1d"),
        (nn.BatchNorm2d(5), (2, 5, 4, 4, 4), r"BatchNorm3d"),
        (nn.BatchNorm2d(5), (5, 4, 4), r"unsqueeze"),
        (nn.BatchNorm2d(5), (2, 4, 4, 5), r"num_features=5.*channels-first"),
        (nn.BatchNorm3d(2), (2, 2, 3, 3), r"\(N, 2, D, H, W\).*BatchNorm2d"),
        (nn.GroupNorm(2, 4), (2, 6, 3), r"GroupNorm.*\(N, 4, \*\).*\(2, 6, 3\)"),
        (nn.InstanceNorm2d(3), (2, 3, 4, 4, 4), r"\(N, 3, H, W\).*InstanceNorm3d"),
        (nn.InstanceNorm1d(3, affine=True), (2, 4, 5), r"num_features=3, got 4"),
        (nn.LocalResponseNorm(2), (2, 3), r"LocalResponseNorm.*\(2, 3\)"),
    ],
)  # fmt: skip
def test_layers_raise_shape_errors_with_path(layer, shape, pattern) -> None:
    with pytest.raises(nn.ShapeError, match=pattern):
        nn.Sequential(nn.Identity(), layer)(nnlab.zeros(*shape))


def test_errors_like_torch() -> None:
    with pytest.raises(
        ValueError, match=r"num_channels \(3\) must be divisible by num_groups \(2\)"
    ):
        T.GroupNorm(2, 3)
    with pytest.raises(
        ValueError, match=r"num_channels \(3\) must be divisible by num_groups \(2\)"
    ):
        nn.GroupNorm(2, 3)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        TF.group_norm(torch.zeros(2, 3, 4), 2)
    with pytest.raises(RuntimeError, match=r"group_norm.*divisible by num_groups.*\[2, 3, 4\]"):
        F.group_norm(nnlab.zeros(2, 3, 4), 2)
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        TF.instance_norm(torch.zeros(2, 3, 1))
    with pytest.raises(ValueError, match=r"more than 1 spatial element.*\(2, 3, 1\)"):
        F.instance_norm(nnlab.zeros(2, 3, 1))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        T.BatchNorm2d(3)(torch.zeros(1, 3, 1, 1))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm2d(3)(nnlab.zeros(1, 3, 1, 1))
    nn.BatchNorm2d(3)(nnlab.zeros(1, 3, 2, 1))  # batch 1 is fine with two positions


def test_instance_norm_channel_mismatch_warns_without_affine_like_torch() -> None:
    with pytest.warns(UserWarning, match="does not match num_features"):
        T.InstanceNorm1d(3)(torch.zeros(2, 4, 5))
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm1d(3)(nnlab.zeros(2, 4, 5))


def test_reprs_and_state_dicts_match_torch() -> None:
    pairs = [
        (nn.BatchNorm3d(4, momentum=None, affine=False), T.BatchNorm3d(4, momentum=None,
                                                                       affine=False)),
        (nn.GroupNorm(2, 4, affine=False), T.GroupNorm(2, 4, affine=False)),
        (nn.GroupNorm(2, 4, bias=False), T.GroupNorm(2, 4, bias=False)),
        (nn.InstanceNorm1d(3), T.InstanceNorm1d(3)),
        (nn.InstanceNorm3d(3, affine=True, track_running_stats=True),
         T.InstanceNorm3d(3, affine=True, track_running_stats=True)),
        (nn.LocalResponseNorm(5, 1e-3, 0.5, 2.0), T.LocalResponseNorm(5, 1e-3, 0.5, 2.0)),
    ]  # fmt: skip
    for ours, theirs in pairs:
        assert repr(ours).splitlines()[0] == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
