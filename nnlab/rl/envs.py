"""Gymnasium environments as the agents use them: vectorised, seeded, and saveable.

Every agent steps a :class:`gymnasium.vector.SyncVectorEnv` (one process: nothing is
pickled) in *same-step* autoreset mode: when an episode ends, ``step`` returns the first
observation of the next episode and puts the true last one in ``info["final_obs"]``, which
is what a bootstrap after a time limit needs (see :mod:`nnlab.rl.returns`).

A checkpoint must restore the environments exactly (mid-episode), or a resumed run
would not follow the uninterrupted one. Gymnasium has no state API, so
:func:`get_env_state` reads what defines a classic-control environment: its physical
``state``, its random generator, ``steps_beyond_terminated`` and the time-limit counter.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

__all__ = ["make_vec_env", "as_vec_env", "get_env_state", "set_env_state"]

_WRAPPER_FIELDS = ("_elapsed_steps", "_has_reset")


def make_vec_env(env_id: str, n_envs: int = 1) -> gym.vector.SyncVectorEnv:
    """``n_envs`` copies of ``env_id`` stepped together in this process, same-step autoreset."""
    if n_envs < 1:
        raise ValueError(f"make_vec_env: n_envs must be >= 1, got {n_envs}")
    try:
        return gym.make_vec(
            env_id,
            num_envs=n_envs,
            vectorization_mode="sync",
            vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
        )
    except gym.error.Error as exc:
        raise ValueError(f"environment {env_id!r}: {exc}") from None


def as_vec_env(env: Any, n_envs: int = 1) -> tuple[gym.vector.SyncVectorEnv, str | None]:
    """The vector env an agent steps, and the env id when known: an id string is made
    with :func:`make_vec_env`; a ``gym.Env`` is wrapped alone; a ``SyncVectorEnv`` must
    use same-step autoreset."""
    if isinstance(env, str):
        return make_vec_env(env, n_envs), env
    if isinstance(env, gym.vector.SyncVectorEnv):
        if env.autoreset_mode != gym.vector.AutoresetMode.SAME_STEP:
            raise ValueError(
                "agents need a vector env in same-step autoreset mode (the true final "
                f"observation in info['final_obs']); got {env.autoreset_mode}; use "
                "nnlab.rl.envs.make_vec_env"
            )
        spec = env.envs[0].spec
        return env, spec.id if spec else None
    if isinstance(env, gym.Env):
        vec = gym.vector.SyncVectorEnv(
            [lambda: env], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
        )
        return vec, env.spec.id if env.spec else None
    raise TypeError(
        f"env must be a gymnasium env id (str), a gymnasium.Env or a SyncVectorEnv, "
        f"got {type(env).__name__}"
    )


def _layers(env: gym.Env) -> list[Any]:
    layers = [env]
    while hasattr(layers[-1], "env"):
        layers.append(layers[-1].env)
    return layers


def get_env_state(vec_env: gym.vector.SyncVectorEnv) -> list[dict[str, Any]]:
    """Everything that decides each sub-environment's future (JSON values and arrays)."""
    states = []
    for env in vec_env.envs:
        base = env.unwrapped
        if not hasattr(base, "state"):
            raise ValueError(
                f"cannot checkpoint {env}: its state is not in `unwrapped.state` (the "
                "classic-control environments, CartPole, Acrobot, MountainCar, are saveable)"
            )
        wrappers = [
            {k: getattr(w, k) for k in _WRAPPER_FIELDS if hasattr(w, k)} for w in _layers(env)
        ]
        states.append({
            "wrappers": wrappers,
            "state": None if base.state is None else np.array(base.state),
            "steps_beyond_terminated": getattr(base, "steps_beyond_terminated", None),
            "np_random": base.np_random.bit_generator.state,
        })  # fmt: skip
    return states


def set_env_state(vec_env: gym.vector.SyncVectorEnv, states: list[dict[str, Any]]) -> None:
    """Restore what :func:`get_env_state` read."""
    if len(states) != len(vec_env.envs):
        raise ValueError(
            f"the saved state is of {len(states)} environments, the vector env has "
            f"{len(vec_env.envs)}"
        )
    for env, saved in zip(vec_env.envs, states):
        for layer, fields in zip(_layers(env), saved["wrappers"]):
            for k, v in fields.items():
                setattr(layer, k, v)
        base = env.unwrapped
        base.state = None if saved["state"] is None else np.array(saved["state"])
        if hasattr(base, "steps_beyond_terminated"):
            base.steps_beyond_terminated = saved["steps_beyond_terminated"]
        base.np_random.bit_generator.state = saved["np_random"]
