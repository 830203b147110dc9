"""Agents: one seed decides everything, checkpoints restore everything (a resumed run
ends with the weights of an uninterrupted one), and PPO learns CartPole quickly."""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.rl import A2C, DQN, PPO, REINFORCE, RandomAgent, evaluate_policy, load_agent

pytestmark = pytest.mark.usefixtures("one_blas_thread")

TINY = {
    "ppo": lambda seed: PPO("CartPole-v1", n_envs=2, n_steps=32, batch_size=32, n_epochs=2,
                            lr_schedule="linear", net_arch=[16], seed=seed),
    "a2c": lambda seed: A2C("CartPole-v1", n_envs=2, net_arch=[16], seed=seed),
    "dqn": lambda seed: DQN("CartPole-v1", learning_starts=64, buffer_size=200, train_freq=16,
                            gradient_steps=4, target_update_interval=32, batch_size=16,
                            net_arch=[16], double_q=True, seed=seed),
    "reinforce": lambda seed: REINFORCE("CartPole-v1", n_episodes=2, net_arch=[16], seed=seed),
}  # fmt: skip


def _weights(agent):
    return {k: v.numpy().copy() for k, v in agent.policy.state_dict().items()}


def _assert_same_weights(a, b):
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k], err_msg=k)


@pytest.mark.parametrize("name", sorted(TINY))
def test_same_seed_same_run(name):
    a, b = TINY[name](3).learn(400), TINY[name](3).learn(400)
    assert a.episode_returns == b.episode_returns and len(a.episode_returns) > 5
    _assert_same_weights(a, b)
    c = TINY[name](4).learn(400)
    assert c.episode_returns != a.episode_returns


@pytest.mark.parametrize("name", sorted(TINY))
def test_resume_from_a_checkpoint_equals_an_uninterrupted_run(name, tmp_path):
    total = 800
    whole = TINY[name](0).learn(total)
    path = tmp_path / "agent.safetensors"

    def interrupt(agent):  # save mid-run, then stop: as a crash after a checkpoint
        if agent.num_timesteps >= total // 2:
            agent.save(path)
            return False
        return True

    TINY[name](0).learn(total, callback=interrupt)
    resumed = load_agent(path)
    assert type(resumed) is type(whole) and 0 < resumed.num_timesteps < total
    resumed.learn(total - resumed.num_timesteps, reset_num_timesteps=False)
    assert resumed.num_timesteps == whole.num_timesteps
    assert resumed.episode_returns == whole.episode_returns
    _assert_same_weights(resumed, whole)


def test_save_load_round_trip_keeps_predictions(tmp_path):
    agent = TINY["dqn"](1).learn(300)
    agent.save(tmp_path / "dqn.safetensors")
    loaded = DQN.load(tmp_path / "dqn.safetensors")
    obs = np.random.default_rng(0).normal(size=(7, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(obs, True)[0], agent.predict(obs, True)[0])
    assert loaded.exploration_rate == agent.exploration_rate
    assert len(loaded.replay_buffer) == len(agent.replay_buffer) == 200
    with pytest.raises(Exception, match="'dqn' agent, not 'ppo'"):
        PPO.load(tmp_path / "dqn.safetensors")


def test_predict_shapes_and_errors():
    agent = TINY["ppo"](0)
    action, state = agent.predict(np.zeros(4, np.float32), deterministic=True)
    assert np.ndim(action) == 0 and state is None
    assert agent.predict(np.zeros((5, 4)), deterministic=True)[0].shape == (5,)
    with pytest.raises(ValueError, match=r"expected \(4,\)"):
        agent.predict(np.zeros(3))


def test_dqn_epsilon_follows_the_linear_schedule():
    agent = DQN("CartPole-v1", exploration_fraction=0.5, exploration_final_eps=0.1, seed=0)
    agent._total_timesteps, agent.num_timesteps = 1000, 250
    assert agent.exploration_rate == pytest.approx(0.55)
    agent.num_timesteps = 600
    assert agent.exploration_rate == pytest.approx(0.1)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="batch_size must be > 0"):
        PPO("CartPole-v1", batch_size=0)
    with pytest.raises(ValueError, match="n_envs=2"):
        REINFORCE("CartPole-v1", n_envs=2)
    with pytest.raises(ValueError, match="discrete"):
        PPO("Pendulum-v1")


def test_ppo_improves_on_cartpole_within_20k_steps():
    """RL Zoo's PPO settings on 8 environments: after 20k steps the last 20 episodes
    average well above the random policy's (measured here, about 22)."""
    random_returns = RandomAgent("CartPole-v1", seed=0).learn(2000).episode_returns
    agent = PPO("CartPole-v1", n_envs=8, n_steps=32, batch_size=256, n_epochs=20,
                gamma=0.98, gae_lambda=0.8, learning_rate=1e-3, seed=0)  # fmt: skip
    agent.learn(20_000)
    learned = np.mean(agent.episode_returns[-20:])
    assert np.mean(random_returns) < 30
    assert learned > 3 * np.mean(random_returns), (learned, np.mean(random_returns))
    mean, _ = evaluate_policy(agent, "CartPole-v1", n_eval_episodes=5, seed=0)
    assert mean > 60
