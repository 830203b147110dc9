"""The study of ``nnlab tune``: its storage, sampler and pruner, and the workers that run
its trials.

Storage. Every worker, process or command that opens the same storage and study name
works on one study (``load_if_exists``): an SQLite file in the study folder by default
(``sqlite:///<study>/study.db``, nothing to start), a journal file (``--storage
trials.log`` or ``journal:PATH``: Optuna's ``JournalStorage``, appended under a file lock,
suited to many processes on one file system), or any database URL Optuna's ``RDBStorage``
accepts (``postgresql://...``).

Budget. ``--trials N`` is the number of finished (COMPLETE or PRUNED) trials the study
should hold, counting those of earlier commands, so a command started again after all
workers were killed resumes the study up to N. On a database storage the workers beat a
heartbeat (``RDBStorage(heartbeat_interval, grace_period)``): a trial whose worker died
(RUNNING, no beat for ``GRACE_PERIOD`` seconds) is marked FAIL by
``optuna.storages.fail_stale_trials`` and its place taken by a new trial; the live RUNNING
trials count toward N, so that the workers together run exactly N (a trial created by two
workers at the same moment beyond N ends at once as FAIL with the user attribute
``surplus``). A journal file has no heartbeat: there only finished trials count (Optuna's
``MaxTrialsCallback``), and K workers may finish up to K - 1 trials beyond N.

Seeds. Trial ``n``'s sampler is seeded from (the config's seed, ``n``) (the grid sampler
takes the ``n``-th point of a grid order seeded by the config's seed): a study run again
draws the same values, whichever worker runs which trial and however often it resumed (a
sampler seeded once per process would draw its first values again after a resume, and the
same values in every worker).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.samplers import BaseSampler
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from nnlab.config import ConfigError, RunConfig, parse_config
from nnlab.distributed import launch_world_size
from nnlab.tune.objective import BudgetSpent, Objective
from nnlab.tune.space import GridError, SearchSpace

__all__ = [
    "TuneError", "SAMPLERS", "PRUNERS", "HEARTBEAT_INTERVAL", "GRACE_PERIOD", "WorkerSpec",
    "open_storage", "storage_url", "make_sampler", "make_pruner", "open_study", "run_worker",
    "run_workers", "finished_trials", "mpi_world", "wait_for_all",
]  # fmt: skip

SAMPLERS = ("grid", "random", "tpe", "cmaes")
PRUNERS = ("none", "median", "hyperband")
#: Seconds between a worker's heartbeats, and without one after which its trial is stale.
HEARTBEAT_INTERVAL = 10
GRACE_PERIOD = 30
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class TuneError(ValueError):
    """A search that cannot start or finish: a bad option, sampler, pruner or storage."""


def storage_url(storage: str | None, study_dir: Path) -> str:
    """The storage as one string that every worker can open: the default SQLite file,
    ``journal:ABSOLUTE_PATH`` for a journal file, ``sqlite:///ABSOLUTE_PATH`` for a path
    ending in ``.db`` or ``.sqlite``, or the URL as given."""
    if storage is None:
        return f"sqlite:///{(study_dir / 'study.db').resolve()}"
    if storage.startswith("journal:") or (storage.endswith(".log") and "://" not in storage):
        return f"journal:{Path(storage.removeprefix('journal:')).resolve()}"
    if storage.endswith((".db", ".sqlite")) and "://" not in storage:  # a plain SQLite file
        return f"sqlite:///{Path(storage).resolve()}"
    return storage


def open_storage(url: str) -> BaseStorage:
    """Open a storage from :func:`storage_url`'s string; a database gets the heartbeat.
    Anything that stops it opening is a :class:`TuneError` naming the storage."""
    try:
        if url.startswith("journal:"):
            path = Path(url.removeprefix("journal:"))
            if not path.parent.is_dir():
                raise TuneError(f"--storage {url}: the folder {path.parent} does not exist")
            return JournalStorage(JournalFileBackend(str(path)))
        # SQLite lets one writer in at a time; the others wait up to a minute, not 5 s.
        kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_INTERVAL,
                              grace_period=GRACE_PERIOD)  # fmt: skip
    except TuneError:
        raise
    except Exception as exc:  # SQLAlchemy's errors, a missing driver, a file lock...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TuneError(
            f"--storage {url}: cannot open it ({type(exc).__name__}: {reason}); give an "
            "SQLite URL (sqlite:///PATH.db), a journal file (PATH.log or journal:PATH) or a "
            "database URL Optuna's RDBStorage accepts"
        ) from None


class _SeededPerTrial(BaseSampler):
    """A sampler made afresh for each trial with a seed drawn from (seed, trial number),
    delegating everything to it. Random, TPE and CMA-ES samplers keep no state that the
    study's storage does not hold (TPE and CMA-ES read the finished trials from it), so
    only their random draws change."""

    def __init__(self, make: Callable[[int], BaseSampler], seed: int) -> None:
        self._make = make
        self._seed = seed
        self._inner = make(seed)

    def before_trial(self, study: optuna.Study, trial: Any) -> None:
        entropy = np.random.SeedSequence([self._seed, trial.number]).generate_state(1)[0]
        self._inner = self._make(int(entropy))
        self._inner.before_trial(study, trial)

    def infer_relative_search_space(self, study, trial):
        return self._inner.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._inner.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values):
        self._inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._inner.reseed_rng()


def make_sampler(name: str, space: SearchSpace, seed: int) -> BaseSampler:
    """``grid``, ``random``, ``tpe`` or ``cmaes``, seeded from ``seed`` (per trial, but
    for the grid, whose trial n takes the n-th point of an order seeded once)."""
    if name == "grid":
        try:
            grid = space.grid()
        except GridError as exc:
            raise TuneError(f"--sampler grid: {exc}") from None
        # One instance: it gives trial n the n-th point of its seeded order of the grid.
        return optuna.samplers.GridSampler(grid, seed=seed)
    if name == "random":
        return _SeededPerTrial(lambda s: optuna.samplers.RandomSampler(seed=s), seed)
    if name == "tpe":
        return _SeededPerTrial(lambda s: optuna.samplers.TPESampler(seed=s), seed)
    if name == "cmaes":
        if importlib.util.find_spec("cmaes") is None:
            raise TuneError(
                "--sampler cmaes: Optuna's CmaEsSampler needs the package 'cmaes', which is "
                "not installed (pip install cmaes); or choose grid, random or tpe"
            )

        def cmaes(s: int) -> BaseSampler:
            with warnings.catch_warnings():  # CMA-ES samples the choices independently
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.samplers.CmaEsSampler(seed=s, warn_independent_sampling=False)

        return _SeededPerTrial(cmaes, seed)
    raise TuneError(f"--sampler: {name!r} is not a sampler; choose one of {', '.join(SAMPLERS)}")


def make_pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    """``none``; ``median`` (stop a trial whose metric at an epoch is worse than the median
    of earlier trials at that epoch, after 5 trials); ``hyperband`` (successive halving on
    epochs, from 1 to ``epochs``)."""
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs)
    raise TuneError(f"--pruner: {name!r} is not a pruner; choose one of {', '.join(PRUNERS)}")


@dataclass
class WorkerSpec:
    """Everything a worker needs, as plain data (a worker process rebuilds the rest)."""

    config: dict[str, Any]  # the base config, with its [tune] section and --epochs
    storage: str
    study_name: str
    study_dir: str
    sampler: str
    pruner: str
    n_trials: int
    timeout: float | None = None
    quiet: bool = False


def open_study(spec: WorkerSpec, create: bool = False) -> tuple[optuna.Study, Objective]:
    """Load (or create) the study of ``spec`` and its objective."""
    cfg = parse_config(spec.config)
    tune = cfg.tune
    assert tune is not None
    space = SearchSpace(tune)
    storage = open_storage(spec.storage)
    kwargs = dict(
        study_name=spec.study_name,
        storage=storage,
        sampler=make_sampler(spec.sampler, space, cfg.seed),
        pruner=make_pruner(spec.pruner, cfg.training.epochs),
    )
    if create:
        study = optuna.create_study(direction=tune.direction, load_if_exists=True, **kwargs)
        if study.direction.name.lower() != tune.direction:
            raise TuneError(
                f"study {spec.study_name!r} in {spec.storage} was made to "
                f"{study.direction.name.lower()} its metric; this config asks to "
                f"{tune.direction} {tune.metric}: give another --study name"
            )
        _check_same_search(study, cfg, spec)
    else:
        study = optuna.load_study(**kwargs)
    objective = Objective(
        cfg, space, tune.metric, Path(spec.study_dir), spec.n_trials,
        count_running=isinstance(storage, RDBStorage),  # a database beats a heartbeat
    )  # fmt: skip
    return study, objective


def _search_settings(cfg: RunConfig) -> dict[str, Any]:
    """What a study's trials must share: the whole config (search space, data, model,
    epochs...) except the number of trials, which a later command may raise."""
    data = json.loads(cfg.model_dump_json())
    data["tune"].pop("n_trials", None)
    return data


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else key))
    return out


def _check_same_search(study: optuna.Study, cfg: RunConfig, spec: WorkerSpec) -> None:
    """Refuse to continue a study with other settings than it started with: its trials
    would mix search spaces or budgets (e.g. another --epochs), and Optuna rejects a
    parameter whose range kind changed only after a trial has failed on it."""
    settings = _search_settings(cfg)
    started = study.user_attrs.get("settings")
    if started is None:
        study.set_user_attr("settings", settings)
        return
    old, new = _flat(started), _flat(settings)
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    if changed:
        shown = ", ".join(
            f"{k} ({old.get(k, 'unset')!r} then, {new.get(k, 'unset')!r} now)" for k in changed[:4]
        )
        more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
        raise TuneError(
            f"study {spec.study_name!r} in {spec.storage} was started with other settings: "
            f"{shown}{more}. Run it with the settings it started with, or start a new study "
            "(--study NAME or another --output-dir)"
        )


def finished_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def fail_stale(study: optuna.Study) -> None:
    """Mark FAIL the RUNNING trials whose worker stopped beating (killed mid-trial)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def run_worker(spec: WorkerSpec | dict[str, Any]) -> None:
    """Run trials of the study until it holds ``n_trials`` finished ones (or the timeout).

    The budget counts this worker's and the other workers' live trials; when it is taken
    but a live trial of another worker might still fail (its worker killed), this worker
    waits for it to finish or to go stale, and goes on if the study then falls short."""
    spec = WorkerSpec(**spec) if isinstance(spec, dict) else spec
    if spec.quiet:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    study, objective = open_study(spec)
    heartbeat = objective.count_running
    states = (*FINISHED, TrialState.RUNNING) if heartbeat else FINISHED
    deadline = None if spec.timeout is None else time.monotonic() + spec.timeout
    while True:
        fail_stale(study)
        left = None if deadline is None else deadline - time.monotonic()
        if finished_trials(study) >= spec.n_trials or (left is not None and left <= 0):
            return
        if len(study.get_trials(deepcopy=False, states=states)) < spec.n_trials:
            study.optimize(
                objective, timeout=left, catch=(BudgetSpent,), gc_after_trial=False,
                callbacks=[optuna.study.MaxTrialsCallback(spec.n_trials, states=states)],
            )  # fmt: skip
        elif not heartbeat:
            return
        else:
            time.sleep(1.0)  # the budget is in live trials of other workers: wait for them


