"""Data-parallel training on 2 MPI ranks against one process: the library
(``mpi_training.py``) and ``mpirun -n 2 nnlab train`` with ``--resume``.

Each check starts ``mpiexec -n 2`` as a subprocess with a generous timeout (a loaded
machine is slow; nothing here measures time) and skips when MPI is not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from nnlab.runner.training import resume_from_run, train_from_config
from nnlab.train import CheckpointError

HERE = Path(__file__).parent
MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
TIMEOUT = 120  # seconds per launch: far above the few seconds one takes on an idle machine
CLI = [sys.executable, "-c", "from nnlab.cli import main; main()"]

pytestmark = [
    pytest.mark.skipif(MPIEXEC is None, reason="mpiexec not found (pip install mpich mpi4py)"),
    pytest.mark.usefixtures("one_blas_thread"),
]

TINY = """
name = "tiny"
seed = 3
task = "classification"

[data]
dataset = "moons"
params = { n_samples = 150 }
val_size = 0.2
batch_size = 16

[model]
type = "mlp"
hidden_sizes = [16]

[optimizer]
name = "sgd"
lr = 0.1
momentum = 0.9

[training]
epochs = 3
metrics = ["accuracy"]
"""


def mpiexec(n: int, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``mpiexec -n n args`` with one BLAS thread per rank; a hang fails the test."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    command = [MPIEXEC, "-n", str(n), *args]
    try:
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT)  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"`{' '.join(command)}` did not finish in {TIMEOUT} s (a rank waiting in a "
            f"collective the others never made?); output so far:\n{exc.stdout}\n{exc.stderr}"
        )


def weights(run_dir: Path) -> dict[str, np.ndarray]:
    return load_file(run_dir / "model.safetensors")


def max_difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    assert sorted(a) == sorted(b)
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def test_two_ranks_train_to_the_weights_of_one_process():
    """MLP with SGD-momentum and Adam, float64 and float32, an uneven last batch,
    accumulation, buckets, collectives, DDP's contract and BatchNorm (local statistics;
    SyncBatchNorm equal to one process): see mpi_training.py."""
    result = mpiexec(2, sys.executable, str(HERE / "mpi_training.py"))
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert result.returncode == 0 and not failed, (
        f"mpi_training.py on 2 ranks: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    assert result.stdout.count("ok ") >= 25, result.stdout


def test_mpirun_nnlab_train_writes_one_run_that_matches_one_process(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    result = mpiexec(2, *CLI, "train", str(config), "--output-dir", "runs2", "--quiet",
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (run,) = (tmp_path / "runs2").iterdir()  # one run folder, written by rank 0
    single = train_from_config(config, output_dir=str(tmp_path / "runs1"), verbose=False)
    assert max_difference(weights(run), weights(single.run_dir)) < 1e-5  # float32 rounding

    # --resume on the same K continues to the weights of an uninterrupted one-process run
    result = mpiexec(2, *CLI, "train", "--resume", str(run), "--epochs", "5", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    longer = train_from_config(config, output_dir=str(tmp_path / "runs1"), epochs=5, verbose=False)
    assert max_difference(weights(run), weights(longer.run_dir)) < 1e-5
    assert sorted(p.name for p in (tmp_path / "runs2").iterdir()) == [run.name]

    # ... and on another K it refuses, naming both
    with pytest.raises(CheckpointError, match=r"2 process\(es\).*runs on 1.*mpirun -n 2"):
        resume_from_run(run, epochs=6, verbose=False)


def test_a_batch_that_k_does_not_divide_stops_before_any_work(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY.replace("batch_size = 16", "batch_size = 15"))
    result = mpiexec(2, *CLI, "train", str(config), "--output-dir", "runs", cwd=tmp_path)
    assert result.returncode == 2
    assert "global batch size 15 is not divisible by the number of processes 2" in result.stderr
    assert result.stderr.count("error:") == 1, result.stderr  # rank 0 alone reports it
    assert not (tmp_path / "runs").exists()
