"""BertModel.from_pretrained and BertConfig as Hugging Face users write them.

Oracle: a tiny randomly initialised ``transformers`` BERT, saved with its own
``save_pretrained`` (config.json + model.safetensors), loaded by nnlab; its hidden states
are compared with the transformers model run in float64, so the bound measures nnlab's
float32 arithmetic, not torch's.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import nnlab
from nnlab.models import BertConfig, BertModel
from nnlab.models.bert import minilm_path

TINY = dict(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=32, max_position_embeddings=24)  # fmt: skip
IDS = np.array([[2, 11, 7, 30, 3, 0], [2, 5, 3, 0, 0, 0]], dtype=np.int64)
MASK = (IDS != 0).astype(np.int64)
TYPES = np.array([[0, 0, 0, 1, 1, 0], [0, 1, 1, 0, 0, 0]], dtype=np.int64)
ATOL = 1e-5  # float32 nnlab vs float64 transformers, |h| ~ 1 after LayerNorm


def _random_hf(transformers, cls_name="BertModel", seed=0, **config):
    """A transformers model whose every parameter (biases and LayerNorms included) is
    random, so that a tensor loaded into the wrong place cannot go unnoticed."""
    import torch

    torch.manual_seed(seed)
    hf_config = transformers.BertConfig(**{**TINY, **config})
    model = getattr(transformers, cls_name)(hf_config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def _reference(encoder):
    """transformers' (last hidden state, pooler output) in float64."""
    import copy

    import torch

    double = copy.deepcopy(encoder).double()
    with torch.no_grad():
        out = double(
            input_ids=torch.from_numpy(IDS),
            attention_mask=torch.from_numpy(MASK),
            token_type_ids=torch.from_numpy(TYPES),
        )
    pooled = None if out.pooler_output is None else out.pooler_output.numpy()
    return out.last_hidden_state.numpy(), pooled


def _assert_matches(ours, encoder):
    expected_hidden, expected_pooled = _reference(encoder)
    with nnlab.no_grad():
        hidden = ours(IDS, MASK, TYPES)
    assert hidden.dtype == np.float32
    real = MASK.astype(bool)  # padded queries are ignored by every caller
    assert np.abs(hidden.numpy() - expected_hidden)[real].max() < ATOL
    if expected_pooled is None:
        assert ours.pooler is None
    else:
        with nnlab.no_grad():
            pooled = ours.pool(hidden).numpy()
        assert np.abs(pooled - expected_pooled).max() < ATOL


@pytest.mark.parametrize("hidden_act", ["gelu", "gelu_new", "relu"])
@pytest.mark.parametrize("pooler", [True, False], ids=["pooler", "no-pooler"])
def test_from_pretrained_computes_what_transformers_computes(
    transformers, tmp_path, hidden_act, pooler
):
    hf = _random_hf(transformers, hidden_act=hidden_act)
    if not pooler:
        hf = transformers.BertModel(hf.config, add_pooling_layer=False).eval()
    hf.save_pretrained(tmp_path)
    ours = BertModel.from_pretrained(tmp_path)
    assert not ours.training and (ours.pooler is not None) == pooler
    assert ours.config.hidden_act == hidden_act and ours.config.num_hidden_layers == 2
    _assert_matches(ours, hf)


@pytest.mark.parametrize("cls_name", ["BertForSequenceClassification", "BertForMaskedLM"])
def test_the_encoder_of_a_task_model(transformers, tmp_path, cls_name):
    """A BertFor... checkpoint stores the encoder under ``bert.``; the head is skipped and
    the pooler is built only when stored (BertForMaskedLM has none)."""
    hf = _random_hf(transformers, cls_name, num_labels=3)
    hf.save_pretrained(tmp_path)
    ours = BertModel.from_pretrained(tmp_path)
    assert (ours.pooler is None) == (cls_name == "BertForMaskedLM")
    assert ours.config.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"} or (
        ours.config.id2label == {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}
    )  # kept as an attribute, as transformers keeps it
    _assert_matches(ours, hf.bert)


def test_float16_checkpoints_load_as_float32(transformers, tmp_path):
    import torch

    hf = _random_hf(transformers)
    hf.to(torch.float16).save_pretrained(tmp_path)
    ours = BertModel.from_pretrained(tmp_path)
    assert all(p.dtype == np.float32 for p in ours.parameters())
    _assert_matches(ours, hf.float())  # the float16 values, computed in float64


def test_the_packaged_minilm(minilm):
    reference, _ = minilm
    ours = BertModel.from_pretrained(minilm_path())
    assert ours.config == reference.config and ours.config.architectures == ["BertModel"]
    theirs = reference.state_dict()
    for name, value in ours.state_dict().items():
        np.testing.assert_array_equal(value.array, theirs[name].array, err_msg=name)


# -- BertConfig -------------------------------------------------------------------------------


