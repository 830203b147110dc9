"""``nnlab tune CONFIG``: search the hyperparameters that CONFIG's ``[tune]`` section
declares, with Optuna; each trial an ordinary run in the study folder.

    nnlab tune configs/digits_mlp_tune.toml --trials 30 --sampler tpe --pruner median
    nnlab tune configs/digits_mlp_tune.toml --workers 2            # two processes
    nnlab tune configs/digits_mlp_tune.toml --storage study.log    # a journal file
    mpirun -n 4 nnlab tune configs/digits_mlp_tune.toml            # one worker per rank

The study folder is ``<output_dir>/<study>`` (``--output-dir``, else the config's
``output_dir``; ``--study``, else ``<name>-tune``) and holds ``study.db`` (the default
storage), ``trials/<number>/`` (each trial's run folder), ``trials.csv``, ``best.toml`` and
the plots. The same command again, or several at once, on the same storage and study name
continue one study up to ``--trials`` finished trials (see :mod:`nnlab.tune.study`).

Every problem that can be seen before training (a bad option, config, search space,
sampler or storage) is raised before anything is written.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from rich.table import Table

import nnlab  # noqa: F401 - nnlab first: nnlab.config alone imports a half-made nnlab
from nnlab.config import RunConfig, load_config, parse_config
from nnlab.models.registry import model_entry
from nnlab.tune import report
from nnlab.tune.space import SearchSpace
from nnlab.tune.study import (
    PRUNERS,
    SAMPLERS,
    TuneError,
    WorkerSpec,
    fail_stale,
    finished_trials,
    make_pruner,
    make_sampler,
    mpi_world,
    open_storage,
    open_study,
    run_worker,
    run_workers,
    storage_url,
    wait_for_all,
)

__all__ = ["TuneError", "TuneInterrupted", "TuneResult", "tune_command", "trials_table"]


class TuneInterrupted(TuneError):
    """The search was stopped by Ctrl-C; the report of the finished trials was written."""


def _grid_trials(n_trials: int, grid_size: int) -> int:
    """The grid sampler runs each point once: at most the grid's size, said when it differs."""
    if n_trials < grid_size:
        warnings.warn(
            f"the grid has {grid_size} points and --trials {n_trials} runs {n_trials} of them "
            f"(give --trials {grid_size} to run all)", stacklevel=3,
        )  # fmt: skip
    elif n_trials > grid_size:
        warnings.warn(
            f"the grid has {grid_size} points: the study stops after them "
            f"(--trials {n_trials} asked for more)", stacklevel=3,
        )  # fmt: skip
    return min(n_trials, grid_size)


@dataclass
class TuneResult:
    """What a finished search left: its folder, study, rows and files."""

    study_dir: Path
    study: optuna.Study
    space: SearchSpace
    metric: str
    rows: list[dict[str, Any]]
    best_config: Path | None
    trials_csv: Path
    plots: dict[str, str] = field(default_factory=dict)

    def best_line(self) -> str:
        """The best value and values of the searched keys, in one line."""
        best = _best_trial(self.study)
        if best is None:
            return f"no trial completed; see {self.trials_csv}"
        values = ", ".join(f"{k} = {v!r}" for k, v in self.space.decode(best.params).items())
        return f"best: trial {best.number}, {self.metric} = {best.value:.6g} ({values})"


def _best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # no complete trial
        return None


def _check_options(trials: int | None, sampler: str, pruner: str, workers: int,
                   timeout: float | None, epochs: int | None) -> None:  # fmt: skip
    problems = []
    if trials is not None and trials < 1:
        problems.append(f"--trials must be at least 1, got {trials}")
    if workers < 1:
        problems.append(f"--workers must be at least 1, got {workers}")
    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        problems.append(f"--timeout must be a positive number of seconds, got {timeout}")
    if epochs is not None and epochs < 1:
        problems.append(f"--epochs must be at least 1, got {epochs}")
    if sampler not in SAMPLERS:
        problems.append(f"--sampler: {sampler!r} is not a sampler; choose one of "
                        + ", ".join(SAMPLERS))  # fmt: skip
    if pruner not in PRUNERS:
        problems.append(f"--pruner: {pruner!r} is not a pruner; choose one of "
                        + ", ".join(PRUNERS))  # fmt: skip
    if problems:
        raise TuneError("; ".join(problems))


def _base_config(config: str | Path, epochs: int | None) -> RunConfig:
    """The config with ``--epochs``, its ``[tune]`` section checked for a search."""
    cfg = load_config(config)
    if cfg.tune is None:
        raise TuneError(
            f"{config} has no [tune] section; add one naming the settings to search, e.g.\n"
            '  [tune]\n  "optimizer.lr" = { low = 1e-4, high = 1e-1, log = true }'
        )
    if model_entry(cfg.model.type).own_fit:
        raise TuneError(
            f"{config}: a {cfg.model.type!r} model trains in its own loop, which reports "
            "no per-epoch metric to a search; nnlab tune searches models of the general loop"
        )
    if epochs is not None:
        data = cfg.model_dump()
        data["training"]["epochs"] = epochs
        cfg = parse_config(data, f"{config} with --epochs")
    return cfg


