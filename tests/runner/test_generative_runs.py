"""The reconstruction, generation and metric-learning configs run with `nnlab train`: each
writes weights, metrics, plots and digests, `nnlab evaluate` recomputes its test metrics,
the seed reproduces its weights, and a task given a model (or setting) that does not fit
it is refused naming the key."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import nnlab.io
from nnlab.cli import app
from nnlab.config import ConfigError, load_config, parse_config
from nnlab.data.datasets import load_digits
from nnlab.models.registry import model_names
from nnlab.runner import evaluate_run, resume_from_run, train_from_config
from nnlab.runner import run_files as F

pytestmark = pytest.mark.usefixtures("one_blas_thread")

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
runner = CliRunner()

#: config → (final metrics, plots) a run of it must write.
EXPECTED = {
    "autoencoder_digits": (("loss", "mse"), ("losses.png", "reconstructions.png")),
    "vae_digits": (
        ("loss", "reconstruction", "kl", "neg_elbo", "mse"),
        ("losses.png", "reconstructions.png", "samples.png"),
    ),
    "gan_digits": (
        ("d_loss", "g_loss", "pixel_frechet_distance"),
        ("losses.png", "samples.png", "real.png"),
    ),
    "ddpm_digits": (("loss", "pixel_frechet_distance"), ("losses.png", "samples.png")),
    "triplet_digits": (
        ("loss", "pair_auc", "knn_accuracy"),
        ("history.png", "embedding_pca.png", "distances.png"),
    ),
}


def _train(name: str, root: Path, **kwargs):
    return train_from_config(
        CONFIGS / f"{name}.toml", output_dir=str(root), epochs=1, verbose=False, **kwargs
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One epoch of every config, trained once for the module."""
    root = tmp_path_factory.mktemp("generative")
    return {name: _train(name, root / name) for name in EXPECTED}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_config_writes_weights_metrics_plots_and_digests(runs, name):
    result = runs[name]
    metric_names, plots = EXPECTED[name]
    run = result.run_dir
    for split in ("train", "validation", "test"):
        assert set(metric_names) <= set(result.metrics[split]), split
        assert all(np.isfinite(v) for v in result.metrics[split].values())
    assert json.loads((run / "metrics.json").read_text()) == result.metrics
    for plot in plots:
        path = run / "plots" / plot
        assert path.is_file() and path.stat().st_size > 5000, plot  # a drawn figure
    manifest = F.read_manifest(run)
    for file in ("config.json", "config.toml", "preprocessing.json", "model.safetensors",
                 "run.json", "metrics.json", "history.json", "history.csv"):  # fmt: skip
        assert file in manifest["files"], file
        F.verify_run_file(run, file, manifest)
    assert F.is_finished(run, manifest)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_evaluate_recomputes_the_test_metrics_from_the_saved_weights(runs, name):
    test = runs[name].metrics["test"]
    again = evaluate_run(runs[name].run_dir)
    assert set(again) == set(test)
    for key, value in test.items():
        assert again[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key


def test_a_changed_weights_file_is_refused_by_evaluate(runs, tmp_path):
    import shutil

    run = Path(shutil.copytree(runs["vae_digits"].run_dir, tmp_path / "run"))
    data = bytearray((run / "model.safetensors").read_bytes())
    data[-3] ^= 1
    (run / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(F.RunFileError, match="model.safetensors"):
        evaluate_run(run)


@pytest.mark.parametrize("name", ["vae_digits", "gan_digits", "triplet_digits"])
def test_the_seed_reproduces_the_weights(tmp_path, name):
    # Both runs train here, under the same BLAS threads (the summation order of a
    # multi-threaded GEMM can differ in the last bit between thread settings).
    once = _train(name, tmp_path / "once")
    again = _train(name, tmp_path / "same")
    other = _train(name, tmp_path / "other", seed=1)
    first = nnlab.io.load_weights(once.run_dir / "model.safetensors")
    same = nnlab.io.load_weights(again.run_dir / "model.safetensors")
    different = nnlab.io.load_weights(other.run_dir / "model.safetensors")
    assert set(first) == set(same)
    for key in first:
        np.testing.assert_array_equal(np.asarray(first[key]), np.asarray(same[key]), err_msg=key)
    assert any(not np.array_equal(np.asarray(first[k]), np.asarray(different[k])) for k in first)
    assert again.metrics == once.metrics


def test_the_gan_logs_both_players_losses_every_epoch(runs):
    rows = json.loads((runs["gan_digits"].run_dir / "history.json").read_text())["epochs"]
    assert len(rows) == 1 and {"d_loss", "g_loss", "val_d_loss", "val_g_loss"} <= set(rows[0])


def test_an_own_loop_run_refuses_resume_and_a_triplet_run_resumes(runs, tmp_path):
    with pytest.raises(ConfigError, match="cannot be resumed"):
        resume_from_run(runs["vae_digits"].run_dir, epochs=2, verbose=False)
    import shutil

    run = Path(shutil.copytree(runs["triplet_digits"].run_dir, tmp_path / "run"))
    result = resume_from_run(run, epochs=2, verbose=False)
    assert result.info["epochs_trained"] == 2
    assert len(json.loads((run / "history.json").read_text())["epochs"]) == 2


def _config(**changes):
    data = {"task": "reconstruction", "data": {"dataset": "digits", "scale": "minmax"},
            "model": {"type": "autoencoder"}}  # fmt: skip
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            data.setdefault(section, {})[name] = value
        else:
            data[section] = value
    return data


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model__type": "mlp"}, "model.type: 'mlp' does not do task 'reconstruction'"),
        ({"task": "generation"}, "model.type: 'autoencoder' does not do task 'generation'"),
        ({"task": "metric_learning", "data__scale": "standard"},
         "model.type: 'autoencoder' does not do task 'metric_learning'"),
        ({"task": "classification", "model__type": "gan"}, "model.type: 'gan' does not do"),
        ({"model__type": "vae", "loss__name": "mse"},
         "loss.name: model.type 'vae' does not train with 'mse'; allowed: elbo"),
        ({"loss__name": "triplet"}, "loss.name: 'triplet' does not fit task 'reconstruction'"),
        ({"loss__margin": 1.0}, "loss.margin: applies to loss.name = 'triplet'"),
        ({"model__type": "vae", "data__scale": "standard"},
         "data.scale: 'vae' reads data in [0, 1]"),
        ({"task": "generation", "model__type": "ddpm", "data__scale": "standard"},
         'set data.scale = "minmax"'),
        ({"task": "generation", "model__type": "dcgan",
          "data": {"dataset": "digits", "scale": "minmax", "layout": "image"}},
         "data.image_size: 'dcgan' reads and makes 16x16 images"),
        ({"scheduler": {"name": "cosine"}}, "scheduler: the reconstruction loop of 'autoencoder'"),
        ({"training": {"early_stopping": {}}}, "training.early_stopping: the reconstruction"),
        ({"model__embedding_dim": 4}, 'model.embedding_dim: applies to task "metric_learning"'),
    ],
)  # fmt: skip
def test_a_model_or_setting_that_does_not_fit_the_task_is_refused(changes, message):
    with pytest.raises(ConfigError) as info:
        parse_config(_config(**changes))
    assert message in str(info.value)


def test_the_shipped_configs_validate_and_metric_learning_takes_classifiers():
    for name in EXPECTED:
        load_config(CONFIGS / f"{name}.toml")
    encoders = model_names(task="metric_learning")
    assert "mlp" in encoders and "lenet5" in encoders
    assert not {"perceptron", "autoencoder", "gan"} & set(encoders)


def test_predict_scores_reconstruction_and_refuses_the_others(runs, tmp_path):
    x, _ = load_digits()
    np.save(tmp_path / "rows.npy", x[:4])
    rows = str(tmp_path / "rows.npy")
    out = runner.invoke(app, ["predict", str(runs["autoencoder_digits"].run_dir), rows])
    assert out.exit_code == 0 and "predictions (4 rows)" in out.output, out.output
    for name, says in (("gan_digits", "predicts nothing"), ("triplet_digits", "embeddings")):
        out = runner.invoke(app, ["predict", str(runs[name].run_dir), rows])
        assert out.exit_code == 2 and says in out.output, out.output
