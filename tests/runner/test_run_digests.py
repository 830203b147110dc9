"""Run folders: every file a run reads back is checked against its SHA-256 digest, the
config has one source of truth, and a config that no longer fits the weights is named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file
from typer.testing import CliRunner

from nnlab.cli import app
from nnlab.config import ConfigError
from nnlab.io import load_weights, save_weights
from nnlab.runner import evaluate_run, predict_run, resume_from_run, train_from_config
from nnlab.runner.run_files import DIGESTS, RunFileError, UnverifiedRunWarning
from nnlab.train.checkpoint import (
    CheckpointError,
    UnverifiedCheckpointWarning,
    load_checkpoint,
    save_checkpoint,
)

runner = CliRunner()
TOML = """name = "iris"
seed = 0
[data]
dataset = "iris"
batch_size = 16
[model]
hidden_sizes = [8]
[training]
epochs = 3
"""
ROW = "5.1,3.5,1.4,0.2\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    (root / "iris.toml").write_text(TOML)
    return train_from_config(root / "iris.toml", output_dir=str(root), verbose=False).run_dir


@pytest.fixture
def run(trained, tmp_path) -> Path:
    """A fresh copy of the trained run, free to damage."""
    return Path(shutil.copytree(trained, tmp_path / "run"))


def snapshot(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}


def flip_last_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 1  # the last byte of a safetensors file is array data
    path.write_bytes(bytes(data))


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_a_run_writes_digests_of_the_files_it_reads_back(run):
    manifest = json.loads((run / DIGESTS).read_text())
    for name in ("config.json", "config.toml", "preprocessing.json", "model.safetensors"):
        assert len(manifest["files"][name]) == 64
    with safe_open(run / "model.safetensors", framework="numpy") as f:
        assert "sha256" in f.metadata()
    with safe_open(run / "checkpoints" / "last.safetensors", framework="numpy") as f:
        assert "state_sha256" in f.metadata()


def test_one_flipped_bit_in_the_model_is_an_error_not_a_worse_accuracy(run):
    before = evaluate_run(run)
    flip_last_bit(run / "model.safetensors")
    out = invoke("evaluate", run)
    assert out.exit_code == 2, out.output
    assert "model.safetensors fails its SHA-256 check" in out.output
    assert "Traceback" not in out.output
    with pytest.raises(RunFileError, match="model.safetensors"):
        predict_run(run, np.array([[5.1, 3.5, 1.4, 0.2]]))
    assert before["accuracy"] > 0


@pytest.mark.parametrize("name", ["config.json", "preprocessing.json"])
def test_an_edited_json_file_is_detected(run, name):
    path = run / name
    path.write_text(path.read_text().replace("\n", "\n ", 1))  # same content, other bytes
    out = invoke("evaluate", run)
    assert out.exit_code == 2 and f"{name} fails its SHA-256 check" in out.output


def test_a_weights_file_checks_its_own_digest(tmp_path):
    path = save_weights({"w": np.arange(6, dtype=np.float32)}, tmp_path / "w.safetensors")
    flip_last_bit(path)
    with pytest.raises(CheckpointError, match="fail the SHA-256 check"):
        load_weights(path)


def test_an_edited_checkpoint_epoch_is_detected_not_trained_over(run):
    last = run / "checkpoints" / "last.safetensors"
    data = last.read_bytes()
    edited = data.replace(b'\\"epoch\\": 3', b'\\"epoch\\": 1', 1)
    assert edited != data
    last.write_bytes(edited)
    before = snapshot(run)
    out = invoke("train", "--resume", run, "--epochs", 6, "--quiet")
    assert out.exit_code == 2, out.output
    assert "last.safetensors is corrupted or was edited: its metadata" in out.output
    assert snapshot(run) == before


def test_a_checkpoint_without_a_metadata_digest_loads_with_a_warning(tmp_path):
    path = save_checkpoint(tmp_path / "c.safetensors", {"epoch": 2, "w": np.ones(3)})
    with safe_open(path, framework="numpy") as f:
        metadata = {k: v for k, v in f.metadata().items() if k != "state_sha256"}
    save_file(load_file(path), path, metadata=metadata)  # as an older nnlab wrote it
    with pytest.warns(UnverifiedCheckpointWarning, match="not covered by a digest"):
        assert load_checkpoint(path)["epoch"] == 2


def test_resume_refuses_an_edit_of_the_model_naming_the_key(run):
    toml = run / "config.toml"
    toml.write_text(TOML.replace("[8]", "[16]").replace("seed = 0", "seed = 1"))
    before = snapshot(run)
    out = invoke("train", "--resume", run, "--epochs", 5, "--quiet")
    assert out.exit_code == 2, out.output
    assert "model.hidden_sizes (trained with [8], config.toml now [16])" in out.output
    assert "seed (trained with 0, config.toml now 1)" in out.output
    assert "only training.epochs may change" in out.output
    out = invoke("evaluate", run)
    assert out.exit_code == 2 and "model.hidden_sizes" in out.output
    assert snapshot(run) == before


def test_resume_reads_an_edit_of_training_epochs_from_config_toml(run):
    (run / "config.toml").write_text(TOML.replace("epochs = 3", "epochs = 5") + "# note\n")
    result = resume_from_run(run, verbose=False)
    assert result.info["epochs_trained"] == 5
    assert json.loads((run / "config.json").read_text())["training"]["epochs"] == 5
    evaluate_run(run)  # the digests were rewritten with the files
    with pytest.raises(ConfigError, match="already trained 5 epochs"):
        resume_from_run(run, verbose=False)


def test_command_line_overrides_are_not_mistaken_for_edits(tmp_path):
    (tmp_path / "iris.toml").write_text(TOML)
    result = train_from_config(tmp_path / "iris.toml", output_dir=str(tmp_path / "runs"),
                               epochs=2, seed=3, verbose=False)  # fmt: skip
    run = result.run_dir
    evaluate_run(run)
    assert resume_from_run(run, epochs=3, verbose=False).info["epochs_trained"] == 3
    (run / "config.toml").write_text(TOML.replace("seed = 0", "seed = 4"))
    with pytest.raises(ConfigError, match=r"seed \(trained with 3, config.toml now 4\)"):
        evaluate_run(run)


def test_an_unfinished_run_says_to_resume(run):
    manifest = json.loads((run / DIGESTS).read_text())
    del manifest["files"]["model.safetensors"]  # as when training was interrupted
    (run / DIGESTS).write_text(json.dumps(manifest))
    out = invoke("evaluate", run)
    assert out.exit_code == 2 and "not listed in" in out.output and "--resume" in out.output


def test_an_old_run_folder_loads_with_a_warning(run):
    (run / DIGESTS).unlink()
    with pytest.warns(UnverifiedRunWarning, match="no digests.json"):
        evaluate_run(run)
    out = invoke("evaluate", run)
    assert out.exit_code == 0 and "warning:" in out.output and "unverified" in out.output
    with pytest.warns(UnverifiedRunWarning):
        resume_from_run(run, epochs=4, verbose=False)
    assert (run / DIGESTS).is_file()  # a resumed old run is verified from then on


def test_a_config_that_no_longer_fits_the_weights_names_every_tensor(run):
    (run / DIGESTS).unlink()  # an old run folder: nothing to catch the edit earlier
    cfg = json.loads((run / "config.json").read_text())
    cfg["model"]["hidden_sizes"] = [16, 4]
    (run / "config.json").write_text(json.dumps(cfg))
    (run / "config.toml").write_text(TOML.replace("[8]", "[16, 4]"))
    rows = run.parent / "rows.csv"
    rows.write_text(ROW)
    for args in (["evaluate", run], ["predict", run, rows],
                 ["train", "--resume", run, "--epochs", 5]):  # fmt: skip
        out = invoke(*args)
        assert out.exit_code == 2, out.output
        assert "Traceback" not in out.output and "RuntimeError" not in out.output
        assert "does not fit the model MLP: missing 2 (4.weight, 4.bias)" in out.output
        assert "0.weight (8, 4) in the file, (16, 4) in the model" in out.output


def test_resume_finishes_a_run_interrupted_while_writing_its_files(run):
    manifest = json.loads((run / DIGESTS).read_text())
    for name in ("model.safetensors", "run.json", "metrics.json"):
        del manifest["files"][name]
    (run / DIGESTS).write_text(json.dumps(manifest))
    (run / "model.safetensors").unlink()  # trained 3 of 3 epochs, then stopped
    result = resume_from_run(run, verbose=False)
    assert result.info["epochs_trained"] == 3
    evaluate_run(run)
    with pytest.raises(ConfigError, match="already trained 3 epochs"):
        resume_from_run(run, verbose=False)
