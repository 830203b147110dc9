"""F.scaled_dot_product_attention vs PyTorch, vs its composed twin and finite differences;
the teaching layers AdditiveAttention and DotProductAttention vs a NumPy formula.

Convention: each :class:`Case` of ``CASES`` names the shapes of query, key and value and
the mask arguments; it runs in float32 and float64 against torch (output and the
gradients of query, key, value and of a float mask, under a random upstream gradient)
and against ``scaled_dot_product_attention_composed``. Adding a case means adding a row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
from parity import DTYPES, rng_for, to_lib
from parity import compare_to_torch as compare

import nnlab
import nnlab.nn.functional as F
from nnlab import kernels, nn
from nnlab.autograd.gradcheck import gradcheck
from nnlab.ops.attention import attention, scaled_dot_product_attention_composed
from nnlab.random import Generator

TF = torch.nn.functional


@dataclass
class Case:
    name: str
    q: tuple[int, ...]
    k: tuple[int, ...]
    v: tuple[int, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    mask: str | None = None  # "bool", "float", "float-grad", "empty-row"
    mask_shape: tuple[int, ...] | None = None


CASES = [
    Case("4d", (2, 3, 5, 4), (2, 3, 5, 4), (2, 3, 5, 4)),
    Case("T!=S-Ev", (2, 3, 4, 6), (2, 3, 7, 6), (2, 3, 7, 5)),
    Case("batch-1", (1, 1, 3, 4), (1, 1, 6, 4), (1, 1, 6, 4)),
    Case("2d", (4, 3), (6, 3), (6, 2)),
    Case("3d", (3, 4, 5), (3, 6, 5), (3, 6, 5)),
    Case("5d-leading", (2, 2, 2, 3, 4), (2, 2, 2, 5, 4), (2, 2, 2, 5, 3)),
    Case("broadcast-leading", (2, 3, 4, 5), (1, 3, 6, 5), (2, 1, 6, 5)),
    Case("scale", (2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4), dict(scale=0.3)),
    Case("causal", (2, 2, 5, 4), (2, 2, 5, 4), (2, 2, 5, 4), dict(is_causal=True)),
    Case("causal-L<S", (2, 3, 4), (2, 6, 4), (2, 6, 3), dict(is_causal=True)),
    Case("causal-L>S", (2, 6, 4), (2, 3, 4), (2, 3, 3), dict(is_causal=True)),
    Case("bool-mask", (2, 2, 4, 3), (2, 2, 6, 3), (2, 2, 6, 3), mask="bool", mask_shape=(4, 6)),
    Case("bool-mask-per-batch", (2, 2, 4, 3), (2, 2, 6, 3), (2, 2, 6, 3), mask="bool",
         mask_shape=(2, 1, 4, 6)),
    Case("float-mask", (2, 2, 4, 3), (2, 2, 6, 3), (2, 2, 6, 3), mask="float",
         mask_shape=(2, 2, 4, 6)),
    Case("float-mask-grad", (2, 2, 4, 3), (2, 2, 6, 3), (2, 2, 6, 3), mask="float-grad",
         mask_shape=(2, 1, 4, 6)),
    Case("fully-masked-row", (2, 2, 4, 3), (2, 2, 5, 3), (2, 2, 5, 3), mask="empty-row",
         mask_shape=(4, 5)),
    Case("large-logits", (1, 2, 4, 8), (1, 2, 6, 8), (1, 2, 6, 8), dict(scale=30.0)),
]  # fmt: skip


def _inputs(case: Case) -> tuple[list[np.ndarray], np.ndarray | None]:
    rng = rng_for("sdpa", case.name)
    arrays = [rng.standard_normal(s) for s in (case.q, case.k, case.v)]
    mask = None
    if case.mask == "bool":
        mask = rng.random(case.mask_shape) > 0.3
        mask[..., 0] = True  # every query sees at least one key
    elif case.mask == "empty-row":
        mask = rng.random(case.mask_shape) > 0.3
        mask[..., 0] = True
        mask[1] = False  # query 1 sees no key: torch 2.13 returns 0 for it
    elif case.mask in ("float", "float-grad"):
        mask = rng.standard_normal(case.mask_shape)
        mask[..., 1] = -np.inf
    return arrays, mask


def _run(lib: Any, fn: Any, case: Case, dtype: Any, arrays: list, mask: Any) -> tuple:
    xs = [to_lib(a, lib, dtype, grad=True) for a in arrays]
    m = to_lib(mask, lib, dtype, grad=case.mask == "float-grad")
    out = fn(*xs, attn_mask=m, **case.kwargs)
    g = rng_for("sdpa-grad", case.name).standard_normal(out.shape).astype(dtype)
    out.backward(torch.from_numpy(g) if lib is torch else g)
    grads = [x.grad for x in xs] + ([m.grad] if case.mask == "float-grad" else [])
    return out, grads


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_sdpa_matches_torch(case: Case, dtype: Any) -> None:
    arrays, mask = _inputs(case)
    out, grads = _run(nnlab, F.scaled_dot_product_attention, case, dtype, arrays, mask)
    t_out, t_grads = _run(torch, TF.scaled_dot_product_attention, case, dtype, arrays, mask)
    label = f"{case.name} {np.dtype(dtype)}"
    compare(out, t_out, dtype, f"{label}: output")
    for k, (a, e) in enumerate(zip(grads, t_grads)):
        compare(a, e, dtype, f"{label}: gradient of input {k}")
    if case.mask == "empty-row":
        assert not out.array[..., 1, :].any(), "a query with no key gets a zero output"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_sdpa_fused_equals_composed_twin(case: Case) -> None:
    arrays, mask = _inputs(case)
    fused = _run(nnlab, F.scaled_dot_product_attention, case, np.float64, arrays, mask)
    twin = _run(nnlab, scaled_dot_product_attention_composed, case, np.float64, arrays, mask)
    for k, (a, e) in enumerate(zip([fused[0], *fused[1]], [twin[0], *twin[1]])):
        np.testing.assert_allclose(a.array, e.array, rtol=1e-12, atol=1e-13, err_msg=str(k))


def test_sdpa_dropout_equals_twin_with_the_same_seed() -> None:
    """The fused op draws its mask in the weights' (…, L, S) order, as F.dropout does."""
    rng = rng_for("sdpa-dropout-twin")
    arrays = [rng.standard_normal((2, 3, 4, 5)) for _ in range(3)]
    results = []
    for fn in (F.scaled_dot_product_attention, scaled_dot_product_attention_composed):
        xs = [nnlab.tensor(a, requires_grad=True) for a in arrays]
        out = fn(*xs, dropout_p=0.4, is_causal=True, generator=Generator(7))
        out.backward(np.ones(out.shape))
        results.append([out.array] + [x.grad.array for x in xs])
    for a, e in zip(*results):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-13)


