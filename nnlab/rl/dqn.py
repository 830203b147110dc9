"""Deep Q-networks (Mnih et al., 2015), with the Double DQN target as an option.

The Q-network is regressed on one-step targets computed by a *target network*, a copy
refreshed every ``target_update_interval`` environment steps (so the targets do not chase
the weights being trained), from minibatches drawn from a *replay buffer* (so that
consecutive, correlated transitions are not learned in a row):

.. math::
    y = r + \\gamma (1 - \\text{terminated})
    \\begin{cases} \\max_{a'} Q_{\\text{target}}(s', a') & \\text{DQN} \\\\
    Q_{\\text{target}}(s', \\arg\\max_{a'} Q(s', a')) & \\text{Double DQN} \\end{cases}

Double DQN (van Hasselt et al., 2016) picks the action with the online network and
values it with the target network, removing the max's upward bias. The loss is Huber
(smooth L1) on ``Q(s, a) - y``, gradients clipped to ``max_grad_norm``. Exploration is
ε-greedy, ε falling linearly from ``exploration_initial_eps`` to
``exploration_final_eps`` over ``exploration_fraction`` of training. Names and defaults
are Stable-Baselines3's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import nnlab
import nnlab.nn.functional as F
from nnlab.rl.base import BaseAgent, settings_of
from nnlab.rl.buffers import ReplayBuffer
from nnlab.rl.policies import QNetwork

__all__ = ["DQN", "dqn_targets", "linear_schedule"]


def dqn_targets(
    rewards: np.ndarray,
    terminated: np.ndarray,
    next_q_target: np.ndarray,
    gamma: float,
    next_q_online: np.ndarray | None = None,
) -> np.ndarray:
    """The regression targets ``y`` (see the module docstring): plain DQN when
    ``next_q_online`` is None, Double DQN (online argmax, target value) otherwise.

    Args:
        rewards, terminated: shape (N,).
        next_q_target: ``Q_target(s', ·)``, shape (N, n_actions).
        gamma: the discount.
        next_q_online: ``Q(s', ·)`` of the online network, for Double DQN.

    >>> dqn_targets(np.array([1.0]), np.array([0.0]), np.array([[2.0, 3.0]]), 0.5)
    array([2.5])
    """
    next_q_target = np.asarray(next_q_target, np.float64)
    if next_q_online is None:
        next_value = next_q_target.max(axis=1)
    else:
        best = np.asarray(next_q_online).argmax(axis=1)
        next_value = np.take_along_axis(next_q_target, best[:, None], 1)[:, 0]
    return np.asarray(rewards, np.float64) + gamma * (1.0 - np.asarray(terminated)) * next_value


def linear_schedule(start: float, end: float, end_fraction: float, progress: float) -> float:
    """``start`` moving linearly to ``end`` as ``progress`` goes from 0 to
    ``end_fraction``, then ``end`` (SB3's ``get_linear_fn``)."""
    if progress >= end_fraction:
        return end
    return start + progress * (end - start) / end_fraction


class DQN(BaseAgent):
    """DQN for discrete actions.

    Args:
        env: env id, ``gym.Env`` or same-step ``SyncVectorEnv``.
        learning_rate: Adam's step size (default 1e-4).
        buffer_size: replay capacity (1_000_000).
        learning_starts: environment steps of uniformly random actions before learning (100).
        batch_size: transitions per gradient step (32).
        gamma: discount (0.99).
        train_freq: environment steps (vector steps) between training rounds (4).
        gradient_steps: gradient steps per round (1).
        target_update_interval: environment steps between target copies (10_000).
        exploration_fraction: part of training over which ε falls (0.1).
        exploration_initial_eps, exploration_final_eps: ε's start and end (1.0, 0.05).
        max_grad_norm: gradient norm clip (10).
        double_q: use the Double DQN target (False).
        net_arch: hidden sizes ((64, 64)); activation: ("relu").
        seed: the run's seed; n_envs: environments when ``env`` is an id (default 1).
    """

    name = "dqn"

    def __init__(
        self,
        env: Any,
        learning_rate: float = 1e-4,
        buffer_size: int = 1_000_000,
        learning_starts: int = 100,
        batch_size: int = 32,
        gamma: float = 0.99,
        train_freq: int = 4,
        gradient_steps: int = 1,
        target_update_interval: int = 10_000,
        exploration_fraction: float = 0.1,
        exploration_initial_eps: float = 1.0,
        exploration_final_eps: float = 0.05,
        max_grad_norm: float = 10.0,
        double_q: bool = False,
        net_arch: Sequence[int] = (64, 64),
        activation: str = "relu",
        seed: int = 0,
        n_envs: int = 1,
    ) -> None:
        hyperparameters = settings_of(locals())
        for key in ("learning_rate", "batch_size", "train_freq", "gradient_steps",
                    "target_update_interval", "max_grad_norm", "buffer_size"):  # fmt: skip
            if not hyperparameters[key] > 0:
                raise ValueError(f"DQN: {key} must be > 0, got {hyperparameters[key]}")
        if not 0 < exploration_fraction <= 1:
            raise ValueError(
                f"DQN: exploration_fraction must be in (0, 1], got {exploration_fraction}"
            )
        self.learning_rate, self.buffer_size = learning_rate, buffer_size
        self.learning_starts, self.batch_size, self.gamma = learning_starts, batch_size, gamma
        self.train_freq, self.gradient_steps = train_freq, gradient_steps
        self.target_update_interval = target_update_interval
        self.exploration_fraction = exploration_fraction
        self.exploration_initial_eps = exploration_initial_eps
        self.exploration_final_eps = exploration_final_eps
        self.max_grad_norm, self.double_q = max_grad_norm, double_q
        self.net_arch, self.activation = list(net_arch), activation
        self._n_calls = 0
        super().__init__(env, seed=seed, n_envs=n_envs, hyperparameters=hyperparameters)
        self.replay_buffer = ReplayBuffer(buffer_size, self.obs_shape)

    def _setup_model(self) -> None:
        self.policy = QNetwork(self.obs_dim, self.n_actions, self.net_arch, self.activation)
        self.q_net_target = QNetwork(self.obs_dim, self.n_actions, self.net_arch, self.activation)
        self.q_net_target.load_state_dict(self.policy.state_dict())
        self.q_net_target.requires_grad_(False)
        self.optimizer = nnlab.optim.Adam(self.policy.parameters(), lr=self.learning_rate)

    @property
    def exploration_rate(self) -> float:
        """ε now (it follows :func:`linear_schedule` of the training progress)."""
        return linear_schedule(
            self.exploration_initial_eps, self.exploration_final_eps,
            self.exploration_fraction, self.progress,
        )  # fmt: skip

    def _actions(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        greedy = self.policy(nnlab.tensor(obs)).numpy().argmax(axis=1)
        if deterministic:
            return greedy
        explore = self.rng.random(len(obs)) < self.exploration_rate
        random_actions = self.rng.integers(0, self.n_actions, len(obs))
        return np.where(explore, random_actions, greedy)

    def _iteration(self) -> None:
        """``train_freq`` environment steps, then ``gradient_steps`` gradient steps."""
        for _ in range(self.train_freq):
            obs = self._last_obs
            if self.num_timesteps < self.learning_starts:
                actions = self.rng.integers(0, self.n_actions, self.n_envs)
            else:
                with nnlab.no_grad():
                    actions = self._actions(obs, deterministic=False)
            next_obs, rewards, terminated, _ = self._step_env(actions)
            self.replay_buffer.add(obs, next_obs, actions, rewards, terminated)
            self._n_calls += 1
            if self._n_calls % max(self.target_update_interval // self.n_envs, 1) == 0:
                self.q_net_target.load_state_dict(self.policy.state_dict())
            if self.num_timesteps >= self._total_timesteps:
                break
        if self.num_timesteps > self.learning_starts:
            self.train()

    def train(self) -> None:
        """``gradient_steps`` Huber-loss steps on replayed minibatches."""
        for _ in range(self.gradient_steps):
            batch = self.replay_buffer.sample(self.batch_size, self.rng)
            next_obs = nnlab.tensor(batch["next_observations"])
            with nnlab.no_grad():
                next_q_target = self.q_net_target(next_obs).numpy()
                next_q_online = self.policy(next_obs).numpy() if self.double_q else None
            y = dqn_targets(
                batch["rewards"], batch["terminated"], next_q_target, self.gamma, next_q_online
            )
            q = self.policy(nnlab.tensor(batch["observations"]))
            index = nnlab.tensor(batch["actions"].reshape(-1, 1))
            q_taken = q.gather(1, index).squeeze(1)
            loss = F.smooth_l1_loss(q_taken, nnlab.tensor(y.astype(np.float32)))
            self.optimizer.zero_grad()
            loss.backward()
            nnlab.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.optimizer.step()
            self.n_updates += 1

    def _extra_state(self) -> dict[str, Any]:
        return {
            "q_net_target": self.q_net_target.state_dict(),
            "replay_buffer": self.replay_buffer.state_dict(),
            "n_calls": self._n_calls,
        }

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.q_net_target.load_state_dict(state["q_net_target"])
        self.replay_buffer.load_state_dict(state["replay_buffer"])
        self._n_calls = int(state["n_calls"])