def _study_dir(cfg: RunConfig, study: str, output_dir: str | Path | None) -> Path:
    """``<output_dir>/<study>``, checked to be a folder that can be made and written."""
    root = Path(output_dir) if output_dir is not None else Path(cfg.output_dir)
    folder = root / study
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise TuneError(f"study folder {folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise TuneError(f"study folder {folder}: {existing} is not writable")
    return folder


def tune_command(
    config: str | Path,
    trials: int | None = None,
    sampler: str = "tpe",
    pruner: str = "median",
    storage: str | None = None,
    study: str | None = None,
    workers: int = 1,
    timeout: float | None = None,
    epochs: int | None = None,
    output_dir: str | Path | None = None,
    quiet: bool = False,
) -> TuneResult | None:
    """Run (or continue) the search CONFIG declares and write its report.

    Args:
        trials: finished trials the study should hold (default ``tune.n_trials``; the
            grid sampler: at most the grid's size).
        sampler, pruner: see :data:`~nnlab.tune.study.SAMPLERS` and ``PRUNERS``.
        storage: an Optuna storage URL, a journal file (``PATH.log``, ``journal:PATH``);
            default an SQLite file in the study folder.
        study: the study's name (default ``<config name>-tune``).
        workers: processes to run trials in; under ``mpirun`` every rank is one.
        timeout: seconds after which no worker starts a new trial.
        epochs: ``training.epochs`` of every trial (and Hyperband's largest budget).
        quiet: Optuna's per-trial lines off.

    Returns:
        The result, or None on an MPI rank other than 0 (rank 0 writes the report).
    """
    _check_options(trials, sampler, pruner, workers, timeout, epochs)
    cfg = _base_config(config, epochs)
    tune = cfg.tune
    assert tune is not None
    space = SearchSpace(tune)
    make_sampler(sampler, space, cfg.seed)  # the sampler's own errors (grid, cmaes) first
    make_pruner(pruner, cfg.training.epochs)
    n_trials = trials if trials is not None else tune.n_trials
    if sampler == "grid":
        n_trials = _grid_trials(n_trials, math.prod(len(v) for v in space.grid().values()))
    study_name = study or f"{cfg.name}-tune"
    folder = _study_dir(cfg, study_name, output_dir)
    world = mpi_world()
    if world is not None and workers > 1:
        raise TuneError("--workers: under mpirun every rank is a worker; leave --workers out")
    url = storage_url(storage, folder)
    if storage is not None:
        open_storage(url)  # a storage that cannot be opened fails before any file is made
    if quiet:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = WorkerSpec(
        config=cfg.model_dump(), storage=url, study_name=study_name, study_dir=str(folder),
        sampler=sampler, pruner=pruner, n_trials=n_trials, timeout=timeout, quiet=quiet,
    )  # fmt: skip
    rank = 0 if world is None else world.Get_rank()
    with _all_ranks_agree(world, "rank 0 could not open the study (its message is above)"):
        if rank == 0:  # one creator: ranks and worker processes then load the study
            folder.mkdir(parents=True, exist_ok=True)
            existing = open_study(spec, create=True)[0]
            fail_stale(existing)
            held = finished_trials(existing)
            if held >= n_trials:
                warnings.warn(
                    f"the study already holds {held} finished trials (--trials {n_trials}): "
                    "nothing to run; give a larger --trials to run more", stacklevel=2,
                )  # fmt: skip
    lost: list[str] = []
    interrupted = False
    try:
        if workers > 1:
            codes = run_workers(spec, workers)
            lost = [_stopped(i, code) for i, code in enumerate(codes) if code != 0]
        else:
            run_worker(spec)
    except KeyboardInterrupt:  # Ctrl-C: Optuna has marked the running trial FAIL
        interrupted = True
    finally:
        if world is not None:  # also after an error, so that no rank waits forever
            wait_for_all(world)
    if rank != 0:
        return None
    result = write_report(spec, cfg, space)
    done = finished_trials(result.study)
    if interrupted:
        raise TuneInterrupted(
            f"interrupted: {done} of {n_trials} trials finished; the report in {folder} holds "
            "them; run the same command again to continue the study"
        )
    if lost and done < n_trials:
        raise TuneError(
            f"{' and '.join(lost)}; {done} of {n_trials} trials finished, report in {folder}; "
            "run the same command again to continue the study"
        )
    if lost:
        warnings.warn(f"{' and '.join(lost)}; the other workers finished the study", stacklevel=2)
    return result


def _stopped(worker: int, code: int) -> str:
    """How a worker process ended early, from its exit code."""
    if code < 0:
        return f"worker {worker} was killed (signal {-code})"
    return f"worker {worker} stopped with exit code {code} (its message is above)"


@contextlib.contextmanager
def _all_ranks_agree(world: Any, message: str) -> Iterator[None]:
    """Run the block (on the ranks it concerns), then tell every rank whether it failed
    anywhere: each rank that did not fail itself raises :class:`TuneError` ``message``."""
    if world is None:
        yield
        return
    try:
        yield
    except BaseException:
        world.Allreduce(np.ones(1, np.int64), np.zeros(1, np.int64))  # the sum of failures
        raise
    failed = np.zeros(1, np.int64)
    world.Allreduce(np.zeros(1, np.int64), failed)
    if failed[0]:
        raise TuneError(message)


def write_report(spec: WorkerSpec, cfg: RunConfig, space: SearchSpace) -> TuneResult:
    """Write ``trials.csv``, ``best.toml`` and the plots of the study in ``spec``."""
    study, objective = open_study(spec)
    folder = Path(spec.study_dir)
    rows = report.trial_rows(study, space)
    csv_path = report.write_trials_csv(rows, space, folder / "trials.csv")
    best = None
    if _best_trial(study) is not None:
        best = report.write_best_config(study, cfg, space, folder / "best.toml", objective.metric)
    plots = report.write_plots(study, folder, cfg.seed)
    return TuneResult(folder, study, space, objective.metric, rows, best, csv_path, plots)


def trials_table(result: TuneResult) -> Table:
    """The result's trials as a rich table (the best in bold)."""
    return report.trials_table(result.rows, result.space, result.metric, _best_trial(result.study))