def _f64(*shape: int, seed: int) -> nnlab.Tensor:
    data = np.random.default_rng(seed).standard_normal(shape)
    return nnlab.tensor(data, requires_grad=True)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"is_causal": True}, {"scale": 0.7}, {"dropout_p": 0.3}, {"mask": "bool"},
     {"mask": "float"}],
    ids=["plain", "causal", "scale", "dropout", "bool-mask-empty-row", "float-mask"],
)  # fmt: skip
def test_sdpa_gradcheck(kwargs: dict[str, Any]) -> None:
    kwargs = dict(kwargs)
    q, k, v = _f64(2, 3, 4, seed=1), _f64(2, 5, 4, seed=2), _f64(2, 5, 3, seed=3)
    inputs = [q, k, v]
    mask = kwargs.pop("mask", None)
    if mask == "bool":
        m = np.random.default_rng(4).random((3, 5)) > 0.4
        m[0] = False  # a query with no key: zero output and zero gradient
        m[1:, 0] = True
        kwargs["attn_mask"] = m
    if mask == "float":
        inputs.append(_f64(2, 1, 5, seed=5))

    def fn(*xs: nnlab.Tensor) -> nnlab.Tensor:
        extra = {"attn_mask": xs[3]} if len(xs) > 3 else {}
        # A fresh generator per call: every finite-difference forward drops the same entries.
        return F.scaled_dot_product_attention(*xs[:3], **kwargs, **extra, generator=Generator(3))

    assert gradcheck(fn, inputs)


def test_sdpa_returns_weights_and_nan_rows_on_request() -> None:
    """need_weights returns the weights (rows sum to 1); empty_rows="nan" reproduces what
    torch's MultiheadAttention returns for a query with no key."""
    q, k, v = nnlab.randn(2, 3, 4), nnlab.randn(2, 5, 4), nnlab.randn(2, 5, 2)
    bias = np.zeros((3, 5), dtype=np.float32)
    bias[1] = -np.inf
    out, w = attention(q, k, v, bias, need_weights=True)
    np.testing.assert_allclose(w.array.sum(-1)[:, [0, 2]], 1.0, rtol=1e-6)
    assert not w.array[:, 1].any() and not out.array[:, 1].any()
    out, w = attention(q, k, v, bias, need_weights=True, empty_rows="nan")
    assert np.isnan(out.array[:, 1]).all() and np.isfinite(out.array[:, [0, 2]]).all()


