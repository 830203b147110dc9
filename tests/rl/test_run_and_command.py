"""RL configs, run folders and ``nnlab rl``: clear config errors naming the key, a run
folder with its records and digests, resume equal to an uninterrupted run, and the
command's train / evaluate / error paths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nnlab.config import ConfigError
from nnlab.io import load_weights
from nnlab.rl.command import app
from nnlab.rl.config import load_rl_config, parse_rl_config
from nnlab.rl.run import RLRunError, evaluate_rl_run, resume_rl_run, train_rl

pytestmark = pytest.mark.usefixtures("one_blas_thread")

TINY = """
name = "tiny"
env_id = "CartPole-v1"
seed = 0
n_envs = 2
total_timesteps = 512
eval_episodes = 3
checkpoint_interval = 128
[agent]
name = "ppo"
n_steps = 32
batch_size = 32
n_epochs = 2
lr_schedule = "linear"
net_arch = [16]
"""

ROOT = Path(__file__).resolve().parents[2]


def _tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def _problems(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        parse_rl_config(data, "cfg")
    return str(info.value)


def test_config_errors_name_the_key():
    base = {"total_timesteps": 100, "agent": {"name": "ppo"}}
    assert "colour: unknown key; allowed keys: name, env_id" in _problems({**base, "colour": 1})
    msg = _problems({**base, "agent": {"name": "ppo", "batch_sise": 8}})
    assert "agent.batch_sise: unknown key; allowed keys for 'ppo':" in msg and "batch_size" in msg
    assert "agent.name: 'sarsa' is not allowed" in _problems({**base, "agent": {"name": "sarsa"}})
    msg = _problems({**base, "agent": {"name": "a2c", "lr_schedule": "cosine"}})
    assert "agent.lr_schedule: 'cosine' is not allowed" in msg
    assert "total_timesteps: Input should be greater than 0" in _problems(
        {**base, "total_timesteps": 0}
    )
    assert "env_id: 'CartPole-v9' is not a registered" in _problems(
        {**base, "env_id": "CartPole-v9"}
    )
    assert "agent: missing" in _problems({"total_timesteps": 10})


@pytest.mark.parametrize("name", ["ppo", "dqn", "a2c"])
def test_example_configs_are_valid(name):
    cfg = load_rl_config(ROOT / "configs" / f"rl_cartpole_{name}.toml")
    assert cfg.agent_name() == name and cfg.env_id == "CartPole-v1"


def test_a_linear_policy_with_a_deep_critic_round_trips_through_toml(tmp_path):
    config = _tiny(tmp_path)
    config.write_text(TINY.replace("net_arch = [16]", "net_arch = {pi = [], vf = [8]}"))
    cfg = load_rl_config(config)
    assert cfg.agent["net_arch"] == {"pi": [], "vf": [8]}
    run = train_rl(cfg, output_dir=tmp_path / "runs")
    assert load_rl_config(run.run_dir / "config.toml") == cfg
    assert len(run.agent.policy.pi) == 1


def test_run_folder_and_resume_equal_an_uninterrupted_run(tmp_path):
    config = _tiny(tmp_path)
    whole = train_rl(config, output_dir=tmp_path / "a")
    names = {p.name for p in whole.run_dir.iterdir()}
    assert {"config.toml", "config.json", "returns.csv", "returns.png", "episode_lengths.png",
            "policy.safetensors", "policy.json", "checkpoint.safetensors",
            "digests.json"} <= names  # fmt: skip
    rows = (whole.run_dir / "returns.csv").read_text().splitlines()
    assert rows[0] == "timestep,return,length" and len(rows) == len(whole.agent.episode_returns) + 1
    assert load_rl_config(whole.run_dir / "config.toml") == load_rl_config(config)

    stopped = train_rl(
        config, output_dir=tmp_path / "b", callbacks=[lambda a: a.num_timesteps < 256]
    )
    assert not stopped.finished and not (stopped.run_dir / "policy.safetensors").exists()
    resumed = resume_rl_run(stopped.run_dir)
    assert resumed.finished
    a = load_weights(whole.run_dir / "policy.safetensors")
    b = load_weights(resumed.run_dir / "policy.safetensors")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert (whole.run_dir / "returns.csv").read_text() == (
        resumed.run_dir / "returns.csv"
    ).read_text()
    with pytest.raises(RLRunError, match="finished"):
        resume_rl_run(resumed.run_dir)


def test_edited_policy_file_is_refused(tmp_path):
    run_dir = train_rl(_tiny(tmp_path), output_dir=tmp_path).run_dir
    meta = json.loads((run_dir / "policy.json").read_text())
    meta["seed"] = 5
    (run_dir / "policy.json").write_text(json.dumps(meta))
    with pytest.raises(RLRunError, match="SHA-256"):
        evaluate_rl_run(run_dir, episodes=2)


def test_command_trains_evaluates_and_reports_errors(tmp_path):
    runner = CliRunner()
    out = tmp_path / "runs"
    result = runner.invoke(app, [str(_tiny(tmp_path)), "--output-dir", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    trained = result.output.split("evaluation: mean return ")[1].split(" over 3 episodes")[0]
    (run_dir,) = out.iterdir()
    result = runner.invoke(app, ["evaluate", str(run_dir), "--episodes", "4"])
    assert result.exit_code == 0, result.output
    assert "mean return over 4 episodes:" in result.output and "±" in result.output
    # by default the run's own evaluation seed: the same numbers as at the end of training
    result = runner.invoke(app, ["evaluate", str(run_dir), "--episodes", "3"])
    assert f"mean return over 3 episodes: {trained.split(' ± ')[0]}" in result.output

    missing = str(tmp_path / "nope")
    for args in (
        ["evaluate", missing],
        [missing + ".toml"],
        ["--resume", missing],
        ["evaluate", str(run_dir), "--episodes", "0"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("error:") and "Traceback" not in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.replace("batch_size = 32", "batch_size = 0"))
    result = runner.invoke(app, ["train", str(bad)])
    assert result.exit_code == 2 and "batch_size must be > 0" in result.output


def test_a_finished_run_trains_further_with_more_timesteps(tmp_path):
    runner = CliRunner()
    out = tmp_path / "runs"
    result = runner.invoke(app, [str(_tiny(tmp_path)), "--output-dir", str(out), "--quiet"])
    (run_dir,) = out.iterdir()
    done = int(result.output.split("trained ")[1].split(" environment steps")[0])
    result = runner.invoke(app, ["--resume", str(run_dir), "--quiet"])
    assert result.exit_code == 2 and f"give --timesteps N (N > {done})" in result.output
    result = runner.invoke(app, ["--resume", str(run_dir), "--timesteps", str(done)])
    assert result.exit_code == 2 and "--timesteps must exceed that" in result.output
    result = runner.invoke(app, ["--resume", str(run_dir), "--timesteps", str(2 * done), "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"trained {2 * done} environment steps" in result.output
    result = runner.invoke(app, ["evaluate", str(run_dir), "--episodes", "2"])
    assert result.exit_code == 0, result.output  # the rewritten files pass their digests
