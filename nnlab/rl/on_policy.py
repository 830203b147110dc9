"""The on-policy loop A2C and PPO share: collect ``n_steps`` per environment with the
current policy into a :class:`~nnlab.rl.buffers.RolloutBuffer`, compute GAE, then update
(``train``, the subclass's)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import nnlab
from nnlab.rl.base import BaseAgent
from nnlab.rl.buffers import RolloutBuffer
from nnlab.rl.policies import ActorCriticPolicy, sample_categorical

__all__ = ["OnPolicyAgent"]


def _check_positive(owner: str, **values: float) -> None:
    for key, value in values.items():
        if not value > 0:
            raise ValueError(f"{owner}: {key} must be > 0, got {value}")


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


class OnPolicyAgent(BaseAgent):
    """An actor-critic trained on rollouts of its own policy (see :class:`PPO`, :class:`A2C`
    for the arguments)."""

    def __init__(
        self,
        env: Any,
        *,
        n_steps: int,
        gamma: float,
        gae_lambda: float,
        ent_coef: float,
        vf_coef: float,
        max_grad_norm: float,
        net_arch: Sequence[int] | Mapping[str, Sequence[int]],
        activation: str,
        seed: int,
        n_envs: int,
        hyperparameters: dict[str, Any],
    ) -> None:
        _check_positive(type(self).__name__, n_steps=n_steps, max_grad_norm=max_grad_norm)
        if not (0 <= gamma <= 1 and 0 <= gae_lambda <= 1):
            raise ValueError(
                f"{type(self).__name__}: gamma and gae_lambda must be in [0, 1], got "
                f"{gamma} and {gae_lambda}"
            )
        self.n_steps, self.gamma, self.gae_lambda = n_steps, gamma, gae_lambda
        self.ent_coef, self.vf_coef, self.max_grad_norm = ent_coef, vf_coef, max_grad_norm
        self.net_arch, self.activation = net_arch, activation
        super().__init__(env, seed=seed, n_envs=n_envs, hyperparameters=hyperparameters)
        self.rollout_buffer = RolloutBuffer(n_steps, self.n_envs, self.obs_shape)

    def _setup_model(self) -> None:
        self.policy = ActorCriticPolicy(
            self.obs_dim, self.n_actions, self.net_arch, activation=self.activation
        )
        self.optimizer = self._make_optimizer()

    def _make_optimizer(self) -> nnlab.optim.Optimizer:
        raise NotImplementedError

    def _actions(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        logits, _ = self.policy(nnlab.tensor(obs))
        logits = logits.numpy().astype(np.float64)
        if deterministic:
            return logits.argmax(axis=-1)
        return sample_categorical(logits, self.rng)

    def collect_rollouts(self) -> None:
        """Fill the rollout buffer with ``n_steps`` steps of every environment and compute
        its advantages; ``V(s_{t+1})`` comes from the true next observations, so a time
        limit is bootstrapped and a termination is not."""
        buffer = self.rollout_buffer
        buffer.reset()
        next_obs = np.zeros((self.n_steps, self.n_envs, *self.obs_shape), np.float32)
        with nnlab.no_grad():
            for t in range(self.n_steps):
                obs = self._last_obs
                logits, values = self.policy(nnlab.tensor(obs))
                logits = logits.numpy().astype(np.float64)
                actions = sample_categorical(logits, self.rng)
                log_probs = np.take_along_axis(_log_softmax(logits), actions[:, None], 1)[:, 0]
                next_obs[t], rewards, terminated, truncated = self._step_env(actions)
                buffer.add(obs, actions, rewards, terminated, truncated, values.numpy(), log_probs)
            flat = next_obs.reshape(self.n_steps * self.n_envs, self.obs_dim)
            _, next_values = self.policy(nnlab.tensor(flat))
        buffer.compute_returns_and_advantage(
            next_values.numpy().reshape(self.n_steps, self.n_envs), self.gamma, self.gae_lambda
        )

    def _iteration(self) -> None:
        self.collect_rollouts()
        self.train()

    def train(self) -> None:
        """Update the policy on the rollout buffer."""
        raise NotImplementedError

    def _gradient_step(self, loss: nnlab.Tensor) -> None:
        self.optimizer.zero_grad()
        loss.backward()
        nnlab.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
        self.optimizer.step()
