"""Advantage actor-critic (A2C: the synchronous A3C of Mnih et al., 2016) with GAE.

Each update uses one short rollout (``n_steps`` per environment, several environments
stepped together) once:

.. math::
    L = -\\mathbb{E}[A_t \\log \\pi_\\theta(a_t|s_t)] + c_v\\,\\mathbb{E}[(V(s_t) - R_t)^2]
        - c_e\\,\\mathbb{E}[H(\\pi_\\theta(\\cdot|s_t))]

with advantages ``A_t`` from GAE(γ, λ) (λ = 1 by default: n-step returns bootstrapped
from the critic at the rollout's end) and value targets ``R_t = A_t + V(s_t)``. Names and
defaults are Stable-Baselines3's (RMSprop with α = 0.99, eps = 1e-5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

import nnlab
import nnlab.nn.functional as F
from nnlab.rl.base import settings_of
from nnlab.rl.on_policy import OnPolicyAgent, _check_positive

__all__ = ["A2C"]


class A2C(OnPolicyAgent):
    """A2C for discrete actions.

    Args:
        env: env id, ``gym.Env`` or same-step ``SyncVectorEnv``.
        learning_rate: step size (default 7e-4); lr_schedule: "constant" or "linear".
        n_steps: steps per environment per update (default 5).
        gamma: discount (0.99); gae_lambda: GAE's λ (1.0).
        ent_coef: entropy bonus weight (0.0); vf_coef: value loss weight (0.5).
        max_grad_norm: gradient norm clip (0.5).
        optimizer: "rmsprop" (default, α 0.99, eps 1e-5) or "adam".
        normalize_advantage: standardise the rollout's advantages (False).
        net_arch: hidden sizes ((64, 64); [] is linear; {"pi": ..., "vf": ...} sets each
            network's own); activation: ("tanh").
        seed: the run's seed; n_envs: environments when ``env`` is an id (default 1).
    """

    name = "a2c"

    def __init__(
        self,
        env: Any,
        learning_rate: float = 7e-4,
        lr_schedule: Literal["constant", "linear"] = "constant",
        n_steps: int = 5,
        gamma: float = 0.99,
        gae_lambda: float = 1.0,
        ent_coef: float = 0.0,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        optimizer: Literal["rmsprop", "adam"] = "rmsprop",
        normalize_advantage: bool = False,
        net_arch: Sequence[int] | Mapping[str, Sequence[int]] = (64, 64),
        activation: str = "tanh",
        seed: int = 0,
        n_envs: int = 1,
    ) -> None:
        hyperparameters = settings_of(locals())
        _check_positive("A2C", learning_rate=learning_rate)
        if optimizer not in ("rmsprop", "adam"):
            raise ValueError(f"A2C: optimizer must be 'rmsprop' or 'adam', got {optimizer!r}")
        self.learning_rate, self.lr_schedule = learning_rate, lr_schedule
        self.optimizer_name, self.normalize_advantage = optimizer, normalize_advantage
        super().__init__(
            env, n_steps=n_steps, gamma=gamma, gae_lambda=gae_lambda, ent_coef=ent_coef,
            vf_coef=vf_coef, max_grad_norm=max_grad_norm, net_arch=net_arch,
            activation=activation, seed=seed, n_envs=n_envs, hyperparameters=hyperparameters,
        )  # fmt: skip

    def _make_optimizer(self) -> nnlab.optim.Optimizer:
        params = self.policy.parameters()
        if self.optimizer_name == "adam":
            return nnlab.optim.Adam(params, lr=self.learning_rate, eps=1e-5)
        return nnlab.optim.RMSprop(params, lr=self.learning_rate, alpha=0.99, eps=1e-5)

    def train(self) -> None:
        """One gradient step on the whole rollout."""
        self._set_learning_rate(self._scheduled(self.learning_rate, self.lr_schedule))
        (batch,) = self.rollout_buffer.get(None)
        adv = batch["advantages"]
        if self.normalize_advantage:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        log_prob, entropy, values = self.policy.evaluate_actions(
            nnlab.tensor(batch["observations"]), batch["actions"]
        )
        policy_loss = -(nnlab.tensor(adv.astype(np.float32)) * log_prob).mean()
        value_loss = F.mse_loss(values, nnlab.tensor(batch["returns"].astype(np.float32)))
        loss = policy_loss - self.ent_coef * entropy.mean() + self.vf_coef * value_loss
        self._gradient_step(loss)
        self.n_updates += 1
