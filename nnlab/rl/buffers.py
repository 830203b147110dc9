"""Experience storage: the on-policy rollout buffer and the off-policy replay buffer.

Both are preallocated NumPy arrays indexed by time first (see :mod:`nnlab.rl.returns`),
so that saving one is saving a few arrays (``state_dict``), never pickling objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from nnlab.rl.returns import compute_gae

__all__ = ["RolloutBuffer", "ReplayBuffer"]


class RolloutBuffer:
    """``n_steps`` transitions of ``n_envs`` environments, collected by the current policy
    (A2C, PPO), and their GAE advantages.

    Args:
        n_steps: steps per environment in one rollout.
        n_envs: number of environments stepped together.
        obs_shape: the shape of one observation.
    """

    def __init__(self, n_steps: int, n_envs: int, obs_shape: tuple[int, ...]) -> None:
        self.n_steps, self.n_envs = n_steps, n_envs
        shape = (n_steps, n_envs)
        self.observations = np.zeros((*shape, *obs_shape), np.float32)
        self.actions = np.zeros(shape, np.int64)
        self.rewards = np.zeros(shape, np.float64)
        self.terminated = np.zeros(shape, bool)
        self.truncated = np.zeros(shape, bool)
        self.values = np.zeros(shape, np.float64)
        self.next_values = np.zeros(shape, np.float64)
        self.log_probs = np.zeros(shape, np.float64)
        self.advantages = np.zeros(shape, np.float64)
        self.returns = np.zeros(shape, np.float64)
        self.pos = 0

    def reset(self) -> None:
        self.pos = 0

    @property
    def full(self) -> bool:
        return self.pos == self.n_steps

    def add(self, obs, actions, rewards, terminated, truncated, values, log_probs) -> None:
        """Store one vector step (arrays of length ``n_envs``)."""
        if self.full:
            raise RuntimeError("RolloutBuffer.add: the buffer is full; call reset() first")
        t = self.pos
        self.observations[t] = obs
        self.actions[t] = actions
        self.rewards[t] = rewards
        self.terminated[t] = terminated
        self.truncated[t] = truncated
        self.values[t] = values
        self.log_probs[t] = log_probs
        self.pos += 1

    def compute_returns_and_advantage(
        self, next_values: np.ndarray, gamma: float, gae_lambda: float
    ) -> None:
        """GAE advantages and value targets, given ``V(s_{t+1})`` of every step's true
        next state, shape ``(n_steps, n_envs)``."""
        self.next_values[:] = next_values
        self.advantages, self.returns = compute_gae(
            self.rewards, self.values, self.next_values, self.terminated, self.truncated,
            gamma, gae_lambda,
        )  # fmt: skip

    def get(
        self, batch_size: int | None, rng: np.random.Generator | None = None
    ) -> Iterator[dict[str, np.ndarray]]:
        """Minibatches of the flattened rollout, ``batch_size`` transitions each in an
        order shuffled by ``rng`` (the whole rollout in order when ``batch_size`` is None)."""
        n = self.n_steps * self.n_envs
        order = np.arange(n) if rng is None else rng.permutation(n)
        size = n if batch_size is None else batch_size
        flat = {
            "observations": self.observations.reshape(n, *self.observations.shape[2:]),
            "actions": self.actions.reshape(n),
            "values": self.values.reshape(n),
            "log_probs": self.log_probs.reshape(n),
            "advantages": self.advantages.reshape(n),
            "returns": self.returns.reshape(n),
        }
        for start in range(0, n, size):
            idx = order[start : start + size]
            yield {k: v[idx] for k, v in flat.items()}


class ReplayBuffer:
    """A ring of the last ``buffer_size`` transitions ``(s, a, r, s', terminated)`` (DQN).

    When full, each new transition overwrites the oldest. Only ``terminated`` is kept as
    the "no bootstrap" flag: a transition cut by a time limit still bootstraps from
    ``V(s')`` (see :mod:`nnlab.rl.returns`), so ``next_observations`` holds the true final
    observation there.

    Args:
        buffer_size: the capacity, in transitions.
        obs_shape: the shape of one observation.
    """

    _FIELDS = ("observations", "next_observations", "actions", "rewards", "terminated")

    def __init__(self, buffer_size: int, obs_shape: tuple[int, ...]) -> None:
        if buffer_size < 1:
            raise ValueError(f"ReplayBuffer: buffer_size must be >= 1, got {buffer_size}")
        self.buffer_size = buffer_size
        self.observations = np.zeros((buffer_size, *obs_shape), np.float32)
        self.next_observations = np.zeros((buffer_size, *obs_shape), np.float32)
        self.actions = np.zeros(buffer_size, np.int64)
        self.rewards = np.zeros(buffer_size, np.float32)
        self.terminated = np.zeros(buffer_size, np.float32)
        self.pos = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs, next_obs, actions, rewards, terminated) -> None:
        """Store a batch of transitions (first axis: one per environment)."""
        for i in range(len(actions)):
            p = self.pos
            self.observations[p] = obs[i]
            self.next_observations[p] = next_obs[i]
            self.actions[p] = actions[i]
            self.rewards[p] = rewards[i]
            self.terminated[p] = terminated[i]
            self.pos = (p + 1) % self.buffer_size
            self.size = min(self.size + 1, self.buffer_size)

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``batch_size`` transitions drawn uniformly, with replacement, by ``rng``."""
        if self.size == 0:
            raise RuntimeError("ReplayBuffer.sample: the buffer is empty")
        idx = rng.integers(0, self.size, size=batch_size)
        return {k: getattr(self, k)[idx] for k in self._FIELDS}

    def state_dict(self) -> dict[str, Any]:
        """The filled part of the ring and its position (arrays and ints, for a checkpoint)."""
        return {
            **{k: getattr(self, k)[: self.size].copy() for k in self._FIELDS},
            "pos": self.pos,
            "size": self.size,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        size = int(state["size"])
        if size > self.buffer_size:
            raise ValueError(
                f"ReplayBuffer.load_state_dict: {size} transitions do not fit buffer_size "
                f"{self.buffer_size}"
            )
        for k in self._FIELDS:
            getattr(self, k)[:size] = state[k]
        self.pos, self.size = int(state["pos"]), size