def test_config_as_transformers_users_write_it(transformers, tmp_path):
    kwargs = dict(TINY, hidden_act="gelu_new", hidden_dropout_prob=0, use_cache=False,
                  architectures=["BertForMaskedLM"], classifier_dropout=None)  # fmt: skip
    ours, theirs = BertConfig(**kwargs), transformers.BertConfig(**kwargs)
    for key in kwargs:
        assert getattr(ours, key) == getattr(theirs, key), key
    assert isinstance(ours.hidden_dropout_prob, float)
    assert ours.to_dict()["architectures"] == ["BertForMaskedLM"]
    assert BertConfig.from_dict(ours.to_dict()).to_dict() == ours.to_dict()

    from_hf = BertConfig.from_dict(theirs.to_dict())
    assert from_hf == ours and from_hf.model_type == "bert"
    theirs.save_pretrained(tmp_path)
    assert BertConfig.from_json(tmp_path / "config.json") == ours
    assert BertConfig.from_pretrained(tmp_path) == ours
    assert BertConfig.from_dict({"hidden_size": 32}, num_attention_heads=8).num_attention_heads == 8


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(vocab_size="big"), TypeError, r"vocab_size must be an int, got str \('big'\)"),
        (dict(hidden_size=16.0), TypeError, "hidden_size must be an int, got float"),
        (dict(num_hidden_layers=True), TypeError, "num_hidden_layers must be an int, got bool"),
        (dict(num_attention_heads=0), ValueError, "num_attention_heads must be >= 1, got 0"),
        (dict(hidden_dropout_prob=1.5), ValueError, r"hidden_dropout_prob must be in \[0, 1\]"),
        (dict(attention_probs_dropout_prob="0.1"), TypeError, "must be a number, got str"),
        (dict(layer_norm_eps=0.0), ValueError, "layer_norm_eps must be > 0"),
        (dict(pad_token_id=30522), ValueError, "pad_token_id=30522 is not a token id"),
        (dict(hidden_size=10), ValueError, "must be divisible by num_attention_heads=12"),
        (dict(hidden_act="swish"), ValueError, r"hidden_act='swish' is not supported"),
        (dict(position_embedding_type="relative_key"), ValueError, "only 'absolute'"),
        (dict(model_type="roberta"), ValueError, "model_type 'roberta' is not 'bert'"),
        (dict(is_decoder=True), ValueError, "is_decoder=True is not supported"),
        (dict(add_cross_attention=True), ValueError, "encoder only"),
        (dict(to_dict=1), ValueError, "'to_dict' is a method name"),
    ],
)
def test_config_refuses_wrong_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        BertConfig(**kwargs)
    with pytest.raises(error, match=match):
        BertConfig.from_dict(kwargs)


def test_config_keeps_unknown_keys_and_a_missing_pad_token():
    config = BertConfig(pad_token_id=None, output_hidden_states=False, _name_or_path="x")
    assert config.output_hidden_states is False and config._name_or_path == "x"
    assert BertModel(BertConfig(**TINY, pad_token_id=None)).embeddings.word_embeddings is not None
    with pytest.raises(TypeError, match="expected a dict, got list"):
        BertConfig.from_dict([("hidden_size", 8)])


def test_from_json_never_returns_silent_defaults(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope.json does not exist"):
        BertConfig.from_json(tmp_path / "nope.json")
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path}/config.json does not exist"):
        BertConfig.from_json(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"hidden_size": 16,}')
    with pytest.raises(ValueError, match=rf"{bad} is not valid JSON: .*line 1 column"):
        BertConfig.from_json(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match=rf"{bad} holds a JSON list"):
        BertConfig.from_json(bad)
    bad.write_bytes(b'{"hidden_act": "\xff"}')
    with pytest.raises(ValueError, match=rf"cannot read {bad}"):
        BertConfig.from_json(bad)
    folder = tmp_path / "model"
    (folder / "config.json").mkdir(parents=True)  # a folder where the file should be
    with pytest.raises(ValueError, match="cannot read .*config.json"):
        BertConfig.from_json(folder)
    bad.write_text(json.dumps({"hidden_size": 16, "num_attention_heads": 5}))
    with pytest.raises(ValueError, match=rf"{bad}: BertConfig: hidden_size=16 must be divisible"):
        BertConfig.from_json(bad)


# -- from_pretrained errors ------------------------------------------------------------------


def test_a_missing_folder_or_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"model folder {tmp_path}/nope does not exist"):
        BertModel.from_pretrained(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileNotFoundError, match="is a file, not a folder"):
        BertModel.from_pretrained(tmp_path / "file")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(
        FileNotFoundError, match="lacks config.json and model.safetensors; it holds nothing"
    ):
        BertModel.from_pretrained(empty)
    (empty / "config.json").write_text(json.dumps(TINY))
    (empty / "pytorch_model.bin").write_bytes(b"PK")
    with pytest.raises(FileNotFoundError) as info:
        BertModel.from_pretrained(empty)
    message = str(info.value)
    assert "lacks model.safetensors; it holds config.json, pytorch_model.bin" in message
    assert "pytorch_model.bin is a pickle, which nnlab never loads" in message


def test_weights_that_do_not_fit_the_config_are_all_listed(transformers, tmp_path):
    _random_hf(transformers).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config.update(num_hidden_layers=3, intermediate_size=64)
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(RuntimeError) as info:
        BertModel.from_pretrained(tmp_path)
    message = str(info.value)
    assert f"the weights in {tmp_path}/model.safetensors do not fit" in message
    assert "config.json says num_hidden_layers=3, the weights have 2" in message
    assert "config.json says intermediate_size=64, the weights have 32" in message
    assert "missing:    encoder.layer.2.attention.self.query.weight" in message
    shapes = (
        "mis-shaped: encoder.layer.0.intermediate.dense.weight  (model (64, 16), file (32, 16))"
    )
    assert shapes in message
    assert message.count("\n  ") >= 2 + 16 + 4  # 2 settings, layer 2's 16 tensors, 4 shapes


def test_a_damaged_weights_file_is_named(transformers, tmp_path):
    _random_hf(transformers).save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(RuntimeError, match=rf"{weights} cannot be read as safetensors"):
        BertModel.from_pretrained(tmp_path)
