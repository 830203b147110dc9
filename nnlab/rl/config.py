"""RL run configurations: a TOML file, validated with pydantic, that describes one agent's
training run (its own schema; supervised runs have :mod:`nnlab.config`).

The ``[agent]`` table's keys are the agent class's constructor arguments (read from its
signature, so the config and the class cannot drift apart), with the class's defaults.
Unknown keys and bad values are errors naming the key, e.g.::

    agent.batch_sise: unknown key; allowed keys for 'ppo': learning_rate, lr_schedule, ...
    total_timesteps: Input should be greater than 0 (got -5)

Example (``configs/rl_cartpole_ppo.toml``)::

    name = "cartpole-ppo"
    env_id = "CartPole-v1"
    seed = 0
    n_envs = 8
    total_timesteps = 100_000
    [agent]
    name = "ppo"
    n_steps = 32
"""

from __future__ import annotations

import inspect
import typing
from functools import cache
from pathlib import Path
from typing import Any

import gymnasium as gym
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from nnlab.config import ConfigError, read_toml
from nnlab.rl.agents import AGENTS
from nnlab.rl.base import settings_of

__all__ = ["RLConfig", "ConfigError", "load_rl_config", "parse_rl_config", "agent_settings"]

#: Constructor arguments that the run, not the [agent] table, decides.
_RUN_ARGS = ("self", "env", "seed", "n_envs")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class RLConfig(_Strict):
    """One RL run: which environment, which agent and for how long.

    ``checkpoint_interval`` (environment steps, 0: none) is how often the run folder's
    checkpoint is refreshed for ``--resume``; ``eval_episodes`` is how many deterministic
    episodes the finished policy is evaluated on.
    """

    name: str = Field("rl-run", pattern=r"^[A-Za-z0-9_.-]+$")  # a folder name
    env_id: str = "CartPole-v1"
    seed: int = 0
    n_envs: int = Field(1, ge=1, le=64)
    total_timesteps: int = Field(gt=0)
    eval_episodes: int = Field(100, ge=1)
    checkpoint_interval: int = Field(0, ge=0)
    agent: dict[str, Any]

    def agent_name(self) -> str:
        return self.agent["name"]

    def agent_kwargs(self) -> dict[str, Any]:
        """The agent's constructor arguments (validated; ``name`` removed)."""
        return {k: v for k, v in self.agent.items() if k != "name"}


@cache
def agent_settings(name: str) -> type[BaseModel]:
    """A pydantic model of agent ``name``'s settings, built from its constructor's
    signature (types and defaults), rejecting unknown keys."""
    init = AGENTS[name].__init__
    hints = typing.get_type_hints(init)
    fields: dict[str, Any] = {}
    for param in inspect.signature(init).parameters.values():
        if param.name not in _RUN_ARGS:
            fields[param.name] = (hints[param.name], param.default)
    return create_model(f"{name}_settings", __base__=_Strict, **fields)


def _describe(error: dict[str, Any], prefix: str = "") -> str:
    key = prefix + ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    if error["type"] == "missing":
        return f"{key}: missing (required)"
    if error["type"] == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"{key}: {error['input']!r} is not allowed; choose one of {expected}"
    return f"{key}: {error['msg']} (got {error.get('input')!r})"


def _agent_problems(agent: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    name = agent.get("name")
    if name not in AGENTS:
        return [f"agent.name: {name!r} is not allowed; choose one of {', '.join(AGENTS)}"], {}
    model = agent_settings(name)
    try:
        settings = model.model_validate({k: v for k, v in agent.items() if k != "name"})
    except ValidationError as exc:
        problems = [_describe(e, "agent.") for e in exc.errors()]
        allowed = ", ".join(model.model_fields)
        return [
            p + (f"; allowed keys for {name!r}: {allowed}" if "unknown key" in p else "")
            for p in problems
        ], {}
    return [], {"name": name, **settings_of(settings.model_dump())}


def parse_rl_config(data: dict[str, Any], source: str = "config") -> RLConfig:
    """Validate an RL config dict; raise :class:`ConfigError` listing every problem."""
    problems: list[str] = []
    try:
        cfg = RLConfig.model_validate(data)
    except ValidationError as exc:
        allowed = ", ".join(RLConfig.model_fields)
        problems = [
            p + (f"; allowed keys: {allowed}" if p.endswith("unknown key") else "")
            for p in map(_describe, exc.errors())
        ]
        cfg = None
    agent = data.get("agent") if isinstance(data, dict) else None
    if isinstance(agent, dict):
        agent_problems, agent_values = _agent_problems(agent)
        problems += agent_problems
    env_id = data.get("env_id", "CartPole-v1") if isinstance(data, dict) else None
    if isinstance(env_id, str) and env_id not in gym.registry:
        problems.append(
            f"env_id: {env_id!r} is not a registered gymnasium environment (e.g. "
            "'CartPole-v1', 'Acrobot-v1', 'MountainCar-v0')"
        )
    if problems:
        raise ConfigError(f"invalid {source}:\n  " + "\n  ".join(problems))
    cfg.agent = agent_values
    return cfg


def load_rl_config(path: str | Path) -> RLConfig:
    """Read and validate a TOML RL run configuration."""
    return parse_rl_config(read_toml(path), str(path))
