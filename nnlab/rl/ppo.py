"""Proximal policy optimisation (Schulman et al., 2017), the clipped-surrogate version.

Each rollout is reused for ``n_epochs`` passes of shuffled minibatches. Since the policy
moves away from the one that collected the data, each action is weighted by the
probability ratio :math:`\\rho = \\pi_\\theta(a|s) / \\pi_{\\text{old}}(a|s)`, and the
surrogate is clipped so that no step gains from moving ρ outside
:math:`[1-\\epsilon, 1+\\epsilon]`:

.. math::
    L^{\\text{clip}} = -\\mathbb{E}\\left[\\min\\left(\\rho A,\\;
    \\mathrm{clip}(\\rho, 1-\\epsilon, 1+\\epsilon) A\\right)\\right]

The total loss adds ``vf_coef`` times the value loss and ``-ent_coef`` times the entropy.
Names and defaults are Stable-Baselines3's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

import nnlab
import nnlab.nn.functional as F
from nnlab.rl.base import settings_of
from nnlab.rl.on_policy import OnPolicyAgent, _check_positive
from nnlab.tensor import Tensor

__all__ = ["PPO", "ppo_clip_loss"]


def ppo_clip_loss(ratio: Tensor, advantages: Any, clip_range: float) -> Tensor:
    """The clipped surrogate loss ``-mean(min(ρ A, clip(ρ, 1-ε, 1+ε) A))``.

    Where the clipped term is the smaller one (ρ > 1+ε with A > 0, ρ < 1-ε with A < 0)
    the loss is constant in ρ and its gradient is zero: the update stops pushing an
    action's probability further once it moved by more than ε.

    >>> import nnlab
    >>> ppo_clip_loss(nnlab.tensor([1.5, 0.5]), [1.0, -1.0], 0.2)
    tensor(-0.2)
    """
    adv = nnlab.tensor(np.asarray(advantages), dtype=ratio.dtype)
    clipped = nnlab.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    return -nnlab.minimum(ratio * adv, clipped * adv).mean()


class PPO(OnPolicyAgent):
    """PPO with a clipped objective, for discrete actions.

    Args:
        env: env id, ``gym.Env`` or same-step ``SyncVectorEnv``.
        learning_rate: Adam's step size (default 3e-4).
        lr_schedule: "constant" or "linear" (decay to 0 over ``total_timesteps``).
        n_steps: steps per environment per rollout (default 2048).
        batch_size: minibatch size (default 64).
        n_epochs: passes over each rollout (default 10).
        gamma: discount (0.99); gae_lambda: GAE's λ (0.95).
        clip_range: ε of the ratio clip (0.2).
        clip_range_vf: clip the value prediction's change to ±this (default None: off).
        normalize_advantage: standardise advantages per minibatch (True).
        ent_coef: entropy bonus weight (0.0); vf_coef: value loss weight (0.5).
        max_grad_norm: gradient norm clip (0.5).
        net_arch: hidden sizes of the policy and value MLPs ((64, 64); [] is linear;
            {"pi": [], "vf": [64, 64]}: a linear policy with a deep critic).
        activation: hidden non-linearity ("tanh").
        seed: the run's seed; n_envs: environments when ``env`` is an id (default 1).
    """

    name = "ppo"

    def __init__(
        self,
        env: Any,
        learning_rate: float = 3e-4,
        lr_schedule: Literal["constant", "linear"] = "constant",
        n_steps: int = 2048,
        batch_size: int = 64,
        n_epochs: int = 10,
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
        clip_range: float = 0.2,
        clip_range_vf: float | None = None,
        normalize_advantage: bool = True,
        ent_coef: float = 0.0,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        net_arch: Sequence[int] | Mapping[str, Sequence[int]] = (64, 64),
        activation: str = "tanh",
        seed: int = 0,
        n_envs: int = 1,
    ) -> None:
        hyperparameters = settings_of(locals())
        _check_positive(
            "PPO", learning_rate=learning_rate, batch_size=batch_size, n_epochs=n_epochs,
            clip_range=clip_range,
        )  # fmt: skip
        self.learning_rate, self.lr_schedule = learning_rate, lr_schedule
        self.batch_size, self.n_epochs = batch_size, n_epochs
        self.clip_range, self.clip_range_vf = clip_range, clip_range_vf
        self.normalize_advantage = normalize_advantage
        super().__init__(
            env, n_steps=n_steps, gamma=gamma, gae_lambda=gae_lambda, ent_coef=ent_coef,
            vf_coef=vf_coef, max_grad_norm=max_grad_norm, net_arch=net_arch,
            activation=activation, seed=seed, n_envs=n_envs, hyperparameters=hyperparameters,
        )  # fmt: skip

    def _make_optimizer(self) -> nnlab.optim.Optimizer:
        # eps 1e-5 as the PPO baselines (and SB3's policies) use.
        return nnlab.optim.Adam(self.policy.parameters(), lr=self.learning_rate, eps=1e-5)

    def train(self) -> None:
        """``n_epochs`` passes of minibatch steps on the clipped loss."""
        self._set_learning_rate(self._scheduled(self.learning_rate, self.lr_schedule))
        for _ in range(self.n_epochs):
            for batch in self.rollout_buffer.get(self.batch_size, self.rng):
                adv = batch["advantages"]
                if self.normalize_advantage and len(adv) > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                log_prob, entropy, values = self.policy.evaluate_actions(
                    nnlab.tensor(batch["observations"]), batch["actions"]
                )
                old_log_prob = nnlab.tensor(batch["log_probs"].astype(np.float32))
                ratio = (log_prob - old_log_prob).exp()
                policy_loss = ppo_clip_loss(ratio, adv, self.clip_range)
                if self.clip_range_vf is not None:
                    old = nnlab.tensor(batch["values"].astype(np.float32))
                    c = self.clip_range_vf
                    values = old + nnlab.clamp(values - old, -c, c)
                returns = nnlab.tensor(batch["returns"].astype(np.float32))
                value_loss = F.mse_loss(values, returns)
                loss = policy_loss - self.ent_coef * entropy.mean() + self.vf_coef * value_loss
                self._gradient_step(loss)
        self.n_updates += self.n_epochs
