"""Transformer layers, stacks and the full nn.Transformer vs PyTorch after load_state_dict.

Convention: each :class:`TfCase` builds the module from a library (``build(lib)`` calls the
same constructor in ``nnlab`` and ``torch``), lists the input shapes (src, or tgt and
memory) and the masks. It runs in float32 and float64 in training mode with dropout 0
(torch's inference fast path is then never taken): output, input gradients and every
parameter gradient must agree. Dropout itself is tested separately (train vs eval,
seeding, statistics).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
from parity import DTYPES, check_module, load_from_torch, rng_for, to_lib

import nnlab
from nnlab import nn

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # torch: nested-tensor notes
D, H, FF = 8, 2, 16


def _enc(lib: Any, **kw: Any) -> Any:
    return lib.nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, **kw)


def _dec(lib: Any, **kw: Any) -> Any:
    return lib.nn.TransformerDecoderLayer(D, H, FF, dropout=0.0, **kw)


@dataclass
class TfCase:
    name: str
    build: Callable[[Any], Any]
    shapes: list[tuple[int, ...]]  # src; or tgt, memory; or src, tgt
    kind: str = "encoder"  # "encoder" (src,), "decoder" (tgt, memory), "transformer"
    masks: dict[str, str] = field(default_factory=dict)  # argument -> "causal"/"kpm"/...
    extra: dict[str, Any] = field(default_factory=dict)
    batch_first: bool = False


CASES = [
    TfCase("enc-post-relu", lambda lib: _enc(lib), [(5, 3, D)],
           masks={"src_mask": "causal", "src_key_padding_mask": "kpm-N3-S5"}),
    TfCase("enc-pre-gelu-batch-first", lambda lib: _enc(lib, activation="gelu", norm_first=True,
                                                        batch_first=True),
           [(3, 5, D)], masks={"src_key_padding_mask": "kpm-N3-S5"}, batch_first=True),
    TfCase("enc-no-bias", lambda lib: _enc(lib, bias=False), [(4, 2, D)],
           masks={"src_mask": "bool-4-4"}),
    TfCase("enc-unbatched", lambda lib: _enc(lib, norm_first=True), [(4, D)]),
    TfCase("enc-batch-1-is-causal", lambda lib: _enc(lib, batch_first=True), [(1, 5, D)],
           masks={"src_mask": "causal"}, extra={"is_causal": True}, batch_first=True),
    TfCase("enc-activation-module", lambda lib: _enc(lib, activation=lib.nn.GELU("tanh"),
                                                     layer_norm_eps=1e-3), [(4, 2, D)]),
    TfCase("dec-post", lambda lib: _dec(lib), [(4, 3, D), (6, 3, D)], kind="decoder",
           masks={"tgt_mask": "causal", "memory_key_padding_mask": "kpm-N3-S6",
                  "tgt_key_padding_mask": "kpm-N3-S4"}),
    TfCase("dec-pre-gelu-batch-first", lambda lib: _dec(lib, norm_first=True, activation="gelu",
                                                        batch_first=True),
           [(2, 4, D), (2, 6, D)], kind="decoder",
           masks={"tgt_mask": "causal", "memory_mask": "float-4-6"},
           extra={"tgt_is_causal": True}, batch_first=True),
    TfCase("encoder-stack", lambda lib: lib.nn.TransformerEncoder(
        _enc(lib, norm_first=True), 2, norm=lib.nn.LayerNorm(D)), [(5, 2, D)],
        masks={"mask": "causal", "src_key_padding_mask": "kpm-N2-S5"}),
    TfCase("decoder-stack", lambda lib: lib.nn.TransformerDecoder(_dec(lib), 2),
           [(4, 2, D), (5, 2, D)],
           kind="decoder", masks={"tgt_mask": "causal"}),
    TfCase("transformer", lambda lib: lib.nn.Transformer(D, H, 2, 2, FF, dropout=0.0),
           [(6, 2, D), (4, 2, D)], kind="transformer",
           masks={"tgt_mask": "causal", "src_key_padding_mask": "kpm-N2-S6",
                  "memory_key_padding_mask": "kpm-N2-S6"}),
    TfCase("transformer-pre-norm-batch-first", lambda lib: lib.nn.Transformer(
        D, H, 1, 2, FF, dropout=0.0, activation="gelu", norm_first=True, batch_first=True),
        [(2, 5, D), (2, 3, D)], kind="transformer", masks={"tgt_mask": "causal"},
        batch_first=True),
]  # fmt: skip


def _mask(spec: str, rng: np.random.Generator) -> Any:
    kind, *dims = spec.split("-")
    if kind == "kpm":
        n, s = int(dims[0][1:]), int(dims[1][1:])
        mask = rng.random((n, s)) < 0.3
        mask[:, 0] = False
        return mask
    shape = (int(dims[0]), int(dims[1]))
    if kind == "bool":
        mask = rng.random(shape) < 0.3
        mask[:, 0] = False
        return mask
    return rng.standard_normal(shape)


def _causal_length(case: TfCase, argument: str) -> int:
    """The length of the sequence a causal mask argument masks (tgt's for tgt_mask)."""
    seq = (
        case.shapes[1] if argument == "tgt_mask" and case.kind == "transformer" else case.shapes[0]
    )
    return seq[1] if (len(seq) == 3 and case.batch_first) else seq[0]


def _forward(case: TfCase) -> Callable[[Any, list[Any], Any], Any]:
    rng = rng_for("tf-masks", case.name)
    masks = {}
    for k, v in case.masks.items():
        if v == "causal":
            n = _causal_length(case, k)
            masks[k] = np.triu(np.full((n, n), -np.inf), 1)
        else:
            masks[k] = _mask(v, rng)

    def forward(module: Any, xs: list[Any], lib: Any) -> Any:
        dtype = np.float64 if xs[0].dtype in (torch.float64, np.float64) else np.float32
        kw = {k: to_lib(v, lib, dtype) for k, v in masks.items()}
        return module(*xs, **kw, **case.extra)

    return forward


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_transformer_matches_torch(case: TfCase, dtype: Any) -> None:
    rng = rng_for("tf", case.name)
    inputs = [rng.standard_normal(s) for s in case.shapes]
    check_module(case.name, lambda: case.build(nnlab), lambda: case.build(torch), inputs,
                 _forward(case), dtype)  # fmt: skip


def test_state_dict_keys_are_torchs() -> None:
    ours, theirs = nn.Transformer(D, H, 1, 1, FF), torch.nn.Transformer(D, H, 1, 1, FF)
    keys = list(ours.state_dict())
    assert keys == list(theirs.state_dict())
    assert "encoder.norm.weight" in keys and "decoder.norm.bias" in keys
    assert "decoder.layers.0.multihead_attn.in_proj_weight" in keys


def test_eval_mode_matches_torch_and_ignores_dropout() -> None:
    x = rng_for("tf-eval").standard_normal((5, 2, D))
    build = lambda lib: lib.nn.TransformerEncoderLayer(D, H, FF, dropout=0.5)  # noqa: E731
    check_module("eval", lambda: build(nnlab), lambda: build(torch), [x],
                 lambda m, xs, lib: m(xs[0]), np.float64, train=False)  # fmt: skip


def test_eval_matches_torch_fast_path() -> None:
    """torch takes its fused inference path under no_grad in eval mode; same numbers."""
    x = rng_for("tf-fast").standard_normal((2, 5, D)).astype(np.float32)
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoderLayer(D, H, FF, batch_first=True).eval()
    ours = nn.TransformerEncoderLayer(D, H, FF, batch_first=True).eval()
    load_from_torch(ours, theirs)
    with torch.no_grad(), nnlab.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
        actual = ours(nnlab.tensor(x)).array
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


def test_dropout_train_vs_eval_and_seeding() -> None:
    layer = nn.TransformerEncoderLayer(D, H, 64, dropout=0.3)
    x = nnlab.randn(10, 4, D)
    seen = {}
    layer.dropout.register_forward_hook(lambda m, inp, out: seen.update(inp=inp[0], out=out))
    nnlab.manual_seed(5)
    a = layer(x)
    hidden, dropped = seen["inp"].array, seen["out"].array
    live = hidden != 0
    kept = dropped[live] != 0
    assert abs(kept.mean() - 0.7) < 0.05  # 10·4·64·(share of positive ReLU) draws
    np.testing.assert_allclose(dropped[live][kept], hidden[live][kept] / 0.7, rtol=1e-6)
    nnlab.manual_seed(5)
    b = layer(x)
    np.testing.assert_array_equal(a.array, b.array)
    assert not np.array_equal(a.array, layer(x).array)
    layer.eval()
    np.testing.assert_array_equal(layer(x).array, layer(x).array)


def test_stacks_deep_copy_the_layer() -> None:
    layer = nn.TransformerEncoderLayer(D, H, FF)
    encoder = nn.TransformerEncoder(layer, 3)
    ws = [m.self_attn.in_proj_weight for m in encoder.layers]
    assert len({id(w) for w in ws}) == 3 and all(
        w is not layer.self_attn.in_proj_weight for w in ws
    )
    for w in ws:
        np.testing.assert_array_equal(w.array, layer.self_attn.in_proj_weight.array)
    encoder.layers[0].linear1.weight.array[...] = 0
    assert encoder.layers[1].linear1.weight.array.any()
    twin = copy.deepcopy(encoder).eval()
    x = nnlab.randn(4, 2, D)
    np.testing.assert_array_equal(twin(x).array, encoder.eval()(x).array)
    assert twin.layers[2].norm1.weight is not encoder.layers[2].norm1.weight
    assert twin.layers[0].path() == "model.layers.0"


def test_causal_mask_detection_and_generation() -> None:
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    expected = torch.nn.Transformer.generate_square_subsequent_mask(4).numpy()
    np.testing.assert_array_equal(mask.array, expected)
    assert mask.dtype == np.float32
    assert (
        nn.Transformer.generate_square_subsequent_mask(2, dtype=nnlab.float64).dtype == np.float64
    )
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF, dropout=0.0), 2)
    x = nnlab.randn(4, 2, D)
    detected = encoder(x, mask=mask)
    explicit = encoder(x, mask=mask, is_causal=True)
    np.testing.assert_allclose(detected.array, explicit.array, rtol=1e-6, atol=1e-6)


