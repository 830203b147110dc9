"""The reinforcement-learning experiments' helpers: the windowed learning curve, the
steps to a return level, and that one seed gives one trial."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.rl import WINDOW, learning_curve, steps_to_reach, train_and_evaluate
from nnlab.rl import PPO

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def test_learning_curve_averages_the_episodes_finished_so_far():
    timesteps, returns = np.array([10, 20, 30]), np.array([1.0, 2.0, 3.0])
    curve = learning_curve(timesteps, returns, np.array([5, 10, 25, 40]))
    assert np.isnan(curve[0])
    np.testing.assert_allclose(curve[1:], [1.0, 1.5, 2.0])


def test_learning_curve_keeps_only_the_last_window():
    n = WINDOW + 5
    returns = np.arange(n, dtype=float)
    curve = learning_curve(np.arange(1, n + 1), returns, np.array([n]))
    np.testing.assert_allclose(curve, [returns[-WINDOW:].mean()])


def test_steps_to_reach_is_the_step_of_the_first_window_at_the_level():
    # Ten failures then successes: a window of 20 averages >= 475 once it holds at most one
    # failure, i.e. from the episode with index 28, which ends at step 290.
    returns = np.array([0.0] * 10 + [500.0] * 30)
    timesteps = 10 * np.arange(1, len(returns) + 1)
    assert WINDOW == 20
    assert steps_to_reach(timesteps, returns, 475.0) == 290
    assert steps_to_reach(timesteps, returns, 501.0) is None
    assert steps_to_reach(timesteps[:5], returns[:5], 0.0) is None


def test_a_trial_is_decided_by_its_seed():
    settings = dict(n_steps=16, batch_size=32, n_epochs=2, net_arch=[8])

    def trial(seed):
        return train_and_evaluate(PPO, "CartPole-v1", 2, settings, seed, 256, 4)

    first, again, other = trial(3), trial(3), trial(4)
    np.testing.assert_array_equal(first.episode_returns, again.episode_returns)
    np.testing.assert_array_equal(first.episode_timesteps, again.episode_timesteps)
    np.testing.assert_array_equal(first.eval_returns, again.eval_returns)
    assert not np.array_equal(first.episode_returns, other.episode_returns)
