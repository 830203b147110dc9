"""The shipped configs reach the accuracy the issue promises; the CLI works end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nnlab.cli import app
from nnlab.config import load_config
from nnlab.runner import train_from_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
runner = CliRunner()


def test_digits_mlp_reaches_97_percent_and_writes_a_run_folder(tmp_path):
    result = train_from_config(CONFIGS / "digits_mlp.toml", output_dir=str(tmp_path), verbose=False)
    assert result.metrics["test"]["accuracy"] >= 0.97
    run = result.run_dir
    for name in ("config.toml", "config.json", "history.json", "history.csv", "metrics.json",
                 "model.safetensors", "preprocessing.json", "checkpoints/best.safetensors",
                 "checkpoints/last.safetensors", "plots/history.png", "plots/lr.png",
                 "plots/confusion_matrix.png"):  # fmt: skip
        assert (run / name).is_file(), name
    assert json.loads((run / "metrics.json").read_text())["test"]["accuracy"] >= 0.97


def test_mnist1d_mlp_reaches_60_percent(tmp_path):
    result = train_from_config(
        CONFIGS / "mnist1d_mlp.toml", output_dir=str(tmp_path), verbose=False
    )
    assert result.metrics["test"]["accuracy"] >= 0.60


def test_perceptron_converges_on_separable_data(tmp_path):
    result = train_from_config(
        CONFIGS / "perceptron_separable.toml", output_dir=str(tmp_path), verbose=False
    )
    assert result.metrics["train"]["accuracy"] == 1.0
    assert result.history["errors_per_epoch"][-1] == 0


def test_sine_regression_fits(tmp_path):
    result = train_from_config(
        CONFIGS / "sine_regression.toml", output_dir=str(tmp_path), verbose=False
    )
    assert result.metrics["test"]["r2"] > 0.8
    assert (result.run_dir / "plots" / "predictions.png").is_file()


def test_imbalanced_binary_reports_f1_and_auc(tmp_path):
    result = train_from_config(
        CONFIGS / "imbalanced_binary.toml", output_dir=str(tmp_path), verbose=False
    )
    test = result.metrics["test"]
    assert test["roc_auc"] > 0.85 and test["f1"] > 0.3
    assert (result.run_dir / "plots" / "roc.png").is_file()


def test_cli_train_evaluate_predict(tmp_path):
    out = runner.invoke(app, ["train", str(CONFIGS / "digits_mlp.toml"), "--output-dir",
                              str(tmp_path), "--epochs", "3", "--quiet"])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "final metrics" in out.output and "run folder" in out.output
    run_dir = next(tmp_path.iterdir())
    out = runner.invoke(app, ["evaluate", str(run_dir)])
    assert out.exit_code == 0 and "accuracy" in out.output
    from nnlab.data.datasets import load_digits

    x, _ = load_digits()
    np.save(tmp_path / "rows.npy", x[:5])
    out = runner.invoke(app, ["predict", str(run_dir), str(tmp_path / "rows.npy")])
    assert out.exit_code == 0 and "predictions (5 rows)" in out.output


def test_cli_reports_bad_config_with_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[optimizer]\nname = "adma"\n[training]\nepoch = 3\n')
    out = runner.invoke(app, ["train", str(bad)])
    assert out.exit_code == 2
    assert "optimizer.name" in out.output and "training.epoch: unknown key" in out.output


def test_option_that_the_optimizer_lacks_is_named(tmp_path):
    cfg = load_config(CONFIGS / "digits_mlp.toml")
    cfg = cfg.model_copy(update={"optimizer": cfg.optimizer.model_copy(update={"momentum": 0.9})})
    cfg.optimizer.model_fields_set.add("momentum")
    from nnlab.config import ConfigError

    with pytest.raises(ConfigError, match="optimizer.momentum is not an option of adam"):
        train_from_config(cfg, output_dir=str(tmp_path), verbose=False)