def _worker_main(spec: dict[str, Any]) -> None:
    """A worker process: a problem the user can fix is one ``error:`` line and exit code 2
    (the parent names the worker), anything else a traceback."""
    try:
        run_worker(spec)
    except (ConfigError, TuneError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


def run_workers(spec: WorkerSpec, workers: int) -> list[int]:
    """Run ``workers`` processes (started by "spawn": a fresh interpreter each, as a
    separate ``nnlab tune`` command would be) on the study; returns their exit codes. A
    worker that dies leaves the others running."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    processes = [ctx.Process(target=_worker_main, args=(asdict(spec),)) for _ in range(workers)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    return [p.exitcode for p in processes]


def mpi_world() -> Any | None:
    """``MPI.COMM_WORLD`` when this process is one of several ranks started by
    ``mpirun``/``mpiexec`` (as the launcher's environment shows), else None; mpi4py is
    imported only then, so a plain command never initialises MPI."""
    if launch_world_size() <= 1:
        return None
    from mpi4py import MPI  # lazy: only under an MPI launcher

    return MPI.COMM_WORLD if MPI.COMM_WORLD.Get_size() > 1 else None


def wait_for_all(world: Any) -> None:
    """A barrier that sleeps while it waits: MPICH's ``Barrier`` spins, and a rank that
    finished its trials would take a core from the ranks still training."""
    request = world.Ibarrier()
    while not request.Test():
        time.sleep(0.05)
