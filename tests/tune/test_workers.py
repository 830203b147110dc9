"""Several workers share one study: two worker processes, or two MPI ranks, run exactly the
study's trials between them (none lost, none run twice), and a study whose worker was
killed mid-trial resumes: the stale RUNNING trial is failed by its missing heartbeat and
the study still reaches its number of finished trials."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

import nnlab  # noqa: F401 - nnlab first: nnlab.config alone imports a half-made nnlab
from nnlab.tune import tune_command

pytestmark = pytest.mark.usefixtures("one_blas_thread")

CONFIG = """
name = "tiny"
[data]
batch_size = 128
[model]
hidden_sizes = [16]
[training]
epochs = 1
metrics = ["accuracy"]
[tune]
"optimizer.lr" = { low = 1e-3, high = 1e-1, log = true }
"""


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(CONFIG)
    return path


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]


def test_two_workers_share_one_study_without_losing_or_repeating_a_trial(tmp_path):
    # timeout: a bug that left a worker waiting would end the test here, not hang it
    result = tune_command(write_config(tmp_path), trials=4, workers=2, sampler="random",
                          output_dir=tmp_path / "out", quiet=True, timeout=300)  # fmt: skip
    trials = result.study.trials
    assert sorted(t.number for t in finished(result.study)) == [0, 1, 2, 3], [
        (t.number, t.state.name) for t in trials
    ]
    # Beyond the four, only a trial that two workers created at the same moment can exist,
    # ended at once as surplus (rare; see nnlab.tune.study), with no run.
    extra = [t for t in trials if t.number >= 4]
    assert all(t.state.name == "FAIL" and t.user_attrs.get("surplus") for t in extra)
    run_dirs = [result.study_dir / t.user_attrs["run_dir"] for t in trials if t.number < 4]
    assert len(set(run_dirs)) == 4 and all((d / "metrics.json").is_file() for d in run_dirs)
    assert len(list((result.study_dir / "trials").iterdir())) == 4


def test_a_study_resumes_after_its_worker_was_killed_mid_trial(tmp_path):
    config, out = write_config(tmp_path), tmp_path / "out"
    first = tune_command(config, trials=1, output_dir=out, quiet=True)
    assert first.plots["importances"].startswith("skipped: parameter importances need")
    # A worker killed mid-trial leaves a RUNNING trial whose heartbeat stopped long ago.
    db = first.study_dir / "study.db"
    study = optuna.load_study(study_name="tiny-tune", storage=f"sqlite:///{db}")
    killed = study.ask()
    with sqlite3.connect(db) as connection:
        connection.execute(
            "INSERT INTO trial_heartbeats (trial_id, heartbeat) SELECT trial_id, "
            "'2000-01-01 00:00:00.000000' FROM trials WHERE number = ?", (killed.number,)
        )  # fmt: skip
    assert study.trials[killed.number].state.name == "RUNNING"

    result = tune_command(config, trials=3, output_dir=out, quiet=True)
    states = {t.number: t.state.name for t in result.study.trials}
    assert states == {0: "COMPLETE", 1: "FAIL", 2: "COMPLETE", 3: "COMPLETE"}
    assert len(finished(result.study)) == 3
    # the same command again finds the study complete and runs nothing more
    with pytest.warns(UserWarning, match="already holds 3 finished trials"):
        again = tune_command(config, trials=3, output_dir=out, quiet=True)
    assert len(again.study.trials) == 4


def test_mpi_ranks_are_the_workers_of_one_study_and_rank_0_reports(tmp_path):
    """``mpiexec -n 2 ... tune_command(...)``: each rank runs trials alone (not one
    data-parallel run), the two together exactly the study's; rank 0 writes the report."""
    mpiexec = Path(sys.executable).with_name("mpiexec")
    if not mpiexec.is_file():
        pytest.skip("no mpiexec next to the interpreter (the mpich wheel installs one)")
    script = (
        "import nnlab, os\n"
        "from nnlab.tune import tune_command\n"
        f"r = tune_command({str(write_config(tmp_path))!r}, trials=4, sampler='random', "
        f"output_dir={str(tmp_path / 'out')!r}, quiet=True, timeout=300)\n"
        "print('rank', os.environ['PMI_RANK'], 'report', r is not None)\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    try:
        done = subprocess.run([str(mpiexec), "-n", "2", sys.executable, "-c", script], env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("mpiexec -n 2 tune did not finish in 300 s")
    assert done.returncode == 0, done.stdout + done.stderr
    ranks = sorted(line for line in done.stdout.splitlines() if line.startswith("rank"))
    assert ranks == ["rank 0 report True", "rank 1 report False"]
    folder = tmp_path / "out" / "tiny-tune"
    study = optuna.load_study(study_name="tiny-tune", storage=f"sqlite:///{folder / 'study.db'}")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    assert (folder / "trials.csv").is_file()