def test_sdpa_dropout_statistics_and_seeding() -> None:
    q, k, v = nnlab.zeros(4, 50, 8), nnlab.zeros(4, 50, 8), nnlab.randn(4, 50, 3)
    _, w = attention(q, k, v, None, dropout_p=0.25, need_weights=True)
    w = w.array
    dropped = (w == 0).mean()
    assert abs(dropped - 0.25) < 0.02  # 10,000 weights: σ ≈ 0.004
    np.testing.assert_allclose(w[w != 0], 1 / 50 / 0.75, rtol=1e-6)  # kept ones rescaled
    nnlab.manual_seed(11)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    nnlab.manual_seed(11)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    c = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    np.testing.assert_array_equal(a.array, b.array)
    assert not np.array_equal(a.array, c.array)


def test_sdpa_does_not_modify_inputs_and_skips_unneeded_gradients() -> None:
    arrays = [np.random.default_rng(i).standard_normal((2, 3, 4)) for i in range(3)]
    q = nnlab.tensor(arrays[0].copy(), requires_grad=True)
    k, v = nnlab.tensor(arrays[1].copy()), nnlab.tensor(arrays[2].copy(), requires_grad=True)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 3), bool))
    out.sum().backward()
    for t, a in zip((q, k, v), arrays):
        np.testing.assert_array_equal(t.array, a)
    assert k.grad is None and q.grad is not None and v.grad is not None


ERRORS = [
    ("E-mismatch", (2, 3, 4), (2, 5, 3), (2, 5, 4), {}, "(2, 3, 4)"),
    ("S-mismatch", (2, 3, 4), (2, 5, 4), (2, 4, 4), {}, "(2, 4, 4)"),
    ("1-d", (4,), (4,), (4,), {}, "2-D"),
    ("causal-and-mask", (2, 3, 4), (2, 5, 4), (2, 5, 4),
     {"attn_mask": np.ones((3, 5), bool), "is_causal": True}, "is_causal"),
    ("mask-shape", (2, 3, 4), (2, 5, 4), (2, 5, 4), {"attn_mask": np.ones((3, 4), bool)},
     "(3, 4)"),
    ("mask-adds-dims", (2, 3, 4), (2, 5, 4), (2, 5, 4),
     {"attn_mask": np.ones((2, 2, 3, 5), bool)}, "(2, 2, 3, 5)"),
    ("int-mask", (2, 3, 4), (2, 5, 4), (2, 5, 4), {"attn_mask": np.ones((3, 5), np.int64)},
     "int64"),
    ("dropout-range", (2, 3, 4), (2, 5, 4), (2, 5, 4), {"dropout_p": 1.5}, "1.5"),
]  # fmt: skip


@pytest.mark.parametrize("name, qs, ks, vs, kwargs, mention", ERRORS, ids=[e[0] for e in ERRORS])
def test_sdpa_rejects_what_torch_rejects(name, qs, ks, vs, kwargs, mention) -> None:
    tensors = {lib: [to_lib(np.ones(s, np.float32), lib, np.float32) for s in (qs, ks, vs)]
               for lib in (nnlab, torch)}  # fmt: skip
    torch_kwargs = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                    for k, v in kwargs.items()}  # fmt: skip
    with pytest.raises(RuntimeError):
        TF.scaled_dot_product_attention(*tensors[torch], **torch_kwargs)
    with pytest.raises(RuntimeError) as info:
        F.scaled_dot_product_attention(*tensors[nnlab], **kwargs)
    assert "scaled_dot_product_attention" in str(info.value) and mention in str(info.value)


@pytest.mark.parametrize("dtype", [np.float32, np.bool_], ids=["float mask", "bool mask"])
def test_sdpa_rejects_a_mask_of_one_dim(dtype) -> None:
    """torch reads the mask's last two dims as (L, S) and fails on a 1-d one (IndexError);
    nnlab names the argument and the shape, on both kernel backends."""
    q, mask = np.ones((2, 3, 4, 8), np.float32), np.zeros(4, dtype)
    with pytest.raises(IndexError):
        TF.scaled_dot_product_attention(
            *[torch.from_numpy(q)] * 3, attn_mask=torch.from_numpy(mask)
        )
    for backend in ("numba", "numpy"):
        with kernels.use_backend(backend), pytest.raises(RuntimeError, match=r"attn_mask .*\(4,\)"):
            F.scaled_dot_product_attention(*[nnlab.tensor(q)] * 3, attn_mask=nnlab.tensor(mask))


def test_sdpa_dtype_mismatch_and_gqa() -> None:
    q = nnlab.ones(2, 3, 4)
    with pytest.raises(RuntimeError, match="nnlab.float32, nnlab.float64"):
        F.scaled_dot_product_attention(q, nnlab.ones(2, 3, 4, dtype=nnlab.float64), q)
    with pytest.raises(NotImplementedError, match="enable_gqa"):
        F.scaled_dot_product_attention(q, q, q, enable_gqa=True)


# -- the teaching layers -------------------------------------------------------------------


