"""The random-policy baseline: uniformly random actions, nothing learned.

What any learning agent must beat; on CartPole-v1 it lasts about 22 steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.rl.base import BaseAgent

__all__ = ["RandomAgent"]


class RandomAgent(BaseAgent):
    """Acts uniformly at random; ``learn`` only plays (recording episodes), 256 vector
    steps per iteration.

    Args:
        env: env id, ``gym.Env`` or same-step ``SyncVectorEnv``.
        seed: the run's seed; n_envs: environments when ``env`` is an id (default 1).
    """

    name = "random"

    def __init__(self, env: Any, seed: int = 0, n_envs: int = 1) -> None:
        super().__init__(env, seed=seed, n_envs=n_envs, hyperparameters={"n_envs": n_envs})

    def _actions(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        return self.rng.integers(0, self.n_actions, len(obs))

    def _iteration(self) -> None:
        for _ in range(256):
            self._step_env(self._actions(self._last_obs, deterministic=False))
            if self.num_timesteps >= self._total_timesteps:
                break
