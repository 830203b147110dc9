"""Returns and advantages of a rollout: discounted returns and GAE(γ, λ).

Convention (one for the whole package): arrays are indexed by time first, ``(T,)`` or
``(T, n_envs)``. Step ``t`` is the transition ``s_t --a_t--> s_{t+1}`` with reward
``r_t``; ``terminated[t]`` says ``s_{t+1}`` is terminal (the pole fell: nothing follows,
its value is 0) and ``truncated[t]`` says the episode was cut there (a time limit:
``s_{t+1}`` is an ordinary state, so its value ``V(s_{t+1})`` stands in for the rewards
the cut removed). ``next_values[t]`` is ``V(s_{t+1})`` of the *true* next state (the final
observation when the episode ended there, not the first one of the next episode).

Telling the two endings apart matters: bootstrapping after a termination adds value the
task never gives, and not bootstrapping after a time limit teaches the agent that the
500th CartPole step is worth nothing (Pardo et al., 2018, "Time Limits in Reinforcement
Learning").
"""

from __future__ import annotations

import numpy as np

__all__ = ["discounted_returns", "compute_gae"]


def _as_arrays(rewards, terminated, truncated, next_values):
    rewards = np.asarray(rewards, dtype=np.float64)
    shapes = {"rewards": rewards.shape}
    out = [rewards]
    for name, a, dtype in (
        ("terminated", terminated, bool),
        ("truncated", truncated, bool),
        ("next_values", next_values, np.float64),
    ):
        a = np.zeros(rewards.shape, dtype) if a is None else np.asarray(a, dtype=dtype)
        shapes[name] = a.shape
        out.append(a)
    if len(set(shapes.values())) != 1 or rewards.ndim not in (1, 2):
        raise ValueError(
            f"returns: rewards, terminated, truncated and next_values must have one shape, "
            f"(T,) or (T, n_envs); got {shapes}"
        )
    return out


def discounted_returns(
    rewards: np.ndarray,
    terminated: np.ndarray | None = None,
    truncated: np.ndarray | None = None,
    gamma: float = 0.99,
    next_values: np.ndarray | None = None,
) -> np.ndarray:
    r"""Discounted returns, computed backwards in time:

    .. math::
        G_t = r_t + \gamma \begin{cases} 0 & \text{terminated}_t \\
        V(s_{t+1}) & \text{truncated}_t \text{ or } t = T-1 \\
        G_{t+1} & \text{otherwise} \end{cases}

    Without ``next_values`` every bootstrap is 0 (plain Monte-Carlo returns).

    Args:
        rewards: ``(T,)`` or ``(T, n_envs)`` rewards.
        terminated, truncated: the episode ended after step t (default: never).
        gamma: the discount factor γ.
        next_values: ``V(s_{t+1})`` of the true next states (see the module docstring).

    Returns:
        float64 array of ``G_t``, the shape of ``rewards``.

    >>> discounted_returns([1.0, 1.0, 1.0], terminated=[False, False, True], gamma=0.5)
    array([1.75, 1.5 , 1.  ])
    """
    rewards, terminated, truncated, next_values = _as_arrays(
        rewards, terminated, truncated, next_values
    )
    returns = np.zeros_like(rewards)
    future = next_values[-1]
    for t in reversed(range(len(rewards))):
        if t < len(rewards) - 1:
            # After a cut, what follows is another episode: bootstrap from V(s_{t+1}).
            future = np.where(truncated[t], next_values[t], returns[t + 1])
        returns[t] = rewards[t] + gamma * np.where(terminated[t], 0.0, future)
    return returns


def compute_gae(
    rewards: np.ndarray,
    values: np.ndarray,
    next_values: np.ndarray,
    terminated: np.ndarray | None = None,
    truncated: np.ndarray | None = None,
    gamma: float = 0.99,
    gae_lambda: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Generalised advantage estimation (Schulman et al., 2016):

    .. math::
        \delta_t = r_t + \gamma (1 - \text{terminated}_t) V(s_{t+1}) - V(s_t), \qquad
        A_t = \delta_t + \gamma \lambda (1 - \text{done}_t) A_{t+1}

    with ``done = terminated or truncated`` (no advantage flows across an episode's end)
    and ``A_T = 0``. λ = 1 gives Monte-Carlo advantages ``G_t - V(s_t)``, λ = 0 the
    one-step TD error.

    Args:
        rewards, values: ``r_t`` and ``V(s_t)``, shape ``(T,)`` or ``(T, n_envs)``.
        next_values: ``V(s_{t+1})`` of the true next states.
        terminated, truncated: the episode ended after step t (default: never).
        gamma: the discount factor γ; gae_lambda: the trace parameter λ.

    Returns:
        ``(advantages, returns)``, float64, where ``returns = advantages + values`` are the
        value function's regression targets.
    """
    rewards, terminated, truncated, next_values = _as_arrays(
        rewards, terminated, truncated, next_values
    )
    values = np.asarray(values, dtype=np.float64)
    if values.shape != rewards.shape:
        raise ValueError(
            f"compute_gae: values must have the shape of rewards {rewards.shape}, "
            f"got {values.shape}"
        )
    deltas = rewards + gamma * np.where(terminated, 0.0, next_values) - values
    done = terminated | truncated
    advantages = np.zeros_like(rewards)
    last = np.zeros_like(rewards[0])
    for t in reversed(range(len(rewards))):
        last = deltas[t] + gamma * gae_lambda * np.where(done[t], 0.0, last)
        advantages[t] = last
    return advantages, advantages + values
