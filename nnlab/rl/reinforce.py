"""REINFORCE (Williams, 1992) with a learned value baseline.

The policy gradient theorem gives :math:`\\nabla J = \\mathbb{E}[\\sum_t \\nabla \\log
\\pi_\\theta(a_t|s_t)\\,(G_t - b(s_t))]`: the return that followed each action, minus a
baseline that depends only on the state (here a learned ``V(s)``), which leaves the
gradient unbiased and lowers its variance. Updates use whole episodes (Monte-Carlo
returns, no bootstrapping), except that an episode cut by a time limit is bootstrapped
from ``V`` of its last state (see :mod:`nnlab.rl.returns`):

.. math::
    L = -\\frac{1}{T}\\sum_t \\log \\pi_\\theta(a_t|s_t)\\,(G_t - V(s_t))
        + c_v \\frac{1}{T}\\sum_t (V(s_t) - G_t)^2 - c_e \\bar H
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import nnlab
import nnlab.nn.functional as F
from nnlab.rl.base import BaseAgent, settings_of
from nnlab.rl.policies import ActorCriticPolicy, sample_categorical
from nnlab.rl.returns import discounted_returns

__all__ = ["REINFORCE"]


class REINFORCE(BaseAgent):
    """REINFORCE with a value baseline, on one environment (episodes are learned whole, so
    each update waits for ``n_episodes`` episodes to end).

    Args:
        env: env id, ``gym.Env`` or a one-env same-step ``SyncVectorEnv``.
        learning_rate: Adam's step size (default 1e-3).
        n_episodes: episodes per update (default 4).
        gamma: discount (0.99).
        vf_coef: value loss weight (0.5); ent_coef: entropy bonus weight (0.0).
        normalize_advantage: standardise ``G - V`` over the batch (True).
        max_grad_norm: gradient norm clip (0.5).
        net_arch: hidden sizes ((64, 64); [] is linear; {"pi": ..., "vf": ...} sets each
            network's own); activation: ("tanh").
        seed: the run's seed; n_envs: must be 1.
    """

    name = "reinforce"

    def __init__(
        self,
        env: Any,
        learning_rate: float = 1e-3,
        n_episodes: int = 4,
        gamma: float = 0.99,
        vf_coef: float = 0.5,
        ent_coef: float = 0.0,
        normalize_advantage: bool = True,
        max_grad_norm: float = 0.5,
        net_arch: Sequence[int] | Mapping[str, Sequence[int]] = (64, 64),
        activation: str = "tanh",
        seed: int = 0,
        n_envs: int = 1,
    ) -> None:
        hyperparameters = settings_of(locals())
        for key in ("learning_rate", "n_episodes", "max_grad_norm"):
            if not hyperparameters[key] > 0:
                raise ValueError(f"REINFORCE: {key} must be > 0, got {hyperparameters[key]}")
        self.learning_rate, self.n_episodes, self.gamma = learning_rate, n_episodes, gamma
        self.vf_coef, self.ent_coef = vf_coef, ent_coef
        self.normalize_advantage, self.max_grad_norm = normalize_advantage, max_grad_norm
        self.net_arch, self.activation = net_arch, activation
        super().__init__(env, seed=seed, n_envs=n_envs, hyperparameters=hyperparameters)
        if self.n_envs != 1:
            raise ValueError(
                f"REINFORCE learns from whole episodes of one environment; got n_envs="
                f"{self.n_envs} (use A2C or PPO for several environments)"
            )

    def _setup_model(self) -> None:
        self.policy = ActorCriticPolicy(
            self.obs_dim, self.n_actions, self.net_arch, activation=self.activation
        )
        self.optimizer = nnlab.optim.Adam(self.policy.parameters(), lr=self.learning_rate)

    def _actions(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        logits = self.policy(nnlab.tensor(obs))[0].numpy().astype(np.float64)
        return logits.argmax(axis=-1) if deterministic else sample_categorical(logits, self.rng)

    def _iteration(self) -> None:
        """Play ``n_episodes`` whole episodes, then take one gradient step on them."""
        steps: dict[str, list] = {k: [] for k in ("obs", "act", "rew", "next", "term", "trunc")}
        finished = 0
        with nnlab.no_grad():
            while finished < self.n_episodes:
                obs = self._last_obs
                actions = self._actions(obs, deterministic=False)
                next_obs, rewards, terminated, truncated = self._step_env(actions)
                for key, value in zip(
                    steps, (obs, actions, rewards, next_obs, terminated, truncated)
                ):
                    steps[key].append(value[0])
                finished += int(terminated[0] or truncated[0])
            next_values = self.policy(nnlab.tensor(np.stack(steps["next"])))[1].numpy()
        returns = discounted_returns(
            np.array(steps["rew"]), np.array(steps["term"]), np.array(steps["trunc"]),
            self.gamma, next_values,
        )  # fmt: skip
        self.train(np.stack(steps["obs"]), np.array(steps["act"]), returns)

    def train(self, observations: np.ndarray, actions: np.ndarray, returns: np.ndarray) -> None:
        """One gradient step of the loss in the module docstring."""
        log_prob, entropy, values = self.policy.evaluate_actions(
            nnlab.tensor(observations), actions
        )
        adv = returns - values.detach().numpy()
        if self.normalize_advantage and len(adv) > 1:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        policy_loss = -(nnlab.tensor(adv.astype(np.float32)) * log_prob).mean()
        value_loss = F.mse_loss(values, nnlab.tensor(returns.astype(np.float32)))
        loss = policy_loss + self.vf_coef * value_loss - self.ent_coef * entropy.mean()
        self.optimizer.zero_grad()
        loss.backward()
        nnlab.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
        self.optimizer.step()
        self.n_updates += 1
