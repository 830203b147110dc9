"""A trial of ``nnlab tune`` is an ordinary run: the base config with the trial's values,
trained by :func:`nnlab.runner.train_from_config` into its own run folder under the study
folder, with a callback that reports the searched metric every epoch so that the pruner
can stop a hopeless trial.

Every trial keeps the base config's seed: the same data split, initialisation and batch
order, so trials differ only by their hyperparameters (a search over one seed; repeat the
best config over seeds before trusting a small difference).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from nnlab.config import RunConfig
from nnlab.train import Callback, NonFiniteLossError
from nnlab.tune.space import SearchSpace

__all__ = ["PruningCallback", "Objective", "BudgetSpent", "metric_value"]


class BudgetSpent(RuntimeError):
    """The study's trials were all taken by other workers while this trial was created."""


def _logged(name: str, logs: dict[str, Any]) -> Any:
    """The value of ``name`` in an epoch's logs; without a validation split ``val_x``
    falls back to the training ``x``, as the run's monitor does."""
    if name not in logs and name.startswith("val_"):
        return logs.get(name[4:])
    return logs.get(name)


class PruningCallback(Callback):
    """Reports ``monitor`` to an Optuna trial after every epoch (``trial.report(value,
    step)``, the step being the epochs trained: Hyperband's resource) and stops the run by
    raising :class:`optuna.TrialPruned` when the study's pruner says so
    (``trial.should_prune()``); after the pruning callbacks of Optuna's integrations."""

    def __init__(self, trial: Any, monitor: str) -> None:
        self.trial = trial
        self.monitor = monitor

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = _logged(self.monitor, logs or {})
        if value is None:
            return
        self.trial.report(float(value), epoch + 1)
        if self.trial.should_prune():
            raise optuna.TrialPruned(
                f"pruned after {epoch + 1} epochs: {self.monitor} = {value:.4g}"
            )


def metric_value(metrics: dict[str, dict[str, float]], name: str) -> float:
    """A finished run's ``name`` (``val_accuracy``: the validation split's accuracy) from
    its final metrics, i.e. of the weights the run kept (its best epoch by its monitor)."""
    split = "validation" if name.startswith("val_") and "validation" in metrics else "train"
    return float(metrics[split][name.removeprefix("val_")])


def run_folder(output_root: Path) -> Path | None:
    """The run folder ``train_from_config`` made inside a trial's own output folder."""
    folders = sorted(p for p in output_root.glob("*") if p.is_dir()) if output_root.is_dir() else []
    return folders[0] if folders else None


class Objective:
    """``study.optimize``'s function: one trial's run, its metric as the trial's value.

    The run folder is ``<study>/trials/<number>/<name>-<time>`` and is stored as the trial's
    user attribute ``run_dir`` (relative to the study folder), pruned or not. A run whose
    loss becomes NaN or infinite is pruned (user attribute ``diverged``), a clear loss of the
    search rather than an error that stops it. ``n_trials`` guards the budget against
    workers that created trials at the same moment: a trial with ``n_trials`` live or
    finished trials before it ends at once (as FAIL, user attribute ``surplus``).
    """

    def __init__(self, base: RunConfig, space: SearchSpace, metric: str, study_dir: Path,
                 n_trials: int, count_running: bool = True) -> None:  # fmt: skip
        self.base = base
        self.space = space
        self.metric = metric
        self.study_dir = Path(study_dir)
        self.n_trials = n_trials
        self.count_running = count_running

    def __call__(self, trial: optuna.Trial) -> float:
        self._check_budget(trial)
        values = self.space.suggest(trial)
        cfg = self.space.apply(self.base, values, f"trial {trial.number}'s config")
        output_root = self.study_dir / "trials" / f"{trial.number:04d}"
        from nnlab.runner import train_from_config  # lazy: loads every model

        try:
            # data_parallel=False: under mpirun each rank runs trials of its own
            result = train_from_config(
                cfg, output_dir=str(output_root), verbose=False,
                callbacks=[PruningCallback(trial, self.metric)], data_parallel=False,
            )  # fmt: skip
        except NonFiniteLossError as exc:
            trial.set_user_attr("diverged", str(exc))
            raise optuna.TrialPruned(f"diverged: {exc}") from None
        finally:
            folder = run_folder(output_root)
            if folder is not None:
                trial.set_user_attr("run_dir", str(folder.relative_to(self.study_dir)))
        value = metric_value(result.metrics, self.metric)
        if not math.isfinite(value):
            trial.set_user_attr("diverged", f"{self.metric} = {value}")
            raise optuna.TrialPruned(f"{self.metric} = {value}")
        return value

    def _check_budget(self, trial: optuna.Trial) -> None:
        states = (TrialState.COMPLETE, TrialState.PRUNED)
        states += (TrialState.RUNNING,) * self.count_running
        before = [t for t in trial.study.get_trials(deepcopy=False, states=states)
                  if t.number < trial.number]  # fmt: skip
        if len(before) >= self.n_trials:
            trial.set_user_attr("surplus", True)
            trial.study.stop()
            raise BudgetSpent(f"the study's {self.n_trials} trials are taken by other workers")
