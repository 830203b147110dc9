"""BatchNorm1d and LayerNorm vs PyTorch, and the fused ops vs finite differences and their
composed twins.

Each BatchNorm1d case runs several training steps and then evaluation steps in both
libraries, comparing after every step: the output, the gradients of the input and of
γ, β, and the buffers (running_mean, running_var, num_batches_tracked):
``parity.check_module_step``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from parity import TOLERANCES, Tol, assert_close, check_module_step, rng_for

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.autograd.gradcheck import gradcheck
from nnlab.ops.normalization import batch_norm_composed, layer_norm_composed

T = torch.nn
DTYPES = (np.float32, np.float64)
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def _tolerance(dtype: type) -> Tol:
    # float32 normalisation subtracts nearly equal O(1) terms in dx (G - ⟨G⟩ - x̂⟨Gx̂⟩):
    # the absolute error floor is a few ulps of O(1), hence atol 1e-5 rather than 1e-6.
    tol = TOLERANCES[np.dtype(dtype)]
    return Tol(tol.rtol, 1e-5) if dtype == np.float32 else tol


def _randomise_affine(theirs: torch.nn.Module) -> None:
    with torch.no_grad():
        for p in theirs.parameters():
            p.uniform_(0.5, 1.5)


BN_CASES: list[tuple[str, dict[str, Any], list[tuple[int, ...]]]] = [
    ("default", {}, [(8, 5), (2, 5), (3, 5, 7), (1, 5, 4)]),
    ("momentum=0.3", {"momentum": 0.3}, [(6, 5), (4, 5, 3)]),
    ("momentum=None", {"momentum": None}, [(6, 5), (3, 5), (4, 5, 2)]),
    ("no-affine", {"affine": False}, [(7, 5), (2, 5, 3)]),
    ("no-bias", {"bias": False}, [(4, 5)]),
    ("no-running-stats", {"track_running_stats": False}, [(6, 5), (3, 5, 2)]),
    ("eps=0.1", {"eps": 0.1}, [(5, 5)]),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name, kwargs, shapes", BN_CASES, ids=[c[0] for c in BN_CASES])
def test_batchnorm1d_matches_torch_over_steps(name, kwargs, shapes, dtype) -> None:
    theirs = T.BatchNorm1d(5, dtype=TORCH_DTYPE[dtype], **kwargs)
    _randomise_affine(theirs)
    ours = nn.BatchNorm1d(5, dtype=dtype, **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    rng = rng_for("batchnorm", name, np.dtype(dtype).name)
    for mode in ("train", "eval"):
        ours.train(mode == "train")
        theirs.train(mode == "train")
        for step in range(3):
            for shape in shapes:
                # a shifted, scaled input: the statistics differ from 0 and 1
                x = (rng.standard_normal(shape) * 2.5 + 1.5).astype(dtype)
                g = rng.standard_normal(shape).astype(dtype)
                label = f"BatchNorm1d {name} {mode} step {step} {shape}"
                check_module_step(ours, theirs, x, g, _tolerance(dtype), label)
    if ours.track_running_stats:
        assert int(ours.num_batches_tracked.array) == 3 * len(shapes)


def test_batchnorm_running_statistics_by_hand() -> None:
    """The update rule, spelled out: unbiased variance, momentum, cumulative average."""
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((4, 3)).astype(np.float64) * 3 + 1 for _ in range(4)]
    bn = nn.BatchNorm1d(3, momentum=0.1, dtype=nnlab.float64)
    avg = nn.BatchNorm1d(3, momentum=None, dtype=nnlab.float64)
    mean, var = np.zeros(3), np.ones(3)
    for t, x in enumerate(batches, start=1):
        bn(nnlab.tensor(x))
        avg(nnlab.tensor(x))
        mean = 0.9 * mean + 0.1 * x.mean(0)
        var = 0.9 * var + 0.1 * x.var(0, ddof=1)
        np.testing.assert_allclose(bn.running_mean.array, mean, rtol=1e-12)
        np.testing.assert_allclose(bn.running_var.array, var, rtol=1e-12)
        seen = np.concatenate(batches[:t])
        # cumulative: the average of the batch means (equal batch sizes: the overall mean)
        np.testing.assert_allclose(avg.running_mean.array, seen.mean(0), rtol=1e-12)
        np.testing.assert_allclose(avg.running_var.array, _cumulative(batches[:t]), rtol=1e-12)
        assert int(avg.num_batches_tracked.array) == t
    bn.eval()
    x = rng.standard_normal((2, 3))
    expected = (x - bn.running_mean.array) / np.sqrt(bn.running_var.array + 1e-5)
    np.testing.assert_allclose(bn(nnlab.tensor(x)).array, expected, rtol=1e-12)


def _cumulative(batches: list[np.ndarray]) -> np.ndarray:
    """momentum=None: r_t = r_{t-1} + (s_t - r_{t-1}) / t, starting from r_0 = 1."""
    r = np.ones(batches[0].shape[1])
    for t, b in enumerate(batches, start=1):
        r = r + (b.var(0, ddof=1) - r) / t
    return r


def test_batchnorm_eval_does_not_touch_buffers() -> None:
    bn = nn.BatchNorm1d(4)
    bn(nnlab.randn(8, 4) * 3)
    state = {k: v.array.copy() for k, v in bn.state_dict().items()}
    bn.eval()
    bn(nnlab.randn(8, 4))
    for k, v in bn.state_dict().items():
        np.testing.assert_array_equal(v.array, state[k], err_msg=k)


LN_CASES: list[tuple[str, Any, dict[str, Any], list[tuple[int, ...]]]] = [
    ("last-dim", 6, {}, [(4, 6), (1, 6), (2, 3, 6), (6,)]),
    ("two-dims", (3, 4), {}, [(2, 3, 4), (5, 2, 3, 4)]),
    ("no-affine", 5, {"elementwise_affine": False}, [(3, 5)]),
    ("no-bias", 5, {"bias": False}, [(3, 5), (1, 2, 5)]),
    ("eps", 7, {"eps": 1e-2}, [(3, 7)]),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name, shape, kwargs, inputs", LN_CASES, ids=[c[0] for c in LN_CASES])
def test_layernorm_matches_torch(name, shape, kwargs, inputs, dtype) -> None:
    theirs = T.LayerNorm(shape, dtype=TORCH_DTYPE[dtype], **kwargs)
    _randomise_affine(theirs)
    ours = nn.LayerNorm(shape, dtype=dtype, **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert repr(ours).splitlines()[0] == repr(theirs)
    rng = rng_for("layernorm", name, np.dtype(dtype).name)
    for x_shape in inputs:
        x = (rng.standard_normal(x_shape) * 3 - 1).astype(dtype)
        g = rng.standard_normal(x_shape).astype(dtype)
        check_module_step(ours, theirs, x, g, _tolerance(dtype), f"LayerNorm {name} {x_shape}")


def test_functional_forms_match_torch() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4, 3))
    w, b = rng.uniform(0.5, 1.5, 4), rng.standard_normal(4)
    rm, rv = rng.standard_normal(4), rng.uniform(0.5, 2, 4)
    t = torch.from_numpy
    for training in (True, False):
        ours_rm, ours_rv = nnlab.tensor(rm), nnlab.tensor(rv)
        theirs_rm, theirs_rv = t(rm.copy()), t(rv.copy())
        y = F.batch_norm(nnlab.tensor(x), ours_rm, ours_rv, nnlab.tensor(w), nnlab.tensor(b),
                         training, 0.2, 1e-3)  # fmt: skip
        e = T.functional.batch_norm(t(x), theirs_rm, theirs_rv, t(w), t(b), training, 0.2, 1e-3)
        np.testing.assert_allclose(y.array, e.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours_rm.array, theirs_rm.numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours_rv.array, theirs_rv.numpy(), rtol=1e-12)
    y = F.layer_norm(nnlab.tensor(x), (4, 3), eps=1e-3)
    e = T.functional.layer_norm(t(x), (4, 3), eps=1e-3)
    np.testing.assert_allclose(y.array, e.numpy(), rtol=1e-10, atol=1e-12)


# -- the fused ops: finite differences and the composed twins -----------------------------


def _f64(shape: tuple[int, ...], seed: int, scale: float = 1.0, shift: float = 0.0):
    data = np.random.default_rng(seed).standard_normal(shape) * scale + shift
    return nnlab.tensor(data, dtype=nnlab.float64, requires_grad=True)


def _bn_inputs(shape: tuple[int, ...], affine: bool, training: bool) -> list[Any]:
    c = shape[1]
    x = _f64(shape, 1, 2.0, 0.5)
    rm = nnlab.tensor(np.linspace(-0.5, 0.5, c), dtype=nnlab.float64)
    rv = nnlab.tensor(np.linspace(0.5, 2.0, c), dtype=nnlab.float64)
    w = _f64((c,), 2, 0.3, 1.0) if affine else None
    b = _f64((c,), 3) if affine else None
    return [x, rm if not training else None, rv if not training else None, w, b]


BN_OP_CASES = [((4, 3), True, True), ((3, 2, 4), True, True), ((5, 3), False, True),
               ((4, 3), True, False), ((2, 3, 2), False, False)]  # fmt: skip


@pytest.mark.parametrize("shape, affine, training", BN_OP_CASES)
def test_batch_norm_op_gradcheck(shape, affine, training) -> None:
    x, rm, rv, w, b = _bn_inputs(shape, affine, training)
    leaves = [x] + ([w, b] if affine else [])

    def fn(x, *wb):
        weight, bias = wb if wb else (None, None)
        return F.batch_norm(x, rm, rv, weight, bias, training, 0.1, 1e-5)

    assert gradcheck(fn, leaves)


@pytest.mark.parametrize("shape, affine, training", BN_OP_CASES)
def test_batch_norm_fused_equals_composed(shape, affine, training) -> None:
    results = []
    for fn in (F.batch_norm, batch_norm_composed):
        x, rm, rv, w, b = _bn_inputs(shape, affine, training)
        if training:  # the running statistics must be updated identically too
            rm = nnlab.zeros(shape[1], dtype=nnlab.float64)
            rv = nnlab.ones(shape[1], dtype=nnlab.float64)
        y = fn(x, rm, rv, w, b, training, 0.1, 1e-5)
        y.backward(np.random.default_rng(9).standard_normal(shape))
        grads = [t.grad.array for t in (x, w, b) if t is not None]
        results.append([y.array, rm.array, rv.array, *grads])
    for a, e in zip(*results):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12)


LN_OP_CASES = [((3, 5), 5, True, True), ((2, 3, 4), (3, 4), True, True),
               ((4, 3), 3, False, False), ((2, 4), 4, True, False)]  # fmt: skip


def _ln_inputs(x_shape, shape, affine, bias):
    norm = (shape,) if isinstance(shape, int) else shape
    x = _f64(x_shape, 1, 2.0, -0.5)
    w = _f64(norm, 2, 0.3, 1.0) if affine else None
    b = _f64(norm, 3) if bias else None
    return x, w, b


@pytest.mark.parametrize("x_shape, shape, affine, bias", LN_OP_CASES)
def test_layer_norm_op_gradcheck(x_shape, shape, affine, bias) -> None:
    x, w, b = _ln_inputs(x_shape, shape, affine, bias)
    leaves = [t for t in (x, w, b) if t is not None]

    def fn(*args):
        it = iter(args)
        x = next(it)
        weight = next(it) if affine else None
        bias_ = next(it) if bias else None
        return F.layer_norm(x, shape, weight, bias_, 1e-5)

    assert gradcheck(fn, leaves)


@pytest.mark.parametrize("x_shape, shape, affine, bias", LN_OP_CASES)
def test_layer_norm_fused_equals_composed(x_shape, shape, affine, bias) -> None:
    results = []
    for fn in (F.layer_norm, layer_norm_composed):
        x, w, b = _ln_inputs(x_shape, shape, affine, bias)
        y = fn(x, shape, w, b, 1e-5)
        y.backward(np.random.default_rng(9).standard_normal(x_shape))
        results.append([y.array] + [t.grad.array for t in (x, w, b) if t is not None])
    for a, e in zip(*results):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "op",
    [lambda x: F.batch_norm(x, None, None, training=True), lambda x: F.layer_norm(x, 3)],
    ids=["batch_norm", "layer_norm"],
)
def test_fused_norms_refuse_double_backward(op: Callable[[Any], Any]) -> None:
    x = _f64((4, 3), 0)
    (g,) = nnlab.autograd.grad((op(x) ** 3).sum(), [x], create_graph=False)
    assert g.shape == (4, 3)
    with pytest.raises(RuntimeError, match="higher-order"):
        nnlab.autograd.grad((op(x) ** 3).sum(), [x], create_graph=True)


def test_only_needed_gradients_are_computed() -> None:
    bn = nn.BatchNorm1d(3).eval()
    bn.requires_grad_(False)
    x = nnlab.randn(4, 3, requires_grad=True)
    bn(x).sum().backward()
    assert bn.weight.grad is None and bn.bias.grad is None
    np.testing.assert_allclose(x.grad.array, np.ones((4, 3)) / np.sqrt(1 + 1e-5), rtol=1e-6)


# -- errors and contracts ------------------------------------------------------------------


def test_batchnorm_single_value_per_channel_raises_like_torch() -> None:
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        T.BatchNorm1d(3)(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(nnlab.zeros(1, 3))
    nn.BatchNorm1d(3).eval()(nnlab.zeros(1, 3))  # evaluation uses the running estimates


def test_batchnorm_shape_errors_name_path_and_hint() -> None:
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(5))
    with pytest.raises(nn.ShapeError, match=r"model\.1 \(BatchNorm1d\).*\(N, 5\).*\(2, 6\)"):
        model(nnlab.zeros(2, 4))
    with pytest.raises(nn.ShapeError, match="transpose to \\(N, C, L\\)"):
        nn.BatchNorm1d(5)(nnlab.zeros(2, 7, 5))
    with pytest.raises(nn.ShapeError, match="BatchNorm2d"):
        nn.BatchNorm1d(5)(nnlab.zeros(2, 5, 3, 3))


def test_layernorm_shape_error_names_path() -> None:
    model = nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(4))
    with pytest.raises(nn.ShapeError, match=r"model\.1 \(LayerNorm\).*\(\*, 4\).*\(3, 6\)"):
        model(nnlab.zeros(3, 4))
    with pytest.raises(nn.ShapeError, match="LAST dim"):
        nn.LayerNorm(4)(nnlab.zeros(2, 4, 3))


def test_norm_reprs_match_torch() -> None:
    pairs = [
        (nn.BatchNorm1d(4), T.BatchNorm1d(4)),
        (nn.BatchNorm1d(4, momentum=None, affine=False, track_running_stats=False),
         T.BatchNorm1d(4, momentum=None, affine=False, track_running_stats=False)),
        (nn.LayerNorm((2, 3), elementwise_affine=False), T.LayerNorm((2, 3),
                                                                     elementwise_affine=False)),
        (nn.LayerNorm(3, bias=False), T.LayerNorm(3, bias=False)),
        (nn.BatchNorm1d(3, bias=False), T.BatchNorm1d(3, bias=False)),
    ]  # fmt: skip
    for ours, theirs in pairs:
        assert repr(ours).splitlines()[0] == repr(theirs)


def test_batchnorm_loads_torch_state_after_training() -> None:
    theirs = T.BatchNorm1d(3)
    for _ in range(4):
        theirs(torch.randn(5, 3) * 2 + 1)
    ours = nn.BatchNorm1d(3)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert int(ours.num_batches_tracked.array) == 4
    theirs.eval()
    ours.eval()
    x = np.random.default_rng(0).standard_normal((3, 3)).astype(np.float32)
    assert_close(ours(nnlab.tensor(x)).array, theirs(torch.from_numpy(x)).detach().numpy(),
                 TOLERANCES[np.dtype(np.float32)], "BatchNorm1d eval after loading")  # fmt: skip


def test_double_converts_buffers() -> None:
    bn = nn.BatchNorm1d(3).double()
    assert bn.running_mean.dtype == np.float64 and bn.weight.dtype == np.float64
    assert bn.num_batches_tracked.dtype == np.int64
