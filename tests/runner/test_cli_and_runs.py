"""CLI and config-driven runs: clear errors before anything is written, resume, predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nnlab.cli import app
from nnlab.config import ConfigError, parse_config
from nnlab.runner import evaluate_run, predict_run, resume_from_run, train_from_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
runner = CliRunner()


def iris(tmp_path, **sections):
    cfg = {"name": "iris", "data": {"dataset": "iris", "batch_size": 16}, "training": {"epochs": 4}}
    for key, value in sections.items():
        cfg.setdefault(key, {}).update(value) if isinstance(value, dict) else cfg.update(
            {key: value}
        )
    return parse_config(cfg)


def test_l1_l2_and_max_norm_regularization_run(tmp_path):
    cfg = iris(tmp_path, regularization={"l1": 1e-3, "l2": 1e-3, "max_norm": 2.0})
    result = train_from_config(cfg, output_dir=str(tmp_path), verbose=False)
    assert result.metrics["test"]["accuracy"] > 0.5


@pytest.mark.parametrize(
    "sections, message",
    [
        ({"training": {"monitor": "val_acc"}}, "training.monitor: 'val_acc' is never logged"),
        ({"data": {"dataset": "moons", "params": {"foo": 1}}}, "data.params.foo is not an option"),
        ({"optimizer": {"name": "sgd", "momentum": -1.0}}, "optimizer.momentum"),
    ],
)
def test_bad_settings_fail_before_a_run_folder_exists(tmp_path, sections, message):
    with pytest.raises(ConfigError, match=message):
        train_from_config(iris(tmp_path, **sections), output_dir=str(tmp_path), verbose=False)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "data, message",
    [
        ({"model": {"hidden_sizes": [0]}}, "model.hidden_sizes.0"),
        ({"task": "regression", "training": {"metrics": ["accuracy"]}}, "not a metric for task"),
        ({"task": "binary", "loss": {"name": "mse"}}, "does not fit task 'binary'"),
    ],
)
def test_config_rejects_values_that_cannot_work(data, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_loss_and_metrics_default_to_the_task():
    assert parse_config({"task": "binary"}).loss.name == "bce_with_logits"
    assert parse_config({"task": "regression"}).training.metrics == ["mse", "mae", "r2"]


def test_multiclass_roc_auc_is_one_vs_rest(tmp_path):
    cfg = iris(tmp_path, training={"metrics": ["accuracy", "roc_auc"]})
    result = train_from_config(cfg, output_dir=str(tmp_path), verbose=False)
    assert 0.5 < result.metrics["test"]["roc_auc"] <= 1.0


def test_kept_weights_are_the_best_epoch_and_resume_continues(tmp_path):
    cfg = iris(tmp_path, training={"epochs": 3})
    first = train_from_config(cfg, output_dir=str(tmp_path), verbose=False)
    info = json.loads((first.run_dir / "run.json").read_text())
    assert info["epochs_trained"] == 3 and 1 <= info["selected_epoch"] <= 3
    resumed = resume_from_run(first.run_dir, epochs=6, verbose=False)
    assert resumed.info["epochs_trained"] == 6
    full = train_from_config(iris(tmp_path, training={"epochs": 6}), output_dir=str(tmp_path),
                             verbose=False)  # fmt: skip
    assert resumed.history["loss"] == full.history["loss"]


def test_perceptron_run_predicts_and_evaluates(tmp_path):
    result = train_from_config(
        CONFIGS / "perceptron_separable.toml", output_dir=str(tmp_path), verbose=False
    )
    assert (result.run_dir / "plots" / "errors.png").is_file()
    assert evaluate_run(result.run_dir)["accuracy"] == result.metrics["test"]["accuracy"]
    from nnlab.config import load_config
    from nnlab.runner import make_splits

    splits = make_splits(load_config(CONFIGS / "perceptron_separable.toml"))
    raw = splits.x_test  # this config does not scale its features
    pred = predict_run(result.run_dir, raw)["prediction"]
    assert (pred == splits.y_test).mean() == result.metrics["test"]["accuracy"]


def test_binary_confidence_is_that_of_the_predicted_class(tmp_path):
    cfg = parse_config({"task": "binary", "data": {"dataset": "moons"}, "training": {"epochs": 3}})
    result = train_from_config(cfg, output_dir=str(tmp_path), verbose=False)
    out = predict_run(result.run_dir, np.array([[0.0, 0.0], [2.0, -1.0], [-1.0, 1.0]]))
    assert np.all(out["confidence"] >= 0.5)
    np.testing.assert_allclose(
        out["confidence"],
        np.where(out["prediction"] == 1, out["probability"], 1 - out["probability"]),
    )


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path):
    out = runner.invoke(app, ["train", str(tmp_path / "nope.toml")])
    assert out.exit_code == 2 and "error:" in out.output and "does not exist" in out.output
    out = runner.invoke(app, ["evaluate", str(tmp_path)])
    assert out.exit_code == 2 and "not a finished run folder" in out.output
    out = runner.invoke(app, ["train"])
    assert out.exit_code == 2 and "either a CONFIG" in out.output


def test_cli_predict_reads_headers_and_reports_bad_widths_and_files(tmp_path):
    cfg = iris(tmp_path)
    run_dir = train_from_config(cfg, output_dir=str(tmp_path), verbose=False).run_dir
    rows = tmp_path / "rows.csv"
    rows.write_text("a,b,c,d\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")
    out = runner.invoke(app, ["predict", str(run_dir), str(rows)])
    assert (
        out.exit_code == 0 and "predictions (2 rows)" in out.output and "confidence" in out.output
    )
    rows.write_text("1,2\n")
    out = runner.invoke(app, ["predict", str(run_dir), str(rows)])
    assert out.exit_code == 2 and "expects 4" in out.output
    (run_dir / "model.safetensors").write_bytes(b"broken")
    rows.write_text("5.1,3.5,1.4,0.2\n")
    out = runner.invoke(app, ["predict", str(run_dir), str(rows)])
    assert out.exit_code == 2 and "model.safetensors fails its SHA-256 check" in out.output


def test_cli_resume(tmp_path):
    run_dir = train_from_config(iris(tmp_path), output_dir=str(tmp_path), verbose=False).run_dir
    out = runner.invoke(app, ["train", "--resume", str(run_dir), "--epochs", "5", "--quiet"])
    assert out.exit_code == 0, out.output
    assert json.loads((run_dir / "run.json").read_text())["epochs_trained"] == 5


def test_param_groups_give_matching_parameters_their_own_options(tmp_path):
    from nnlab import nn
    from nnlab.runner.builders import build_optimizer

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    groups = [{"params": "0.*", "lr": 1e-4, "weight_decay": 0.1}, {"params": ["2.bias"]}]
    cfg = iris(tmp_path, optimizer={"name": "adam", "lr": 0.01, "param_groups": groups})
    opt = build_optimizer(cfg, model)
    by_size = [(len(g["params"]), g["lr"], g["weight_decay"]) for g in opt.param_groups]
    # The parameters no group names (2.weight) come first, with the optimizer's options.
    assert by_size == [(1, 0.01, 0.0), (2, 1e-4, 0.1), (1, 0.01, 0.0)]
    assert opt.param_groups[0]["params"][0] is model[2].weight
    result = train_from_config(cfg, output_dir=str(tmp_path), verbose=False)
    assert result.metrics["test"]["accuracy"] > 0.3


@pytest.mark.parametrize(
    "group, message",
    [
        (
            {"params": "encoder.*", "lr": 1e-4},
            r"param_groups\[0\]\.params: \['encoder\.\*'\] match no",
        ),
        ({"params": "*", "momentum": 0.9}, r"param_groups\[0\]\.momentum is not an option of adam"),
        ({"params": "*", "learning_rate": 0.1}, "learning_rate"),
        ({"lr": 0.1}, "params"),
    ],
)
def test_bad_param_groups_are_named(tmp_path, group, message):
    with pytest.raises(ConfigError, match=message):
        cfg = iris(tmp_path, optimizer={"name": "adam", "param_groups": [group]})
        train_from_config(cfg, output_dir=str(tmp_path), verbose=False)
    assert not any(tmp_path.iterdir())
