"""nn.MultiheadAttention vs torch.nn.MultiheadAttention after load_state_dict.

Convention: the cases are ``module_db.ATTENTION``; each ``module_db.MhaCase`` gives the
constructor arguments (the same in both libraries), the sequence lengths, the masks and the
forward flags. It runs in float32 and
float64 in training mode (dropout 0): the output, the attention weights, the gradients of
query/key/value and of every parameter (by state_dict name) must agree. ``self_attn``
passes ONE tensor as query, key and value (the single-GEMM path). Adding a case means
adding a row.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from module_db import ATTENTION
from parity import DTYPES, ModuleCase, check_module, check_module_case, load_from_torch, to_lib

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.autograd.gradcheck import gradcheck

T = torch.nn


E, H = 8, 2


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", ATTENTION, ids=[c.name for c in ATTENTION])
def test_mha_matches_torch(case: ModuleCase, dtype: Any) -> None:
    for shapes in case.shapes:
        check_module_case(case, shapes, dtype)


def test_mha_eval_and_dropout() -> None:
    """Evaluation ignores dropout (torch's numbers); training drops attention weights with
    the default generator: reproducible under a seed, different without."""
    x = np.random.default_rng(0).standard_normal((5, 2, E))
    check_module("eval", lambda: nn.MultiheadAttention(E, H, dropout=0.5),
                 lambda: T.MultiheadAttention(E, H, dropout=0.5), [x],
                 lambda m, xs, lib: m(xs[0], xs[0], xs[0]), np.float64, train=False)  # fmt: skip
    mha = nn.MultiheadAttention(E, H, dropout=0.5)
    xt = nnlab.tensor(x.astype(np.float32))
    nnlab.manual_seed(3)
    a, wa = mha(xt, xt, xt, average_attn_weights=False)
    nnlab.manual_seed(3)
    b, _ = mha(xt, xt, xt, average_attn_weights=False)
    c, _ = mha(xt, xt, xt)
    np.testing.assert_array_equal(a.array, b.array)
    assert not np.array_equal(a.array, c.array)
    kept = wa.array[wa.array != 0]
    assert 0.3 < (wa.array == 0).mean() < 0.7 and kept.min() > 0


def test_fully_masked_query_nan_with_weights_zero_without() -> None:
    """torch 2.13: the weights path (need_weights=True) gives NaN for a query whose keys are
    all masked, the SDPA path (need_weights=False) gives 0; nnlab does the same."""
    x = np.random.default_rng(1).standard_normal((3, 2, E))
    kpm = np.zeros((2, 3), bool)
    kpm[0] = True
    for need in (True, False):

        def forward(m: Any, xs: list[Any], lib: Any, need: bool = need) -> Any:
            return m(*xs * 3, need_weights=need, key_padding_mask=to_lib(kpm, lib, None))

        check_module(f"empty-{need}", lambda: nn.MultiheadAttention(E, H),
                     lambda: T.MultiheadAttention(E, H), [x], forward, np.float64,
                     backward=not need)  # fmt: skip


def test_mha_default_init_and_state_dict_keys() -> None:
    mha = nn.MultiheadAttention(64, 4)
    bound = math.sqrt(6 / (64 + 3 * 64))  # xavier_uniform_ on (3E, E)
    w = mha.in_proj_weight.array
    assert w.shape == (192, 64) and w.dtype == np.float32
    assert -bound <= w.min() < -0.99 * bound and 0.99 * bound < w.max() <= bound
    assert not mha.in_proj_bias.array.any() and not mha.out_proj.bias.array.any()
    lin = 1 / math.sqrt(64)  # out_proj keeps Linear's U(-1/√E, 1/√E)
    assert -lin <= mha.out_proj.weight.array.min() < -0.98 * lin
    for ctor in (dict(kdim=5, vdim=3), dict(bias=False), dict(add_bias_kv=True)):
        ours, theirs = nn.MultiheadAttention(8, 2, **ctor), T.MultiheadAttention(8, 2, **ctor)
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
            (k, tuple(v.shape)) for k, v in theirs.state_dict().items()]  # fmt: skip
    ours = nn.MultiheadAttention(1024, 4, add_bias_kv=True)
    std = math.sqrt(2 / (1024 + 1024))  # xavier_normal_ of (1, 1, E): fan_in = fan_out = E
    for b in (ours.bias_k.array, ours.bias_v.array):
        assert b.shape == (1, 1, 1024) and abs(float(b.std()) / std - 1) < 0.15


def test_mha_self_attention_projects_with_one_gemm() -> None:
    from nnlab.ops import linear as linear_mod

    calls = []
    original = linear_mod.Linear.forward

    def spy(ctx, x, weight, bias):
        calls.append(weight.shape)
        return original(ctx, x, weight, bias)

    mha = nn.MultiheadAttention(E, H)
    x = nnlab.randn(4, 2, E)
    linear_mod.Linear.forward = staticmethod(spy)
    try:
        mha(x, x, x)
    finally:
        linear_mod.Linear.forward = staticmethod(original)
    assert calls == [(3 * E, E), (E, E)]


def test_mha_gradcheck_tiny() -> None:
    rng = np.random.default_rng(0)
    params = [nnlab.tensor(rng.standard_normal(s) * 0.5, requires_grad=True)
              for s in ((3 * 4, 4), (3 * 4,), (4, 4), (4,))]  # fmt: skip
    x = nnlab.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    kpm = np.array([[False, False, True], [False, False, False]])

    def fn(x, w_in, b_in, w_out, b_out):
        return F.multi_head_attention_forward(
            x, x, x, 4, 2, w_in, b_in, None, None, False, 0.0, w_out, b_out,
            key_padding_mask=kpm, attn_mask=np.triu(np.ones((3, 3), bool), 1),
        )  # fmt: skip

    assert gradcheck(fn, [x, *params])


def test_mha_bad_inputs_name_the_layer() -> None:
    with pytest.raises(ValueError, match=r"embed_dim=10 and num_heads=3"):
        nn.MultiheadAttention(10, 3)
    model = nn.ModuleDict({"attn": nn.MultiheadAttention(E, H, kdim=5)})
    mha = model["attn"]
    q, k, v = nnlab.randn(4, 2, E), nnlab.randn(6, 2, 5), nnlab.randn(6, 2, E)
    with pytest.raises(nn.ShapeError, match=r"model\.attn \(MultiheadAttention\).*\(4, 2, 7\)"):
        mha(nnlab.randn(4, 2, 7), k, v)
    with pytest.raises(nn.ShapeError, match=r"kdim=5"):
        mha(q, nnlab.randn(6, 2, E), v)
    with pytest.raises(nn.ShapeError, match=r"key_padding_mask of shape \(2, 6\).*got \(2, 4\)"):
        mha(q, k, v, key_padding_mask=np.zeros((2, 4), bool))
    with pytest.raises(nn.ShapeError, match=r"attn_mask of shape \(4, 6\).*\(4, 4, 6\).*\(4, 5\)"):
        mha(q, k, v, attn_mask=np.zeros((4, 5), bool))
    with pytest.raises(RuntimeError, match="is_causal"):
        mha(q, k, v, is_causal=True)
    theirs = T.MultiheadAttention(E, H)
    ours = nn.MultiheadAttention(E, H)
    load_from_torch(ours, theirs)
    with pytest.raises(nn.ShapeError, match="batch size 2"):
        ours(q, nnlab.randn(6, 3, E), nnlab.randn(6, 3, E))
