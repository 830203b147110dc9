"""The agents by name: the one list configs, run folders and the command read.

>>> sorted(AGENTS)
['a2c', 'dqn', 'ppo', 'random', 'reinforce']
"""

from __future__ import annotations

import os
from typing import Any

from nnlab.rl.a2c import A2C
from nnlab.rl.base import BaseAgent
from nnlab.rl.dqn import DQN
from nnlab.rl.ppo import PPO
from nnlab.rl.random_policy import RandomAgent
from nnlab.rl.reinforce import REINFORCE
from nnlab.train.checkpoint import CheckpointError, load_checkpoint

__all__ = ["AGENTS", "agent_class", "load_agent"]

AGENTS: dict[str, type[BaseAgent]] = {
    cls.name: cls for cls in (REINFORCE, A2C, DQN, PPO, RandomAgent)
}


def agent_class(name: str) -> type[BaseAgent]:
    """The agent class called ``name``; a ValueError lists the names."""
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; choose one of {', '.join(AGENTS)}")
    return AGENTS[name]


def load_agent(path: str | os.PathLike[str], env: Any = None) -> BaseAgent:
    """Whichever agent the checkpoint at ``path`` holds (see :meth:`BaseAgent.load`)."""
    name = load_checkpoint(path).get("agent")
    if name not in AGENTS:
        raise CheckpointError(f"{path} does not hold an nnlab.rl agent (agent {name!r})")
    return AGENTS[name].load(path, env=env)
