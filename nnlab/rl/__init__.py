"""Deep reinforcement learning on gymnasium: REINFORCE, A2C, DQN and PPO for discrete
actions, built on nnlab's layers and optimizers, with Stable-Baselines3's interface.

    >>> from nnlab.rl import PPO, evaluate_policy
    >>> agent = PPO("CartPole-v1", n_envs=8, n_steps=32, seed=0)  # doctest: +SKIP
    >>> agent.learn(total_timesteps=100_000)  # doctest: +SKIP
    >>> evaluate_policy(agent, "CartPole-v1", n_eval_episodes=100)  # doctest: +SKIP

A map of the package:

- :mod:`~nnlab.rl.returns`: discounted returns and GAE(γ, λ), termination vs truncation;
- :mod:`~nnlab.rl.buffers`: the rollout buffer and the replay ring;
- :mod:`~nnlab.rl.policies`: the actor-critic (categorical head) and the Q-network;
- :mod:`~nnlab.rl.envs`: seeded same-step vector envs, and their state for checkpoints;
- :mod:`~nnlab.rl.base`: seeding, ``learn``/``predict``, checkpoints, ``evaluate_policy``;
- one file per agent: :mod:`~nnlab.rl.reinforce`, :mod:`~nnlab.rl.a2c`,
  :mod:`~nnlab.rl.dqn`, :mod:`~nnlab.rl.ppo`, :mod:`~nnlab.rl.random_policy`;
- :mod:`~nnlab.rl.agents`: the agents by name;
- :mod:`~nnlab.rl.config`, :mod:`~nnlab.rl.run`, :mod:`~nnlab.rl.command`: ``nnlab rl``.
"""

from nnlab.rl.a2c import A2C
from nnlab.rl.agents import AGENTS, agent_class, load_agent
from nnlab.rl.base import BaseAgent, evaluate_policy
from nnlab.rl.buffers import ReplayBuffer, RolloutBuffer
from nnlab.rl.dqn import DQN, dqn_targets, linear_schedule
from nnlab.rl.envs import make_vec_env
from nnlab.rl.policies import ActorCriticPolicy, QNetwork
from nnlab.rl.ppo import PPO, ppo_clip_loss
from nnlab.rl.random_policy import RandomAgent
from nnlab.rl.reinforce import REINFORCE
from nnlab.rl.returns import compute_gae, discounted_returns

__all__ = [
    "A2C", "AGENTS", "ActorCriticPolicy", "BaseAgent", "DQN", "PPO", "QNetwork", "REINFORCE",
    "RandomAgent", "ReplayBuffer", "RolloutBuffer", "agent_class", "compute_gae",
    "discounted_returns", "dqn_targets", "evaluate_policy", "linear_schedule", "load_agent",
    "make_vec_env", "ppo_clip_loss",
]  # fmt: skip
