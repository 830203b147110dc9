"""``nnlab tune CONFIG``: a study of N trials leaves N run folders, ``trials.csv``,
``best.toml`` (a config ``nnlab train`` trains, with the best trial's values) and the
plots; bad input is one clear error before anything is written; a study continues only
with the settings it started with."""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import nnlab  # noqa: F401 - nnlab first: nnlab.config alone imports a half-made nnlab
from nnlab.cli import app
from nnlab.config import ConfigError, parse_config
from nnlab.tune import TuneError, trials_table, tune_command

pytestmark = pytest.mark.usefixtures("one_blas_thread")

CONFIG = """
name = "tiny"
seed = 0
[data]
batch_size = 64
[model]
hidden_sizes = [16]
[training]
epochs = 2
metrics = ["accuracy"]
[tune]
n_trials = 3
"optimizer.lr" = { low = 1e-3, high = 1e-1, log = true }
"model.hidden_sizes" = { choices = [[16], [32, 16]] }
"""


def write_config(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    return path


def test_a_study_leaves_its_runs_table_best_config_and_plots(tmp_path):
    result = tune_command(write_config(tmp_path), sampler="random", epochs=1,
                          output_dir=tmp_path / "out", quiet=True)  # fmt: skip
    folder = tmp_path / "out" / "tiny-tune"
    assert result.study_dir == folder and (folder / "study.db").is_file()
    trials = result.study.trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    run_dirs = {folder / t.user_attrs["run_dir"] for t in trials}
    assert len(run_dirs) == 3 and all((d / "metrics.json").is_file() for d in run_dirs)

    rows = list(csv.DictReader((folder / "trials.csv").open()))
    assert [r["number"] for r in rows] == ["0", "1", "2"]
    assert set(rows[0]) == {"number", "state", "value", "duration_s", "note", "run_dir",
                            "optimizer.lr", "model.hidden_sizes"}  # fmt: skip

    best = parse_config(tomllib.loads((folder / "best.toml").read_text()), "best.toml")
    assert best.tune is None and best.training.epochs == 1
    assert best.optimizer.lr == result.study.best_params["optimizer.lr"]
    assert str(best.model.hidden_sizes) == result.study.best_params["model.hidden_sizes"]

    for name in ("history", "importances", "parallel_coordinate"):
        assert (folder / f"{name}.png").is_file(), result.plots[name]
    assert "best: trial" in result.best_line() and trials_table(result).row_count == 3

    from nnlab.runner import train_from_config

    run = train_from_config(result.best_config, output_dir=str(tmp_path / "runs"), verbose=False)
    assert (run.run_dir / "metrics.json").is_file()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"workers": 0}, "--workers must be at least 1, got 0"),
        ({"trials": 0}, "--trials must be at least 1, got 0"),
        ({"sampler": "bayes"}, "--sampler: 'bayes' is not a sampler; choose one of grid, random"),
        ({"pruner": "asha"}, "--pruner: 'asha' is not a pruner"),
        ({"sampler": "grid"}, 'tune."optimizer.lr": the grid sampler needs the values'),
        ({"storage": "sqlite:////no/such/folder/study.db"}, "--storage sqlite:////no/such"),
        ({"storage": "nosuchdb://x"}, "--storage nosuchdb://x: cannot open it"),
        ({"storage": "/no/such/folder/study.log"}, "the folder /no/such/folder does not exist"),
    ],
)  # fmt: skip
def test_bad_input_is_one_clear_error_and_writes_nothing(tmp_path, options, message):
    out = tmp_path / "out"
    with pytest.raises(TuneError) as info:
        tune_command(write_config(tmp_path), output_dir=out, quiet=True, **options)
    assert message in str(info.value)
    assert not out.exists()


def test_a_config_without_a_search_or_with_a_bad_one_is_refused(tmp_path):
    plain = CONFIG.split("[tune]")[0]
    with pytest.raises(TuneError, match=r"has no \[tune\] section"):
        tune_command(write_config(tmp_path, plain), output_dir=tmp_path / "out")
    bad = plain + '[tune]\n"optimizer.lr" = { low = 0.1, high = 0.01 }\n'
    with pytest.raises(ConfigError, match=r'tune."optimizer.lr": empty range'):
        tune_command(write_config(tmp_path, bad), output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_command_line_reports_one_error_paragraph(tmp_path):
    config = write_config(tmp_path)
    result = CliRunner().invoke(app, ["tune", str(config), "--workers", "0"])
    assert result.exit_code == 2 and result.output.startswith("error: --workers must be")
    result = CliRunner().invoke(app, ["tune", str(tmp_path / "missing.toml")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_a_study_continues_only_with_the_settings_it_started_with(tmp_path):
    config, out = write_config(tmp_path), tmp_path / "out"
    tune_command(config, trials=1, sampler="random", epochs=1, output_dir=out, quiet=True)
    with pytest.raises(TuneError, match=r"other settings: training.epochs \(1 then, 2 now\)"):
        tune_command(config, trials=2, sampler="random", epochs=2, output_dir=out, quiet=True)
    changed = tmp_path / "changed.toml"
    changed.write_text(CONFIG.replace("high = 1e-1", "high = 0.5"))
    with pytest.raises(TuneError, match=r"tune.params.optimizer.lr.high \(0.1 then, 0.5 now\)"):
        tune_command(changed, trials=2, sampler="random", epochs=1, output_dir=out, quiet=True)
    with pytest.warns(UserWarning, match="already holds 1 finished trials"):
        study = tune_command(config, trials=1, sampler="random", epochs=1, output_dir=out,
                             quiet=True)  # fmt: skip
    assert [t.state.name for t in study.study.trials] == ["COMPLETE"]  # no failed trial left


def test_the_grid_says_when_the_trials_do_not_cover_it(tmp_path):
    grid = CONFIG.replace("log = true }", "log = true, grid = [0.01, 0.1] }")
    with pytest.warns(UserWarning, match="the grid has 4 points and --trials 1 runs 1 of them"):
        tune_command(write_config(tmp_path, grid), trials=1, sampler="grid", epochs=1,
                     output_dir=tmp_path / "out", quiet=True)  # fmt: skip
