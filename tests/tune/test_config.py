"""The ``[tune]`` section of a run config: parsed (quoted dotted keys and nested tables
alike), its metric and direction resolved, and every bad search space rejected with a
message naming the key; ``nnlab train``'s parsing of the rest is unchanged."""

from __future__ import annotations

import pytest

import nnlab  # noqa: F401 - nnlab first: nnlab.config alone imports a half-made nnlab
from nnlab.config import ConfigError, load_config, parse_config

BASE = {"training": {"epochs": 2, "metrics": ["accuracy"]}}


def tuned(tune: dict) -> object:
    return parse_config({**BASE, "tune": tune})


def test_a_search_space_parses_with_its_defaults():
    cfg = tuned({
        "optimizer.lr": {"low": 1e-4, "high": 1e-1, "log": True},
        "model": {"hidden_sizes": {"choices": [[64], [128, 64]]}},  # unquoted dots nest
        "model.dropout": {"low": 0.0, "high": 0.5, "step": 0.1},
        "data.batch_size": {"low": 16, "high": 64, "step": 16},
    })  # fmt: skip
    tune = cfg.tune
    assert list(tune.params) == ["optimizer.lr", "model.hidden_sizes", "model.dropout",
                                 "data.batch_size"]  # fmt: skip
    assert tune.metric == "val_loss" and tune.direction == "minimize" and tune.n_trials == 20
    assert tune.params["data.batch_size"].is_int() and not tune.params["model.dropout"].is_int()


@pytest.mark.parametrize(
    ("metric", "direction"), [("val_accuracy", "maximize"), ("loss", "minimize")]
)
def test_the_direction_follows_the_metric(metric, direction):
    cfg = tuned({"metric": metric, "optimizer.lr": {"low": 1e-3, "high": 1e-2}})
    assert cfg.tune.direction == direction


def test_a_config_without_tune_is_unchanged_and_train_ignores_the_section():
    assert parse_config(BASE).tune is None
    plain = parse_config(BASE).model_dump(exclude={"tune"})
    with_tune = tuned({"optimizer.lr": {"low": 1e-3, "high": 1e-2}}).model_dump(exclude={"tune"})
    assert plain == with_tune


@pytest.mark.parametrize(
    ("tune", "message"),
    [
        ({"optimizer.lr": {"low": 0.1, "high": 0.1}},
         r'tune\."optimizer\.lr": empty range: low \(0\.1\) must be below high'),
        ({"optimizer.lr": {"low": 0.0, "high": 0.1, "log": True}},
         r'tune\."optimizer\.lr": log = true needs low > 0'),
        ({"optimizer.lrr": {"low": 0.1, "high": 1.0}},
         r"tune\.\"optimizer\.lrr\": 'lrr' is not a key of optimizer; allowed keys: .*lr"),
        ({"model.hidden_sizes": {"choices": []}},
         r'tune\."model\.hidden_sizes": choices is empty'),
        ({"optimizer.momentum": {"low": 0.0, "high": 0.9, "when": {"optimizer.name": "sgd"}}},
         r'tune\."optimizer\.momentum"\.when: "optimizer\.name" is not a parameter of the search'),
        ({"model.dropout": {"low": 0.0, "high": 1.5}},
         r'tune\."model\.dropout": 1\.5 makes an invalid config: model\.dropout'),
        ({"metric": "val_f1", "optimizer.lr": {"low": 1e-3, "high": 1e-2}},
         r"tune\.metric: 'val_f1' is not logged by this run"),
        ({"metrc": "val_loss", "optimizer.lr": {"low": 1e-3, "high": 1e-2}},
         r"tune\.metrc: unknown key"),
        ({"optimizer": {"low": 1e-3, "high": 1e-2}}, r'tune\."optimizer": optimizer is a section'),
        ({"optimizer.lr": {"low": 1e-3, "high": 1e-2, "grid": [0.5]}},
         r'tune\."optimizer\.lr": grid values \[0\.5\] lie outside'),
        ({"optimizer.lr": {"choices": [0.1], "low": 0.01}},
         r'tune\."optimizer\.lr": choices cannot be combined with low'),
        ({}, r"tune: no parameter to search"),
    ],
)  # fmt: skip
def test_a_bad_search_space_names_the_key(tune, message):
    with pytest.raises(ConfigError, match=message):
        tuned(tune)


def test_a_condition_must_name_an_earlier_parameter_and_a_possible_value():
    momentum = {"low": 0.0, "high": 0.9, "when": {"optimizer.name": "sgd"}}
    with pytest.raises(ConfigError, match="not a parameter declared before it"):
        tuned({"optimizer.momentum": momentum, "optimizer.name": {"choices": ["adam", "sgd"]}})
    with pytest.raises(ConfigError, match=r"'rmsprop' is not one of its choices"):
        tuned({
            "optimizer.name": {"choices": ["adam", "sgd"]},
            "optimizer.momentum": {**momentum, "when": {"optimizer.name": "rmsprop"}},
        })  # fmt: skip
    cfg = tuned({"optimizer.name": {"choices": ["adam", "sgd"]}, "optimizer.momentum": momentum})
    assert cfg.tune.params["optimizer.momentum"].when == {"optimizer.name": "sgd"}


def test_the_shipped_search_config_parses(tmp_path):
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "configs" / "digits_mlp_tune.toml"
    cfg = load_config(path)
    assert cfg.tune is not None and "optimizer.momentum" in cfg.tune.params
