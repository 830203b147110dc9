"""Run configurations: defaults, and errors that name the key and the allowed values."""

from __future__ import annotations

import pytest

from nnlab.config import ConfigError, RunConfig, load_config, parse_config


def test_defaults_are_complete():
    cfg = parse_config({})
    assert isinstance(cfg, RunConfig)
    assert cfg.optimizer.name == "adam" and cfg.data.dataset == "digits"


def test_unknown_key_lists_allowed_keys():
    with pytest.raises(ConfigError, match=r"training\.epoch: unknown key; allowed keys: epochs"):
        parse_config({"training": {"epoch": 3}})


def test_bad_choice_lists_allowed_values():
    with pytest.raises(ConfigError, match=r"optimizer\.name: 'adma' is not allowed.*'adam'"):
        parse_config({"optimizer": {"name": "adma"}})


def test_out_of_range_value_names_the_key():
    with pytest.raises(ConfigError, match=r"data\.batch_size"):
        parse_config({"data": {"batch_size": 0}})


def test_all_problems_reported_together():
    with pytest.raises(ConfigError) as info:
        parse_config({"seed": "x", "model": {"activation": "swish"}, "nope": 1})
    text = str(info.value)
    assert "seed" in text and "model.activation" in text and "nope: unknown key" in text


def test_toml_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[data\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_shipped_configs_are_valid():
    """Every config in configs/ loads: reinforcement-learning ones (rl_*) by their own
    schema, the others as training runs."""
    from pathlib import Path

    from nnlab.rl.config import load_rl_config

    configs = sorted(Path(__file__).resolve().parents[2].joinpath("configs").glob("*.toml"))
    assert len(configs) >= 5
    for path in configs:
        (load_rl_config if path.name.startswith("rl_") else load_config)(path)
