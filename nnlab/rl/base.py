"""What every agent shares: seeding, stepping the environments, episode bookkeeping,
``learn`` / ``predict``, checkpoints, and :func:`evaluate_policy`.

The interface is Stable-Baselines3's: ``agent = PPO("CartPole-v1", seed=0)``,
``agent.learn(total_timesteps=50_000)``, ``action, _ = agent.predict(obs,
deterministic=True)``, ``agent.save(path)``, ``PPO.load(path)``.

**One seed decides everything.** ``seed`` initialises the networks
(``nnlab.manual_seed(seed)`` right before they are built), seeds the environments
(``reset(seed=seed)``: sub-environment i gets ``seed + i``) and the agent's own generator
for exploration, action sampling, minibatch order and replay sampling. So two agents
made with the same seed learn the same weights.

**A checkpoint is the whole state**: weights, optimizer state, the generator's state,
the step counters, the episode records, the environments' states (mid-episode) and the
current observations (and, for DQN, the replay buffer and target network), in one
safetensors file (:mod:`nnlab.train.checkpoint`: arrays in the tensor table, the rest as
JSON metadata, both digest-checked). An agent loaded from a checkpoint taken between two
iterations of ``learn`` and trained on to the same total ends with the same weights as an
uninterrupted run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

import nnlab
from nnlab.rl.envs import as_vec_env, get_env_state, make_vec_env, set_env_state
from nnlab.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

__all__ = ["BaseAgent", "evaluate_policy", "settings_of"]

_FORMAT = "nnlab-rl-agent-1"


def settings_of(arguments: dict[str, Any]) -> dict[str, Any]:
    """An agent constructor's ``locals()`` as the settings ``load`` rebuilds it from:
    without ``self``, ``env`` and ``seed`` (a run's, not the agent's), as JSON values."""
    skip = ("self", "env", "seed", "__class__")
    return {k: _json_value(v) for k, v in arguments.items() if k not in skip}


def _json_value(value: Any) -> Any:
    """Tuples as lists, mappings as dicts, recursively (what JSON gives back)."""
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


class BaseAgent:
    """Base class of the agents: subclasses build their networks in ``_setup_model`` and
    implement ``_iteration`` (collect experience, then update) and ``_actions``.

    Args:
        env: a gymnasium env id (``"CartPole-v1"``), a ``gym.Env`` or a same-step
            ``SyncVectorEnv`` (:func:`nnlab.rl.envs.make_vec_env`).
        seed: the one seed of the run (default 0).
        n_envs: environments stepped together when ``env`` is an id (default 1).
        hyperparameters: the subclass's settings, recorded so that ``load`` can rebuild it.
    """

    #: The agent's name in configs and checkpoints ("ppo", "dqn"...).
    name: ClassVar[str] = ""

    def __init__(
        self, env: Any, seed: int = 0, n_envs: int = 1, hyperparameters: dict | None = None
    ) -> None:
        self.env, self.env_id = as_vec_env(env, n_envs)
        self.n_envs = self.env.num_envs
        if not isinstance(self.env.single_action_space, gym.spaces.Discrete):
            raise ValueError(
                f"{type(self).__name__}: only discrete action spaces are supported, "
                f"{self.env_id} has {self.env.single_action_space}"
            )
        self.obs_shape = tuple(self.env.single_observation_space.shape)
        self.obs_dim = int(np.prod(self.obs_shape))
        self.n_actions = int(self.env.single_action_space.n)
        self.seed = int(seed)
        self.hyperparameters = dict(hyperparameters or {})
        self.rng = np.random.default_rng(np.random.SeedSequence([self.seed, 1]))
        self.num_timesteps = 0
        self.n_updates = 0
        self._total_timesteps = 0
        self._last_obs: np.ndarray | None = None
        self._env_seeded = False
        self.episode_returns: list[float] = []
        self.episode_lengths: list[int] = []
        self.episode_timesteps: list[int] = []
        self._ep_return = np.zeros(self.n_envs)
        self._ep_length = np.zeros(self.n_envs, np.int64)
        self.policy: nnlab.nn.Module | None = None
        self.optimizer: nnlab.optim.Optimizer | None = None
        nnlab.manual_seed(self.seed)
        self._setup_model()

    # -- to implement ------------------------------------------------------------------

    def _setup_model(self) -> None:
        """Build the networks and the optimizer (the global generator is seeded)."""

    def _iteration(self) -> None:
        """Collect experience and update once (one rollout, or one train_freq round)."""
        raise NotImplementedError

    def _actions(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        """Actions, shape (N,), for observations of shape (N, obs_dim)."""
        raise NotImplementedError

    def _extra_state(self) -> dict[str, Any]:
        """More state for a checkpoint (a target network, a replay buffer)."""
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`_extra_state` returned."""

    # -- training ----------------------------------------------------------------------

    @property
    def progress(self) -> float:
        """The fraction of ``total_timesteps`` done, in [0, 1] (schedules read it)."""
        return min(self.num_timesteps / max(self._total_timesteps, 1), 1.0)

    def learn(
        self,
        total_timesteps: int,
        callback: Callable[[BaseAgent], Any] | None = None,
        reset_num_timesteps: bool = True,
    ) -> BaseAgent:
        """Train for ``total_timesteps`` environment steps (summed over the environments;
        the last iteration may overshoot). ``callback(agent)`` runs after each iteration;
        returning ``False`` stops training. With ``reset_num_timesteps=False`` training
        continues the count: a loaded checkpoint trained with ``total_timesteps`` = what
        was left ends where the uninterrupted run ends."""
        if total_timesteps < 0:
            raise ValueError(f"learn: total_timesteps must be >= 0, got {total_timesteps}")
        if reset_num_timesteps or self._last_obs is None:
            self.num_timesteps = 0
            self._last_obs = self._reset_envs()
        self._total_timesteps = self.num_timesteps + int(total_timesteps)
        while self.num_timesteps < self._total_timesteps:
            self._iteration()
            if callback is not None and callback(self) is False:
                break
        return self

    def _reset_envs(self) -> np.ndarray:
        # Only the first reset is seeded: a second `learn` continues the env's streams.
        obs, _ = self.env.reset(seed=None if self._env_seeded else self.seed)
        self._env_seeded = True
        self._ep_return[:] = 0
        self._ep_length[:] = 0
        return np.asarray(obs, np.float32)

    def _step_env(self, actions: np.ndarray) -> tuple[np.ndarray, ...]:
        """Step every environment; returns ``(next_obs, rewards, terminated, truncated)``
        where ``next_obs`` are the true next observations (the final one where an episode
        ended), and records finished episodes. The observation to act on next is
        ``self._last_obs``."""
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        obs = np.asarray(obs, np.float32)
        next_obs = obs.copy()
        done = np.logical_or(terminated, truncated)
        self.num_timesteps += self.n_envs
        self._ep_return += rewards
        self._ep_length += 1
        for i in np.flatnonzero(done):
            next_obs[i] = info["final_obs"][i]
            self.episode_returns.append(float(self._ep_return[i]))
            self.episode_lengths.append(int(self._ep_length[i]))
            self.episode_timesteps.append(self.num_timesteps)
            self._ep_return[i] = 0
            self._ep_length[i] = 0
        self._last_obs = obs
        return next_obs, np.asarray(rewards, np.float64), terminated, truncated

    def _set_learning_rate(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def _scheduled(self, value: float, schedule: str) -> float:
        """``value`` under a schedule: ``"constant"``, or ``"linear"`` decay to 0 over
        ``total_timesteps`` (Stable-Baselines3's ``lin_`` schedules)."""
        return value * (1.0 - self.progress) if schedule == "linear" else value

    # -- acting ------------------------------------------------------------------------

    def predict(self, observation: np.ndarray, deterministic: bool = False) -> tuple[Any, None]:
        """The action(s) for ``observation`` (one, shape ``obs_shape``, or a batch); returns
        ``(actions, None)`` as Stable-Baselines3 (the None is its recurrent state)."""
        obs = np.asarray(observation, np.float32)
        single = obs.shape == self.obs_shape
        if not single and obs.shape[1:] != self.obs_shape:
            raise ValueError(
                f"{type(self).__name__}.predict: observation of shape {obs.shape}, expected "
                f"{self.obs_shape} or (N, {', '.join(map(str, self.obs_shape))})"
            )
        batch = obs.reshape(-1, self.obs_dim)
        with nnlab.no_grad():
            actions = self._actions(batch, deterministic)
        return (actions[0] if single else actions), None

    # -- checkpoints -------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything a resumed run needs (see the module docstring)."""
        return {
            "format": _FORMAT,
            "agent": self.name,
            "env_id": self.env_id,
            "n_envs": self.n_envs,
            "seed": self.seed,
            "hyperparameters": self.hyperparameters,
            "policy": None if self.policy is None else self.policy.state_dict(),
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "rng": self.rng.bit_generator.state,
            "num_timesteps": self.num_timesteps,
            "total_timesteps": self._total_timesteps,
            "n_updates": self.n_updates,
            "last_obs": self._last_obs,
            "env_seeded": self._env_seeded,
            "env_state": get_env_state(self.env) if self._last_obs is not None else None,
            "episodes": {
                "returns": self.episode_returns,
                "lengths": self.episode_lengths,
                "timesteps": self.episode_timesteps,
                "current_return": self._ep_return,
                "current_length": self._ep_length,
            },
            "extra": self._extra_state(),
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the agent's whole state to a safetensors checkpoint; returns the path."""
        return save_checkpoint(path, self.state())

    def load_state(self, state: dict[str, Any], source: str = "checkpoint") -> None:
        """Restore :meth:`state` into this agent (built with the same settings)."""
        if state.get("agent") != self.name:
            raise CheckpointError(
                f"{source} holds a {state.get('agent')!r} agent, not {self.name!r}"
            )
        if self.policy is not None:
            self.policy.load_state_dict(state["policy"])
        if self.optimizer is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.num_timesteps = int(state["num_timesteps"])
        self._total_timesteps = int(state["total_timesteps"])
        self.n_updates = int(state["n_updates"])
        self._env_seeded = bool(state["env_seeded"])
        last = state["last_obs"]
        self._last_obs = None if last is None else np.array(last, np.float32)
        if state["env_state"] is not None:
            self.env.reset(seed=self.seed)  # creates the generators the state overwrites
            set_env_state(self.env, state["env_state"])
        ep = state["episodes"]
        self.episode_returns = [float(x) for x in ep["returns"]]
        self.episode_lengths = [int(x) for x in ep["lengths"]]
        self.episode_timesteps = [int(x) for x in ep["timesteps"]]
        self._ep_return = np.array(ep["current_return"], np.float64)
        self._ep_length = np.array(ep["current_length"], np.int64)
        self._load_extra_state(state["extra"])

    @classmethod
    def load(cls, path: str | os.PathLike[str], env: Any = None) -> BaseAgent:
        """An agent rebuilt from a checkpoint written by :meth:`save` (on ``env``, or a new
        vector env of the saved id and size)."""
        state = load_checkpoint(path)
        if state.get("format") != _FORMAT:
            raise CheckpointError(f"{path} is an nnlab checkpoint but not an agent's")
        if state.get("agent") != cls.name:
            raise CheckpointError(
                f"{path} holds a {state.get('agent')!r} agent, not {cls.name!r} (load it "
                "with nnlab.rl.load_agent, or the matching class)"
            )
        if env is None:
            if state["env_id"] is None:
                raise ValueError(f"{path}: the env was not made from an id; pass env=")
            env = make_vec_env(state["env_id"], state["n_envs"])
        agent = cls(env, seed=state["seed"], **state["hyperparameters"])
        agent.load_state(state, str(path))
        return agent


def evaluate_policy(
    agent: Any,
    env: Any,
    n_eval_episodes: int = 10,
    deterministic: bool = True,
    seed: int | None = None,
    return_episode_rewards: bool = False,
) -> tuple[float, float] | tuple[list[float], list[int]]:
    """Run ``n_eval_episodes`` whole episodes with ``agent.predict`` and return the mean
    and standard deviation of their returns (or, with ``return_episode_rewards``, the
    returns and lengths), as Stable-Baselines3's ``evaluate_policy``.

    ``env`` is an env id (then up to 10 copies run together) or a same-step vector env.
    Each environment runs an equal share of the episodes, so short episodes do not
    crowd out long ones. ``seed`` seeds the environments' first reset.
    """
    if n_eval_episodes < 1:
        raise ValueError(f"evaluate_policy: n_eval_episodes must be >= 1, got {n_eval_episodes}")
    if isinstance(env, str):
        env = make_vec_env(env, min(10, n_eval_episodes))
    vec, _ = as_vec_env(env)
    n = vec.num_envs
    targets = np.array([(n_eval_episodes + i) // n for i in range(n)])
    counts = np.zeros(n, np.int64)
    ep_return, ep_length = np.zeros(n), np.zeros(n, np.int64)
    returns: list[float] = []
    lengths: list[int] = []
    obs, _ = vec.reset(seed=seed)
    while (counts < targets).any():
        actions, _ = agent.predict(np.asarray(obs, np.float32), deterministic=deterministic)
        obs, rewards, terminated, truncated, _ = vec.step(actions)
        ep_return += rewards
        ep_length += 1
        for i in np.flatnonzero(np.logical_or(terminated, truncated)):
            if counts[i] < targets[i]:
                returns.append(float(ep_return[i]))
                lengths.append(int(ep_length[i]))
                counts[i] += 1
            ep_return[i], ep_length[i] = 0.0, 0
    if return_episode_rewards:
        return returns, lengths
    return float(np.mean(returns)), float(np.std(returns))
