"""The replay ring wraps around and samples reproducibly; the rollout buffer's batches
cover the rollout once."""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.rl.buffers import ReplayBuffer, RolloutBuffer


def _filled(n: int, size: int = 3) -> ReplayBuffer:
    buf = ReplayBuffer(size, (2,))
    for i in range(n):
        obs = np.full((1, 2), i, np.float32)
        buf.add(obs, obs + 0.5, np.array([i % 2]), np.array([float(i)]), np.array([i == 4]))
    return buf


def test_replay_ring_overwrites_the_oldest():
    buf = _filled(5)
    assert len(buf) == 3 and buf.pos == 2
    np.testing.assert_array_equal(buf.observations[:, 0], [3, 4, 2])
    np.testing.assert_array_equal(buf.rewards, [3, 4, 2])
    np.testing.assert_array_equal(buf.terminated, [0, 1, 0])


def test_replay_sampling_is_seeded_and_within_the_filled_part():
    buf = _filled(2, size=10)
    a = buf.sample(50, np.random.default_rng(7))
    b = buf.sample(50, np.random.default_rng(7))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert set(a["rewards"].tolist()) == {0.0, 1.0}


def test_replay_state_round_trip():
    buf = _filled(5)
    other = ReplayBuffer(3, (2,))
    other.load_state_dict(buf.state_dict())
    for key in ReplayBuffer._FIELDS:
        np.testing.assert_array_equal(getattr(other, key), getattr(buf, key))
    assert (other.pos, other.size) == (buf.pos, buf.size)


def test_empty_replay_buffer_refuses_to_sample():
    with pytest.raises(RuntimeError, match="empty"):
        ReplayBuffer(4, (2,)).sample(1, np.random.default_rng(0))


def test_rollout_minibatches_cover_every_transition_once():
    buf = RolloutBuffer(4, 2, (3,))
    for t in range(4):
        obs = np.full((2, 3), t, np.float32)
        buf.add(obs, np.array([t, t]), np.ones(2), np.zeros(2, bool), np.zeros(2, bool),
                np.zeros(2), np.zeros(2))  # fmt: skip
    buf.compute_returns_and_advantage(np.zeros((4, 2)), 1.0, 1.0)
    np.testing.assert_allclose(buf.returns[:, 0], [4, 3, 2, 1])
    batches = list(buf.get(3, np.random.default_rng(0)))
    assert [len(b["actions"]) for b in batches] == [3, 3, 2]
    seen = np.sort(np.concatenate([b["actions"] for b in batches]))
    np.testing.assert_array_equal(seen, [0, 0, 1, 1, 2, 2, 3, 3])
    with pytest.raises(RuntimeError, match="full"):
        buf.add(obs, np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2))
