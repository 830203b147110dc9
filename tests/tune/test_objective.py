"""A trial is an ordinary run that reports its metric every epoch: the pruning callback
calls ``trial.report`` and ``trial.should_prune`` after each epoch (checked with a stub
trial), and the median pruner stops a hopeless trial of a real study after its first
epoch, leaving its run folder as a trial attribute."""

from __future__ import annotations

import optuna
import pytest

import nnlab  # noqa: F401 - nnlab first: nnlab.config alone imports a half-made nnlab
from nnlab.config import parse_config
from nnlab.tune.objective import Objective, PruningCallback, metric_value
from nnlab.tune.space import SearchSpace

pytestmark = pytest.mark.usefixtures("one_blas_thread")
optuna.logging.set_verbosity(optuna.logging.WARNING)


class StubTrial:
    """Records what the callback tells it; says "prune" from step ``prune_at`` on."""

    def __init__(self, prune_at: int | None = None) -> None:
        self.prune_at = prune_at
        self.calls: list[tuple] = []

    def report(self, value: float, step: int) -> None:
        self.calls.append(("report", value, step))

    def should_prune(self) -> bool:
        step = self.calls[-1][2]
        self.calls.append(("should_prune", step))
        return self.prune_at is not None and step >= self.prune_at


def test_the_callback_reports_every_epoch_and_asks_whether_to_prune():
    trial = StubTrial()
    callback = PruningCallback(trial, "val_loss")
    for epoch, loss in enumerate([2.0, 1.5, 1.2]):
        callback.on_epoch_end(epoch, {"loss": 9.0, "val_loss": loss})
    expected = [("report", 2.0, 1), ("should_prune", 1), ("report", 1.5, 2),
                ("should_prune", 2), ("report", 1.2, 3), ("should_prune", 3)]  # fmt: skip
    assert trial.calls == expected


def test_the_callback_prunes_when_told_and_falls_back_without_validation():
    trial = StubTrial(prune_at=2)
    callback = PruningCallback(trial, "val_accuracy")
    callback.on_epoch_end(0, {"accuracy": 0.5})  # no validation split: the training value
    with pytest.raises(optuna.TrialPruned, match="pruned after 2 epochs: val_accuracy = 0.6"):
        callback.on_epoch_end(1, {"accuracy": 0.6})
    assert trial.calls[0] == ("report", 0.5, 1)


def test_the_metric_is_read_from_the_kept_weights_metrics():
    metrics = {"train": {"loss": 0.1, "accuracy": 0.99}, "validation": {"loss": 0.3}}
    assert metric_value(metrics, "val_loss") == 0.3 and metric_value(metrics, "accuracy") == 0.99
    assert metric_value({"train": {"loss": 0.1}}, "val_loss") == 0.1


def test_the_median_pruner_stops_a_hopeless_trial(tmp_path):
    cfg = parse_config({
        "name": "p", "data": {"batch_size": 64}, "model": {"hidden_sizes": [16]},
        "training": {"epochs": 3},
        "tune": {"optimizer.lr": {"low": 1e-7, "high": 1e-1, "log": True}},
    })  # fmt: skip
    objective = Objective(cfg, SearchSpace(cfg.tune), "val_loss", tmp_path, n_trials=2)
    study = optuna.create_study(pruner=optuna.pruners.MedianPruner(n_startup_trials=1))
    study.enqueue_trial({"optimizer.lr": 1e-2})  # learns: val_loss well below ln 10
    study.enqueue_trial({"optimizer.lr": 1e-7})  # hardly moves from the initial ~ln 10
    study.optimize(objective, n_trials=2)
    good, hopeless = study.trials
    assert good.state.name == "COMPLETE" and len(good.intermediate_values) == 3
    assert hopeless.state.name == "PRUNED" and list(hopeless.intermediate_values) == [1]
    assert hopeless.intermediate_values[1] > 2 * good.intermediate_values[1]
    run_dir = tmp_path / hopeless.user_attrs["run_dir"]
    assert run_dir.is_dir() and (run_dir / "config.json").is_file()
    assert not (run_dir / "metrics.json").exists()  # stopped before the end
    assert (tmp_path / good.user_attrs["run_dir"] / "metrics.json").is_file()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's overflow on the way to NaN
def test_a_diverging_trial_is_pruned_not_an_error(tmp_path):
    cfg = parse_config({
        "name": "d", "data": {"batch_size": 64}, "model": {"hidden_sizes": [16]},
        "optimizer": {"name": "sgd"}, "training": {"epochs": 2},
        "tune": {"optimizer.lr": {"low": 1e-3, "high": 1e8, "log": True}},
    })  # fmt: skip
    objective = Objective(cfg, SearchSpace(cfg.tune), "val_loss", tmp_path, n_trials=1)
    study = optuna.create_study()
    study.enqueue_trial({"optimizer.lr": 1e8})
    study.optimize(objective, n_trials=1)
    (trial,) = study.trials
    assert trial.state.name == "PRUNED" and "loss is nan" in trial.user_attrs["diverged"]
