"""Sequence configs through the runner: validation, the seq2seq dates run, text runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnlab.config import ConfigError, load_config, parse_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _problems(data):
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return str(info.value)


def test_text_and_seq2seq_configs_name_what_does_not_fit():
    msg = _problems({"data": {"dataset": "sentiment"}, "model": {"type": "mlp"}})
    assert "cannot read texts" in msg and "bag_of_embeddings" in msg
    msg = _problems({"data": {"dataset": "digits"}, "model": {"type": "transformer"}})
    assert "reads texts" in msg
    msg = _problems({"data": {"dataset": "digits"}, "model": {"type": "gru"}})
    assert 'data.layout = "sequence"' in msg
    msg = _problems({"task": "seq2seq", "data": {"dataset": "dates"}, "model": {"type": "lstm"}})
    assert 'goes with data.dataset = "dates" and model.type = "seq2seq"' in msg
    msg = _problems({"data": {"dataset": "sentiment", "text": {"level": "byte"}},
                     "model": {"type": "lstm"}})  # fmt: skip
    assert "data.text.level" in msg
    cfg = load_config(CONFIGS / "seq2seq_dates.toml")
    assert cfg.training.metrics == ["token_accuracy"] and cfg.loss.name == "cross_entropy"


def test_unknown_dataset_option_is_named(tmp_path):
    from nnlab.runner import train_from_config

    cfg = load_config(CONFIGS / "seq2seq_dates.toml").model_copy(deep=True)
    cfg.data.params = {"n_train": 100, "holdout": "nope"}
    with pytest.raises(ConfigError, match="holdout"):
        train_from_config(cfg, output_dir=str(tmp_path), verbose=False)
    cfg.data.params = {"n_samples": 100}
    with pytest.raises(ConfigError, match="data.params.n_samples is not an option of dates"):
        train_from_config(cfg, output_dir=str(tmp_path), verbose=False)


def test_seq2seq_dates_config_normalises_unseen_dates(tmp_path):
    from nnlab.runner import evaluate_run, predict_run, train_from_config

    result = train_from_config(CONFIGS / "seq2seq_dates.toml", output_dir=str(tmp_path),
                               epochs=4, verbose=False)  # fmt: skip
    assert result.metrics["test"]["exact_match"] >= 0.95
    assert (result.run_dir / "plots" / "attention_0.png").is_file()
    out = predict_run(result.run_dir, ["3rd of March 2021", "Tuesday, July 4, 1978"])
    assert out["prediction"].tolist() == ["2021-03-03", "1978-07-04"]
    assert evaluate_run(result.run_dir)["token_accuracy"] >= 0.99
    with pytest.raises(TypeError, match="list of strings"):
        predict_run(result.run_dir, [[1, 2, 3]])


def test_text_run_predicts_from_strings_and_resumes(tmp_path):
    from nnlab.runner import predict_run, resume_from_run, train_from_config

    cfg = load_config(CONFIGS / "bow_sentiment.toml").model_copy(deep=True)
    cfg.data.params = {"n_train": 600, "n_val": 100}
    result = train_from_config(cfg, output_dir=str(tmp_path), epochs=2, verbose=False)
    assert (result.run_dir / "vocab.json").is_file()
    out = predict_run(result.run_dir, ["i love it 😍", "worst day ever #fail"])
    assert out["prediction"].shape == (2,) and out["probabilities"].shape == (2, 2)
    resumed = resume_from_run(result.run_dir, epochs=3, verbose=False)
    assert resumed.info["epochs_trained"] == 3