def _softmax_rows(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _additive_numpy(layer: nn.AdditiveAttention, q: np.ndarray, k: np.ndarray, v: np.ndarray,
                    pad: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """wᵀ tanh(W_q q + W_k k), softmax over the unpadded keys, weighted sum of values."""
    wq, wk = layer.query_proj.weight.array, layer.key_proj.weight.array
    w = layer.score_proj.weight.array[0]
    hidden = np.tanh((q @ wq.T)[:, :, None, :] + (k @ wk.T)[:, None, :, :])
    scores = hidden @ w
    if pad is not None:
        scores = np.where(pad[:, None, :], -np.inf, scores)
    weights = _softmax_rows(scores)
    return weights @ v, weights


def test_additive_attention_matches_numpy_formula() -> None:
    rng = rng_for("additive")
    layer = nn.AdditiveAttention(query_dim=5, key_dim=3, hidden_dim=7).double()
    q, k, v = (
        rng.standard_normal((2, 4, 5)),
        rng.standard_normal((2, 6, 3)),
        rng.standard_normal((2, 6, 2)),
    )
    pad = np.zeros((2, 6), bool)
    pad[0, 4:] = True
    context, weights = layer(nnlab.tensor(q), nnlab.tensor(k), nnlab.tensor(v), pad)
    ctx_np, w_np = _additive_numpy(layer, q, k, v, pad)
    np.testing.assert_allclose(context.array, ctx_np, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(weights.array, w_np, rtol=1e-12, atol=1e-14)
    assert not weights.array[0, :, 4:].any()
    # One query per sample (a decoder step): (N, Dq) -> context (N, Dv), weights (N, S).
    c1, w1 = layer(nnlab.tensor(q[:, 0]), nnlab.tensor(k), nnlab.tensor(v))
    np.testing.assert_allclose(c1.array, _additive_numpy(layer, q[:, :1], k, v, None)[0][:, 0])
    assert w1.shape == (2, 6)
    assert [n for n, _ in layer.named_parameters()] == [
        "query_proj.weight", "key_proj.weight", "score_proj.weight"]  # fmt: skip


def test_additive_attention_gradcheck_and_empty_rows() -> None:
    layer = nn.AdditiveAttention(3, 2, 4).double()
    pad = np.array([[False, True, False], [True, True, True]])  # sample 1: no key at all

    def fn(q, k, v, *params):
        context, weights = layer(q, k, v, pad)
        return context, weights

    inputs = [_f64(2, 2, 3, seed=1), _f64(2, 3, 2, seed=2), _f64(2, 3, 2, seed=3)]
    assert gradcheck(fn, inputs)
    context, weights = fn(*inputs)
    assert not context.array[1].any() and not weights.array[1].any()
    (context.sum() + weights.sum()).backward()
    assert all(np.isfinite(x.grad.array).all() for x in inputs)


@pytest.mark.parametrize("scaled", [True, False])
def test_dot_product_attention_matches_numpy_and_gradcheck(scaled: bool) -> None:
    rng = rng_for("dot", str(scaled))
    q, k, v = (
        rng.standard_normal((2, 3, 4)),
        rng.standard_normal((2, 5, 4)),
        rng.standard_normal((2, 5, 2)),
    )
    pad = np.zeros((2, 5), bool)
    pad[1, :2] = True
    layer = nn.DotProductAttention(scaled=scaled)
    context, weights = layer(nnlab.tensor(q), nnlab.tensor(k), nnlab.tensor(v), pad)
    scores = q @ k.transpose(0, 2, 1) / (math.sqrt(4) if scaled else 1.0)
    w_np = _softmax_rows(np.where(pad[:, None, :], -np.inf, scores))
    np.testing.assert_allclose(weights.array, w_np, rtol=1e-12)
    np.testing.assert_allclose(context.array, w_np @ v, rtol=1e-12)
    fn = lambda *xs: layer(*xs, pad)  # noqa: E731
    assert gradcheck(fn, [_f64(2, 3, 4, seed=4), _f64(2, 5, 4, seed=5), _f64(2, 5, 2, seed=6)])


def test_teaching_layers_reject_bad_shapes_naming_the_layer() -> None:
    model = nn.ModuleDict({"attn": nn.AdditiveAttention(5, 3, 7)})
    q, k, v = nnlab.randn(2, 4, 5), nnlab.randn(2, 6, 3), nnlab.randn(2, 6, 2)
    with pytest.raises(nn.ShapeError, match=r"model\.attn \(AdditiveAttention\).*\(2, 6, 4\)"):
        model["attn"](q, nnlab.randn(2, 6, 4), v)
    with pytest.raises(nn.ShapeError, match=r"key_padding_mask of shape \(2, 6\).*\(2, 5\)"):
        model["attn"](q, k, v, np.zeros((2, 5), bool))
    with pytest.raises(nn.ShapeError, match="DotProductAttention"):
        nn.DotProductAttention()(q, k, v)  # query size 5, key size 3