def test_bad_inputs_name_the_layer() -> None:
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF), 2)
    with pytest.raises(nn.ShapeError, match=r"model\.layers\.0 \(TransformerEncoderLayer\).*"
                                            r"\(L, N, 8\).*got \(5, 2, 6\)"):  # fmt: skip
        encoder(nnlab.randn(5, 2, 6))
    with pytest.raises(ValueError, match=r"embed_dim=8 and num_heads=3"):
        nn.TransformerEncoderLayer(D, 3)
    with pytest.raises(ValueError, match="'tanh'"):
        nn.TransformerEncoderLayer(D, H, activation="tanh")
    model = nn.Transformer(D, H, 1, 1, FF)
    with pytest.raises(nn.ShapeError, match=r"model \(Transformer\).*batch size 2.*\(4, 3, 8\)"):
        model(nnlab.randn(5, 2, D), nnlab.randn(4, 3, D))
    with pytest.raises(nn.ShapeError, match="d_model=8"):
        model(nnlab.randn(5, 2, D), nnlab.randn(4, 2, 4))
    decoder = nn.TransformerDecoderLayer(D, H, FF)
    with pytest.raises(nn.ShapeError, match=r"memory.*got \(5, 2, 4\)"):
        decoder(nnlab.randn(4, 2, D), nnlab.randn(5, 2, 4))
    with pytest.raises(nn.ShapeError, match=r"model\.self_attn \(MultiheadAttention\).*"
                                            r"attn_mask of shape \(4, 4\)"):  # fmt: skip
        decoder(nnlab.randn(4, 2, D), nnlab.randn(5, 2, D), tgt_mask=np.zeros((3, 3), bool))
