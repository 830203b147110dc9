"""The model registry: every registered type builds from a minimal config, the config's
allowed names and checks come from the registry, and a new model type needs only its
registry entry."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.config import ConfigError, parse_config
from nnlab.models import registry
from nnlab.models.registry import model_entry, model_names, register_model
from nnlab.runner import build_model, evaluate_run, make_splits, predict_run, train_from_config
from nnlab.runner.builders import output_size
from nnlab.runner.generative import generative_metrics, model_inputs

#: The smallest data that gives each input kind.
_DATA = {
    "features": {"dataset": "iris"},
    "image": {"dataset": "digits", "layout": "image", "image_size": 32},
    "signal": {"dataset": "mnist1d", "layout": "sequence", "params": {"num_samples": 200}},
    "tokens": {"dataset": "sentiment", "params": {"n_train": 40, "n_val": 10}},
    "token_pairs": {"dataset": "dates", "params": {"n_train": 40, "n_test": 10}},
}
#: Data a task is made for (the others use the data of the model's input).
_TASK_DATA = {"segmentation": {"dataset": "shapes", "params": {"n_samples": 16, "size": 16}}}


def minimal_config(name: str) -> dict:
    """A config for model type ``name`` built from its registry entry alone."""
    entry = model_entry(name)
    task = entry.tasks[0]
    data = dict(_TASK_DATA.get(task, _DATA[entry.reads[0]]))
    if entry.input_range is not None:  # data in a fixed range: min-max scaled
        data["scale"] = "minmax"
    if entry.image_size is not None:
        data["image_size"] = entry.image_size
    return {"task": task, "data": data, "model": {"type": name}, "training": {"epochs": 1}}


@pytest.fixture
def scratch_registry(monkeypatch):
    """Entries registered in a test vanish after it."""
    monkeypatch.setattr(registry, "_ENTRIES", dict(registry._ENTRIES))


def test_every_shipped_model_type_is_registered():
    assert set(model_names()) >= {
        "mlp", "linear", "perceptron", "lenet5", "vgg", "resnet", "unet", "cnn1d", "rnn",
        "lstm", "gru", "bag_of_embeddings", "transformer", "seq2seq", "sentence_encoder",
    }  # fmt: skip


@pytest.mark.parametrize("name", model_names())
def test_every_registered_name_builds_from_a_minimal_config(name):
    cfg = parse_config(minimal_config(name))
    nnlab.manual_seed(0)
    splits = make_splits(cfg)
    x = splits.x_train
    shape = tuple((x[0] if isinstance(x, tuple) else x).shape[1:])
    out = output_size(cfg, splits.n_classes)
    model = build_model(cfg, shape, out, splits.vocab_size)
    assert isinstance(model, nn.Module)
    if model_entry(name).loop is not None:  # trained and measured by its own loop
        metrics = generative_metrics(cfg, model, model_inputs(cfg, x[:8]), samples=False)
        assert metrics and all(np.isfinite(v) for v in metrics.values())
        return
    inputs = x if isinstance(x, tuple) else (x,)  # seq2seq reads (source, target_in)
    model.eval()
    with nnlab.no_grad():
        y = model(*(nnlab.tensor(a[:2]) for a in inputs))
    assert y.shape[0] == 2


def test_config_allows_exactly_the_registered_names():
    with pytest.raises(ConfigError) as info:
        parse_config({"model": {"type": "lenet"}})
    listed = re.findall(r"'(\w+)'", str(info.value).split("choose one of")[1])
    assert tuple(listed) == model_names()


def test_grouped_names_are_registry_queries():
    assert model_names(reads="tokens") == (
        "bag_of_embeddings", "gru", "lstm", "rnn", "sentence_encoder", "transformer",
    )  # fmt: skip
    assert model_names(task="segmentation") == ("unet",)
    assert model_entry("perceptron").own_fit and not model_entry("mlp").own_fit
    assert model_entry("sentence_encoder").pretrained == "all-MiniLM-L6-v2"


class TinyNet(nn.Module):
    """A model type the library does not know: one hidden layer of ``width`` units."""

    def __init__(self, n_in: int, n_out: int, width: int = 8) -> None:
        super().__init__()
        self.hidden = nn.Linear(n_in, width)
        self.out = nn.Linear(width, n_out)

    def forward(self, x):
        return self.out(nnlab.relu(self.hidden(x)))


def test_a_new_model_type_needs_only_its_registry_entry(tmp_path, scratch_registry):
    register_model(
        "tiny", reads="features", args=lambda d: {"n_in": d.input_shape[0], "n_out": d.outputs}
    )(TinyNet)
    config = {"name": "tiny", "data": {"dataset": "iris"}, "model": {"type": "tiny",
              "params": {"width": 4}}, "training": {"epochs": 2}}  # fmt: skip
    result = train_from_config(parse_config(config), output_dir=str(tmp_path), verbose=False)
    assert result.info["epochs_trained"] == 2
    out = predict_run(result.run_dir, np.zeros((3, 4)))  # rebuilt from the registry
    assert out["probabilities"].shape == (3, 3)
    assert "accuracy" in evaluate_run(result.run_dir)
    with pytest.raises(ConfigError, match=r"model.params.depth is not an option of tiny"):
        train_from_config(parse_config({**config, "model": {"type": "tiny",
                          "params": {"depth": 2}}}), output_dir=str(tmp_path))  # fmt: skip


def test_config_checks_come_from_the_entry(scratch_registry):
    register_model("tiny_cnn", reads="image", args=lambda d: {})(TinyNet)  # never built
    with pytest.raises(ConfigError, match=r"'tiny_cnn' reads images; set data.layout = \"image\""):
        parse_config({"model": {"type": "tiny_cnn"}})
    parse_config({"data": {"layout": "image"}, "model": {"type": "tiny_cnn"}})
    register_model("tiny_regressor", reads="features", tasks="regression", args=lambda d: {})(
        TinyNet
    )
    with pytest.raises(ConfigError, match="'tiny_regressor' does not do task 'classification'"):
        parse_config({"model": {"type": "tiny_regressor"}})
    with pytest.raises(ConfigError, match="cannot read texts .* choose one of bag_of_emb"):
        parse_config({"task": "regression", "data": {"dataset": "sentiment"},
                      "model": {"type": "tiny_regressor"}})  # fmt: skip


def test_registration_errors_name_the_problem(scratch_registry):
    with pytest.raises(ValueError, match="'mlp' is already registered by .*mlp_or_linear"):
        register_model("mlp", reads="features", args=lambda d: {})(TinyNet)
    with pytest.raises(ValueError, match="reads \\['pixels'\\] unknown"):
        register_model("tiny", reads="pixels", args=lambda d: {})
    with pytest.raises(TypeError, match="args must be a function"):
        register_model("tiny", reads="features", args={"n_in": 4})
    with pytest.raises(ValueError, match="unknown model type 'tiny'; choose one of"):
        model_entry("tiny")


def test_the_runner_names_no_model_type():
    """The general path asks the registry; no model type is spelled out in it."""
    root = Path(__file__).resolve().parents[2] / "nnlab"
    sources = [root / "config.py", *sorted((root / "runner").glob("*.py"))]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"model\.type\s*(==|!=|in\b)", text), path
        assert not re.search(r"\bkind\s*(==|!=)\s*\"", text), path
