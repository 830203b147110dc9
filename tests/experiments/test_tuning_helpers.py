"""The search helpers of experiments/tuning.py: grid placement, the epoch budget that
every study spends exactly, and the best-so-far curves."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest

from experiments.tuning import (
    SPACE,
    Dimension,
    History,
    distinct_values,
    grid_shape,
    methods,
    search,
    split_digits,
)

pytestmark = pytest.mark.usefixtures("one_blas_thread")


@pytest.fixture(autouse=True)
def quiet_optuna():
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def task():
    return split_digits(np.random.default_rng(0), n_train=64, n_val=32, epochs=3)


def test_grid_points_are_cell_centres_on_the_search_scale():
    lr = Dimension("lr", 1e-4, 1e-1, log=True)
    np.testing.assert_allclose(lr.points(3), [10**-3.5, 10**-2.5, 10**-1.5], rtol=1e-12)
    dropout = Dimension("dropout", 0.0, 0.5, log=False)
    np.testing.assert_allclose(dropout.points(2), [0.125, 0.375])
    width = Dimension("width", 8, 256, log=True, integer=True)
    assert width.centre() == round(math.sqrt(8 * 256))
    assert all(isinstance(v, int) and 8 <= v <= 256 for v in width.points(5))


def test_grid_shape_gives_the_learning_rate_most_values_and_multiplies_to_the_trials():
    shape = grid_shape(32)
    assert shape == {"lr": 4, "weight_decay": 2, "width": 2, "dropout": 2}
    assert math.prod(grid_shape(8).values()) == 8
    with pytest.raises(ValueError, match="power of two, got 12"):
        grid_shape(12)


def test_every_method_spends_exactly_the_budget(task):
    for name, method in methods(n_trials=4, epochs=task.epochs).items():
        history = search(method, task, seed=0, budget_epochs=4 * task.epochs)
        assert history.epochs[-1] == 4 * task.epochs, name
        assert np.all(np.diff(history.epochs) > 0), name  # every trial trains
        assert np.all(np.diff(history.best) <= 0), name  # best-so-far never rises
        completed = [t for t in history.study.trials if t.state.name == "COMPLETE"]
        assert history.best[-1] == min(t.value for t in completed), name


def test_hyperband_cuts_the_last_trial_at_the_budget(task):
    history = search(methods(4, task.epochs)["random+hyperband"], task, 0, budget_epochs=8)
    trials = history.study.trials
    assert history.epochs[-1] == 8
    assert sum(len(t.intermediate_values) for t in trials) == 8
    assert trials[-1].state.name == "PRUNED" and trials[-1].user_attrs["cut_by_budget"]
    for t in trials:
        if t.state.name == "COMPLETE":
            assert len(t.intermediate_values) == task.epochs


def test_a_search_with_hyperband_repeats_exactly(task):
    runs = [search(methods(4, task.epochs)["tpe+hyperband"], task, 2, 12) for _ in range(2)]
    states = [[(t.state.name, t.params, t.value) for t in h.study.trials] for h in runs]
    assert states[0] == states[1]


def test_the_grid_tries_its_values_and_random_search_new_ones(task):
    grid = search(methods(8, task.epochs)["grid"], task, seed=1, budget_epochs=8 * task.epochs)
    assert distinct_values(grid.study) == grid_shape(8)
    random = search(methods(8, task.epochs)["random"], task, 1, budget_epochs=8 * task.epochs)
    counts = distinct_values(random.study)
    assert all(counts[d.name] == 8 for d in SPACE if not d.integer)


def test_best_at_reads_the_last_trial_ended_by_then():
    history = History(
        study=None,
        epochs=np.array([3, 4, 7]),
        seconds=np.array([0.5, 0.6, 1.0]),
        best=np.array([math.inf, 0.8, 0.5]),
    )
    np.testing.assert_array_equal(
        history.best_at(np.array([1, 3, 5, 7, 9]), history.epochs),
        [np.nan, math.inf, 0.8, 0.5, 0.5],
    )
    np.testing.assert_array_equal(history.best_at(np.array([0.55]), history.seconds), [math.inf])
