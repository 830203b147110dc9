"""Hyperparameter search on Optuna (``nnlab tune``): a search space declared in the
config's ``[tune]`` section, each trial an ordinary run, pruned epoch by epoch, on a storage
that several processes share (see :mod:`nnlab.tune.study`)."""

from nnlab.tune.command import (
    TuneError,
    TuneInterrupted,
    TuneResult,
    trials_table,
    tune_command,
)
from nnlab.tune.objective import Objective, PruningCallback
from nnlab.tune.space import SearchSpace

__all__ = [
    "TuneError", "TuneInterrupted", "TuneResult", "tune_command", "trials_table", "Objective",
    "PruningCallback", "SearchSpace",
]  # fmt: skip
