"""What losses have beyond the op table: the module forms (signatures, defaults, buffers,
results) against PyTorch 2.13, the warnings and legacy arguments, the fused ops against
their composed twins, and the two nnlab-only losses against NumPy formulas. The functional
losses' values, gradients and bad inputs run with every op in ``test_ops_parity`` (their
samples are ``loss_db``'s section of ``op_db``)."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from loss_db import LOSSES, LOSSES_BY_NAME, REDUCTIONS
from parity import (
    DTYPES,
    TOLERANCES,
    Const,
    Sample,
    assert_close,
    make_inputs,
    rng_for,
)

import nnlab
import nnlab.nn.functional as F
from nnlab.ops.cross_entropy import cross_entropy_composed
from nnlab.ops.loss import binary_cross_entropy_with_logits_composed

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
#: fused op vs composed twin, both nnlab: the same math in another order of operations
TWIN_TOL = TOLERANCES

FUNCTIONAL = [op.name for op in LOSSES]
NNLAB_ONLY = ["hinge_loss", "contrastive_loss"]


# -- signatures, warnings and legacy arguments ---------------------------------------------


def _parameters(fn) -> list[tuple[str, object]]:
    return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", FUNCTIONAL)
def test_functional_signature_is_torchs(name):
    assert _parameters(getattr(F, name)) == _parameters(getattr(TF, name))


MODULES = [
    "MSELoss",
    "L1Loss",
    "SmoothL1Loss",
    "HuberLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "NLLLoss",
    "KLDivLoss",
    "HingeEmbeddingLoss",
    "MultiMarginLoss",
    "SoftMarginLoss",
    "CosineEmbeddingLoss",
    "MarginRankingLoss",
    "TripletMarginLoss",
]


@pytest.mark.parametrize("name", MODULES)
def test_module_signature_is_torchs(name):
    ours, theirs = getattr(nnlab.nn, name), getattr(torch.nn, name)
    assert _parameters(ours.__init__) == _parameters(theirs.__init__)
    assert _parameters(ours.forward) == _parameters(theirs.forward)


def test_all_losses_exported():
    for name in FUNCTIONAL + NNLAB_ONLY:
        assert name in F.__all__ and callable(getattr(F, name))
    for name in [*MODULES, "HingeLoss", "ContrastiveLoss"]:
        assert name in nnlab.nn.__all__


def test_broadcast_target_warns_like_torch():
    x, t = nnlab.zeros(3, 1), nnlab.zeros(3)
    with pytest.warns(UserWarning, match=r"mse_loss: target shape \(3,\) differs from input "):
        out = F.mse_loss(x, t, reduction="none")
    assert out.shape == (3, 3)
    with pytest.warns(UserWarning, match="target size"):
        TF.mse_loss(torch.zeros(3, 1), torch.zeros(3))


def test_kl_div_mean_warns_like_torch():
    x = nnlab.tensor([[-1.0, -0.5]])
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(x, x.exp())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.kl_div(x, x.exp(), reduction="batchmean")


@pytest.mark.parametrize(
    ("size_average", "reduce", "expected"),
    [(None, False, "none"), (False, None, "sum"), (True, True, "mean"), (False, False, "none")],
)
def test_legacy_size_average_and_reduce(size_average, reduce, expected):
    rng = rng_for("legacy")
    x, t = rng.standard_normal((3, 4)), rng.integers(0, 4, 3)
    with pytest.warns(UserWarning, match=f"reduction='{expected}'"):
        ours = F.cross_entropy(
            nnlab.tensor(x), nnlab.tensor(t), size_average=size_average, reduce=reduce
        )
        module = nnlab.nn.MSELoss(size_average=size_average, reduce=reduce)
    with pytest.warns(UserWarning):
        theirs = TF.cross_entropy(
            torch.tensor(x), torch.tensor(t), size_average=size_average, reduce=reduce
        )
    assert_close(ours.array, theirs.numpy(), TOLERANCES[F64], "legacy cross_entropy")
    assert module.reduction == expected


# -- module forms ---------------------------------------------------------------------------


def _module_cases() -> list[object]:
    """(class name, constructor kwargs, input arrays). Arrays in the kwargs become tensors of
    the input dtype in both libraries (weights are buffers)."""
    rng = rng_for("modules")
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    p, t = rng.uniform(0.1, 0.9, (4, 3)), rng.uniform(0, 1, (4, 3))
    cls = rng.integers(0, 3, 4)
    w = rng.uniform(0.5, 2.0, 3)
    signs = rng.choice([-1.0, 1.0], 4)
    cases = [
        ("MSELoss", {}, (x, y)),
        ("L1Loss", {"reduction": "sum"}, (x, y)),
        ("SmoothL1Loss", {"beta": 0.5}, (x, y)),
        ("HuberLoss", {"delta": 0.5, "reduction": "none"}, (x, y)),
        ("BCELoss", {"weight": w}, (p, t)),
        ("BCEWithLogitsLoss", {"weight": w, "pos_weight": w[::-1].copy()}, (x, t)),
        ("CrossEntropyLoss", {"weight": w, "ignore_index": 1, "label_smoothing": 0.2}, (x, cls)),
        ("CrossEntropyLoss", {"reduction": "none"}, (x, t)),
        ("NLLLoss", {"weight": w, "reduction": "sum"}, (np.log(p), cls)),
        ("KLDivLoss", {"reduction": "batchmean", "log_target": True}, (np.log(p), np.log(t))),
        ("HingeEmbeddingLoss", {"margin": 0.5}, (np.abs(x), np.sign(y))),
        ("MultiMarginLoss", {"p": 2, "margin": 0.5, "weight": w}, (x, cls)),
        ("SoftMarginLoss", {}, (x, np.sign(y))),
        ("CosineEmbeddingLoss", {"margin": 0.2}, (x, y, signs)),
        ("MarginRankingLoss", {"margin": 0.1}, (x[:, 0], y[:, 0], signs)),
        ("TripletMarginLoss", {"margin": 0.5, "p": 1.0, "swap": True}, (x, y, t)),
    ]
    return [
        pytest.param(*c, dtype, id=f"{c[0]}-{i}-{dtype}")
        for i, c in enumerate(cases)
        for dtype in DTYPES
    ]


def _build(lib, name, kwargs, dtype):
    make = (
        (lambda a: nnlab.tensor(a.astype(dtype)))
        if lib is nnlab
        else (lambda a: torch.tensor(a.astype(dtype)))
    )
    config = {k: make(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    return getattr(lib.nn, name)(**config)


@pytest.mark.parametrize(("name", "kwargs", "arrays", "dtype"), _module_cases())
def test_module_matches_torch(name, kwargs, arrays, dtype):
    ours, theirs = _build(nnlab, name, kwargs, dtype), _build(torch, name, kwargs, dtype)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    tol = TOLERANCES[np.dtype(dtype)]
    as_nn = [nnlab.tensor(a.astype(dtype) if a.dtype.kind == "f" else a) for a in arrays]
    as_th = [torch.tensor(a.astype(dtype) if a.dtype.kind == "f" else a) for a in arrays]
    as_nn[0].requires_grad_(True)
    as_th[0].requires_grad_(True)
    out_nn, out_th = ours(*as_nn), theirs(*as_th)
    assert_close(out_nn.array, out_th.detach().numpy(), tol, f"{name} output")
    seed = rng_for(name, "seed").standard_normal(out_th.shape).astype(dtype)
    (g_nn,) = nnlab.autograd.grad(out_nn, [as_nn[0]], seed)
    (g_th,) = torch.autograd.grad(out_th, [as_th[0]], torch.tensor(seed))
    assert_close(g_nn.array, g_th.numpy(), tol, f"{name} input gradient")


def test_module_repr_and_buffers():
    loss = nnlab.nn.CrossEntropyLoss(weight=nnlab.ones(3), label_smoothing=0.1)
    assert (
        repr(loss) == "CrossEntropyLoss(ignore_index=-100, reduction='mean', label_smoothing=0.1)"
    )
    assert list(loss.state_dict()) == ["weight"]
    assert list(nnlab.nn.BCEWithLogitsLoss().state_dict()) == []
    assert repr(nnlab.nn.TripletMarginLoss()) == (
        "TripletMarginLoss(margin=1.0, p=2.0, eps=1e-06, swap=False, reduction='mean')"
    )
    loss.double()
    assert loss.weight.dtype == np.float64


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda lib: lib.nn.TripletMarginLoss(margin=0.0), "margin"),
        (lambda lib: lib.nn.MultiMarginLoss(p=3), "p == 1 and p == 2"),
        (lambda lib: lib.nn.HuberLoss(delta="1"), "delta"),
    ],
)
def test_module_constructor_rejects_like_torch(build, message):
    with pytest.raises((ValueError, TypeError)) as theirs:
        build(torch)
    with pytest.raises(type(theirs.value), match=message):
        build(nnlab)


def test_module_rejects_bad_reduction_at_construction():
    with pytest.raises(ValueError, match=r"MSELoss: 'avg' is not a valid value for reduction"):
        nnlab.nn.MSELoss(reduction="avg")
    assert nnlab.nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"
    with pytest.raises(ValueError, match="batchmean"):
        nnlab.nn.L1Loss(reduction="batchmean")


# -- fused ops and their composed twins -----------------------------------------------------


def _ce_twin_cases() -> list[object]:
    op = LOSSES_BY_NAME["cross_entropy"]
    return [pytest.param(s, id=s.name) for s in op.samples(rng_for(op.name))]


@pytest.mark.parametrize("sample", _ce_twin_cases())
def test_fused_cross_entropy_equals_composed_twin(sample):
    _compare_twins(F.cross_entropy, cross_entropy_composed, sample)


def _compare_twins(fused, composed, sample, dtype=F64):
    ours = make_inputs(sample, "nnlab", dtype)
    twin = make_inputs(sample, "nnlab", dtype)
    out, ref = fused(*ours.args, **ours.kwargs), composed(*twin.args, **twin.kwargs)
    tol = TWIN_TOL[np.dtype(dtype)]
    assert_close(out.array, ref.array, tol, f"{sample.name}: fused vs composed value")
    if not ours.leaves or not out.requires_grad:
        return
    seed = rng_for(sample.name).standard_normal(out.shape).astype(dtype)
    grads = nnlab.autograd.grad(out, ours.leaves, seed, allow_unused=True)
    refs = nnlab.autograd.grad(ref, twin.leaves, seed, allow_unused=True)
    for k, (g, r) in enumerate(zip(grads, refs)):
        assert_close(g.array, r.array, tol, f"{sample.name}: fused vs composed gradient {k}")


@pytest.mark.parametrize(
    "sample",
    [
        pytest.param(s, id=s.name)
        for s in LOSSES_BY_NAME["binary_cross_entropy_with_logits"].samples(
            rng_for("binary_cross_entropy_with_logits")
        )
    ],
)
def test_fused_bce_with_logits_equals_composed_twin(sample):
    def composed(x, t, weight=None, reduction="mean", pos_weight=None):
        return binary_cross_entropy_with_logits_composed(
            x, t, weight=weight, reduction=reduction, pos_weight=pos_weight
        )

    _compare_twins(F.binary_cross_entropy_with_logits, composed, sample)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 6),
    c=st.integers(1, 7),
    spatial=st.sampled_from([(), (3,), (2, 2)]),
    smoothing=st.sampled_from([0.0, 0.25]),
    weighted=st.booleans(),
    ignored=st.booleans(),
    reduction=st.sampled_from(REDUCTIONS),
    seed=st.integers(0, 2**16),
)
def test_fused_cross_entropy_equals_twin_on_random_shapes(
    n, c, spatial, smoothing, weighted, ignored, reduction, seed
):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, c, (n, *spatial))
    if ignored:
        target[rng.uniform(size=target.shape) < 0.3] = -100
    kwargs = {"reduction": reduction, "label_smoothing": smoothing}
    if weighted:
        kwargs["weight"] = Const(rng.uniform(0.2, 2.0, c))
    sample = Sample("random", (rng.standard_normal((n, c, *spatial)) * 2, target), kwargs)
    _compare_twins(F.cross_entropy, cross_entropy_composed, sample)


def test_fused_cross_entropy_gradient_in_place_and_twice():
    """The backward reuses the forward's probability matrix; a second backward through the
    retained graph must recompute it, not see the first gradient."""
    rng = rng_for("twice")
    x = nnlab.tensor(rng.standard_normal((5, 4)), requires_grad=True)
    t = nnlab.tensor(rng.integers(0, 4, 5))
    loss = F.cross_entropy(x, t)
    loss.backward(retain_graph=True)
    first = x.grad.array.copy()
    loss.backward()
    assert_close(x.grad.array, 2 * first, TOLERANCES[F32], "second backward")
    probs = np.exp(x.array - x.array.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    probs[np.arange(5), t.array] -= 1
    assert_close(first, probs / 5, TOLERANCES[F32], "softmax - onehot")


@pytest.mark.parametrize("loss", [F.cross_entropy, cross_entropy_composed], ids=["fused", "twin"])
def test_cross_entropy_second_derivative_matches_torch(loss):
    rng = rng_for("create_graph")
    x = nnlab.tensor(rng.standard_normal((3, 4)), dtype=nnlab.float64, requires_grad=True)
    t = nnlab.tensor(rng.integers(0, 4, 3))
    (g,) = nnlab.autograd.grad(loss(x, t, label_smoothing=0.1), [x], create_graph=True)
    (gg,) = nnlab.autograd.grad((g * g).sum(), [x])
    xt = torch.tensor(x.array, requires_grad=True)
    (g_th,) = torch.autograd.grad(
        TF.cross_entropy(xt, torch.tensor(t.array), label_smoothing=0.1), [xt], create_graph=True
    )
    (gg_th,) = torch.autograd.grad((g_th * g_th).sum(), [xt])
    assert_close(gg.array, gg_th.numpy(), TOLERANCES[F64], "second derivative")


def test_stable_for_extreme_logits():
    x = nnlab.tensor([[1000.0, -1000.0, 0.0], [-1e4, 1e4, 0.0]], requires_grad=True)
    loss = F.cross_entropy(x, nnlab.tensor([1, 1]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.array).all()
    assert loss.item() == pytest.approx(1000.0)
    z = nnlab.tensor([-1000.0, 1000.0], requires_grad=True)
    bce = F.binary_cross_entropy_with_logits(z, nnlab.tensor([1.0, 0.0]), reduction="sum")
    bce.backward()
    assert bce.item() == pytest.approx(2000.0)
    assert z.grad.tolist() == [-1.0, 1.0]
    soft = F.soft_margin_loss(nnlab.tensor([-200.0]), nnlab.tensor([1.0]))
    assert soft.item() == pytest.approx(200.0)  # torch: inf (ln(1 + e²⁰⁰) overflows)


# -- nnlab-only losses against NumPy ---------------------------------------------------------


def _reduce_np(values: np.ndarray, reduction: str) -> np.ndarray:
    return {"none": values, "sum": values.sum(), "mean": values.mean()}[reduction]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [1.0, 0.5])
def test_hinge_loss_matches_numpy(reduction, margin, dtype):
    rng = rng_for("hinge_loss", reduction)
    x, y = rng.standard_normal((4, 5)).astype(dtype), rng.choice([-1, 1], (4, 5))
    xt = nnlab.tensor(x, requires_grad=True)
    out = F.hinge_loss(xt, nnlab.tensor(y), margin=margin, reduction=reduction)
    expected = _reduce_np(np.maximum(0, margin - y * x), reduction)
    assert_close(out.array, np.asarray(expected, dtype=dtype), TOLERANCES[dtype], "hinge_loss")
    seed = rng.standard_normal(out.shape).astype(dtype)
    (g,) = nnlab.autograd.grad(out, [xt], seed)
    scale = seed if reduction == "none" else seed / (x.size if reduction == "mean" else 1)
    expected_grad = -y * (margin - y * x > 0) * scale
    assert_close(g.array, expected_grad.astype(dtype), TOLERANCES[dtype], "hinge_loss grad")
    assert_close(
        nnlab.nn.HingeLoss(margin, reduction)(xt, nnlab.tensor(y)).array,
        out.array,
        None,
        "HingeLoss module",
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 3), (1, 4), (5,)])
def test_contrastive_loss_matches_numpy(reduction, shape, dtype):
    rng = rng_for("contrastive", reduction, str(shape))
    a, b = (rng.standard_normal(shape).astype(dtype) * 0.5 for _ in range(2))
    y = rng.integers(0, 2, shape[:-1])
    at, bt = nnlab.tensor(a, requires_grad=True), nnlab.tensor(b, requires_grad=True)
    out = F.contrastive_loss(at, bt, nnlab.tensor(y), margin=1.2, reduction=reduction)
    d = np.sqrt(((a - b + 1e-6) ** 2).sum(-1))
    per_pair = y * d**2 + (1 - y) * np.maximum(0, 1.2 - d) ** 2
    expected = np.asarray(_reduce_np(per_pair, reduction), dtype=dtype)
    assert_close(out.array, expected, TOLERANCES[dtype], "contrastive_loss")
    seed = rng.standard_normal(out.shape).astype(dtype)
    (ga, gb) = nnlab.autograd.grad(out, [at, bt], seed)
    scale = seed if reduction == "none" else seed / (per_pair.size if reduction == "mean" else 1)
    # ∂l/∂d = 2yd - 2(1-y)max(0, m-d);  ∂d/∂a = (a - b + ε)/d
    dl_dd = (2 * y * d - 2 * (1 - y) * np.maximum(0, 1.2 - d)) * scale
    expected_ga = (dl_dd / d)[..., None] * (a - b + 1e-6)
    tol = TOLERANCES[dtype]
    assert_close(ga.array, expected_ga.astype(dtype), tol, "contrastive_loss grad a")
    assert_close(gb.array, -expected_ga.astype(dtype), tol, "contrastive_loss grad b")
    module = nnlab.nn.ContrastiveLoss(margin=1.2, reduction=reduction)
    assert_close(module(at, bt, nnlab.tensor(y)).array, out.array, None, "ContrastiveLoss module")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: F.hinge_loss(nnlab.zeros(3), nnlab.tensor([0, 1, 1])), "labels must be -1 or 1"),
        (lambda: F.hinge_loss(nnlab.zeros(3), nnlab.tensor([1, 1])), r"\(2,\).*\(3,\)"),
        (
            lambda: F.contrastive_loss(nnlab.zeros(2, 3), nnlab.zeros(2, 3), nnlab.tensor([1, -1])),
            "labels must be 0 or 1",
        ),
        (
            lambda: F.contrastive_loss(nnlab.zeros(2, 3), nnlab.zeros(2, 3), nnlab.tensor([1])),
            r"target \(1,\)",
        ),
        (
            lambda: F.contrastive_loss(nnlab.zeros(2, 3), nnlab.zeros(2, 4), nnlab.tensor([1, 0])),
            r"\(2, 3\).*\(2, 4\)",
        ),
        (lambda: F.hinge_loss(nnlab.zeros(3), nnlab.ones(3), reduction="avg"), "hinge_loss"),
    ],
)
def test_nnlab_only_losses_reject_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
