"""``nnlab doctor CONFIG_OR_RUN``: a config file and a finished run folder are both
diagnosed (the healthy digits config without alarm, exit 0; a planted fault named, exit 1),
``--json`` writes the findings, and a bad path or config is one ``error:`` paragraph with
exit 2 and no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nnlab.cli import app
from nnlab.doctor.command import doctor_command
from nnlab.runner import train_from_config

pytestmark = pytest.mark.usefixtures("one_blas_thread")

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["doctor", *args])


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


def _quick_digits(tmp_path: Path, **replace: str) -> Path:
    text = (CONFIGS / "digits_mlp.toml").read_text()
    text = text.replace("epochs = 40", "epochs = 1")
    for old, new in replace.items():
        text = text.replace(old, new)
    return _config(tmp_path, text)


def test_the_healthy_digits_config_has_no_alarm_and_exits_0(tmp_path):
    result = invoke(str(CONFIGS / "digits_mlp.toml"), "--json", str(tmp_path / "f.json"))
    assert result.exit_code == 0, result.output
    assert "doctor's findings" in result.output and "error" not in result.output
    report = json.loads((tmp_path / "f.json").read_text())
    assert report["exit_code"] == 0
    assert {f["severity"] for f in report["findings"]} == {"info"}
    assert {f["check"] for f in report["findings"]} >= {"overfit_one_batch", "lr_range", "labels"}


@pytest.mark.parametrize("name", ["imbalanced_binary", "sine_regression"])
def test_binary_and_regression_configs_are_diagnosed_without_alarm(name):
    """A binary task with 2% positives (weighted loss) and an MSE regression."""
    findings = doctor_command(CONFIGS / f"{name}.toml")
    assert [f.name for f in findings if f.severity != "info"] == []
    assert any(f.check == "initial_loss" and f.name == "ok" for f in findings)


def test_a_planted_fault_in_a_config_is_named_and_exits_1(tmp_path):
    config = _quick_digits(tmp_path, **{"lr = 0.001": "lr = 0.1"})  # 100x too high
    result = invoke(str(config))
    assert result.exit_code == 1, result.output
    assert "lr_too_high" in result.output


def test_a_run_folder_is_diagnosed_from_its_config(tmp_path):
    config = _quick_digits(tmp_path, **{'scale = "standard"': 'scale = "none"'})
    run_dir = train_from_config(config, output_dir=str(tmp_path), verbose=False).run_dir
    result = invoke(str(run_dir), "--json", str(tmp_path / "f.json"))
    names = {f["name"] for f in json.loads((tmp_path / "f.json").read_text())["findings"]}
    assert "unscaled_inputs" in names, result.output  # raw digits pixels: 0-16
    assert doctor_command(run_dir) == doctor_command(config)  # the same setup, seeded


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing.toml", "does not exist"),
        (lambda tmp: _config(tmp, "name = [unclosed"), "is not valid TOML"),
        (lambda tmp: _config(tmp, 'name = "x"\n[model]\ntype = "no_such_model"\n'), "invalid"),
        (lambda tmp: tmp, "is not a finished run folder"),
    ],
    ids=["missing file", "bad TOML", "bad config", "folder that is not a run"],
)
def test_user_errors_are_one_clean_paragraph(tmp_path, make, message):
    result = invoke(str(make(tmp_path)))
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and message in result.output
    assert "Traceback" not in result.output and result.exception is not None
    assert isinstance(result.exception, SystemExit)


def test_a_model_with_its_own_training_loop_is_refused_by_name():
    result = invoke(str(CONFIGS / "autoencoder_digits.toml"))
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and "trains with its own loop" in result.output
