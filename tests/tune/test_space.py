"""The search space as Optuna suggestions, and the samplers built from it: the grid
sampler enumerates exactly the grid, conditions hold in every trial, seeded samplers draw
the same values again (also after a resume), and each sampler's impossible cases are
clear errors. Optuna runs here in memory with an objective that trains nothing."""

from __future__ import annotations

import importlib.util
import itertools

import optuna
import pytest

import nnlab  # noqa: F401 - nnlab first: nnlab.config alone imports a half-made nnlab
from nnlab.config import ConfigError, parse_config
from nnlab.tune.space import SearchSpace
from nnlab.tune.study import TuneError, make_sampler

optuna.logging.set_verbosity(optuna.logging.WARNING)


def space_of(tune: dict) -> tuple[object, SearchSpace]:
    cfg = parse_config({"training": {"epochs": 1}, "tune": tune})
    return cfg, SearchSpace(cfg.tune)


def run(space: SearchSpace, sampler: optuna.samplers.BaseSampler, n: int,
        study: optuna.Study | None = None) -> list[dict]:  # fmt: skip
    """The decoded values of ``n`` trials of a study whose objective only draws them."""
    study = study or optuna.create_study(sampler=sampler)
    drawn = []

    def objective(trial: optuna.Trial) -> float:
        values = space.suggest(trial)
        drawn.append(values)
        return sum(v for v in values.values() if isinstance(v, (int, float)))

    study.optimize(objective, n_trials=n)
    return drawn


GRID_SPACE = {
    "model.hidden_sizes": {"choices": [[8], [16, 8]]},
    "data.batch_size": {"low": 16, "high": 48, "step": 16},
    "model.dropout": {"low": 0.0, "high": 0.2, "step": 0.1},
    "optimizer.lr": {"low": 1e-3, "high": 1e-1, "log": True, "grid": [1e-3, 1e-2]},
}


def test_the_grid_sampler_enumerates_exactly_the_grid():
    _, space = space_of(GRID_SPACE)
    grid = space.grid()
    assert grid["data.batch_size"] == [16, 32, 48] and grid["model.dropout"] == [0.0, 0.1, 0.2]
    expected = set(itertools.product(["[8]", "[16, 8]"], [16, 32, 48], [0.0, 0.1, 0.2],
                                     [1e-3, 1e-2]))  # fmt: skip
    drawn = run(space, make_sampler("grid", space, seed=0), len(expected))
    got = {(str(v["model.hidden_sizes"]), v["data.batch_size"], v["model.dropout"],
            v["optimizer.lr"]) for v in drawn}  # fmt: skip
    assert got == expected and len(drawn) == len(expected) == 36


def test_the_grid_needs_the_values_of_a_float_range_and_no_conditions():
    _, space = space_of({"optimizer.lr": {"low": 1e-3, "high": 1e-1, "log": True}})
    with pytest.raises(
        TuneError, match=r'--sampler grid: tune."optimizer.lr".* give a step .* grid'
    ):
        make_sampler("grid", space, seed=0)
    _, space = space_of({
        "optimizer.name": {"choices": ["adam", "sgd"]},
        "optimizer.momentum": {"low": 0.0, "high": 0.9, "when": {"optimizer.name": "sgd"}},
    })  # fmt: skip
    with pytest.raises(TuneError, match=r'conditional parameters \("optimizer.momentum"'):
        make_sampler("grid", space, seed=0)


def test_a_conditional_parameter_is_drawn_exactly_when_its_condition_holds():
    _, space = space_of({
        "optimizer.name": {"choices": ["adam", "sgd"]},
        "optimizer.momentum": {"low": 0.0, "high": 0.9, "when": {"optimizer.name": "sgd"}},
    })  # fmt: skip
    drawn = run(space, make_sampler("random", space, seed=1), 20)
    assert {v["optimizer.name"] for v in drawn} == {"adam", "sgd"}
    for values in drawn:
        assert ("optimizer.momentum" in values) == (values["optimizer.name"] == "sgd")


def test_a_trial_config_is_the_base_with_its_values_and_revalidated():
    cfg, space = space_of({"model.hidden_sizes": {"choices": [[8], [16, 8]]}})
    trial_cfg = space.apply(cfg, {"model.hidden_sizes": [16, 8]}, "trial 0's config")
    assert trial_cfg.model.hidden_sizes == [16, 8] and trial_cfg.tune is None
    assert trial_cfg.seed == cfg.seed
    with pytest.raises(ConfigError, match=r"trial 3's config:\n  model.dropout"):
        space.apply(cfg, {"model.dropout": 2.0}, "trial 3's config")


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_a_seeded_sampler_draws_the_same_values_again(sampler):
    _, space = space_of({
        "optimizer.lr": {"low": 1e-4, "high": 1e-1, "log": True},
        "model.hidden_sizes": {"choices": [[8], [16, 8]]},
        "data.batch_size": {"low": 16, "high": 64},
    })  # fmt: skip
    n = 12  # beyond TPE's 10 random start-up trials
    first = run(space, make_sampler(sampler, space, seed=3), n)
    assert run(space, make_sampler(sampler, space, seed=3), n) == first
    assert run(space, make_sampler(sampler, space, seed=4), n) != first


def test_a_resumed_study_draws_what_an_uninterrupted_one_draws():
    """Seeds are drawn per trial number, so a new command continuing the study (a fresh
    sampler) does not repeat the first trials' values."""
    _, space = space_of({"optimizer.lr": {"low": 1e-4, "high": 1e-1, "log": True}})
    whole = run(space, make_sampler("random", space, seed=0), 6)
    study = optuna.create_study(sampler=make_sampler("random", space, seed=0))
    resumed = run(space, None, 3, study)
    study.sampler = make_sampler("random", space, seed=0)  # as a second command would
    resumed += run(space, None, 3, study)
    assert resumed == whole and len({v["optimizer.lr"] for v in whole}) == 6


def test_cmaes_without_its_package_is_a_clear_error():
    _, space = space_of({"optimizer.lr": {"low": 1e-4, "high": 1e-1, "log": True}})
    if importlib.util.find_spec("cmaes") is not None:
        assert make_sampler("cmaes", space, seed=0) is not None
        return
    with pytest.raises(TuneError, match=r"needs the package 'cmaes'.*pip install cmaes"):
        make_sampler("cmaes", space, seed=0)
