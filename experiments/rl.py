"""What reinforcement learning is, and what deep networks do in it, measured on gymnasium.

An agent acts in an environment, receives rewards and learns a policy that maximises the
expected discounted return; nothing tells it the right action. Deep networks enter as the
function approximators: the policy π(a|s), the value V(s) or the action values Q(s, a).
Three experiments on nnlab.rl's agents:

- ``rl-cartpole-agents``: DQN, A2C, PPO and REINFORCE learn CartPole-v1 with the settings of
  ``configs/rl_cartpole_*.toml`` (RL Zoo's tuned values), against the random policy;
- ``rl-linear-policy``: the same PPO with a deep, a fully linear, and a linear-policy /
  deep-critic network, and a fully linear one with PPO's default settings, to see what
  depth adds on CartPole;
- ``rl-harder-tasks``: PPO on Acrobot-v1 and DQN on MountainCar-v0 (RL Zoo's settings), with
  the usual "solved" thresholds.

Every run is seeded by the agent's ``seed`` (networks, environments, exploration); the
100-episode deterministic evaluations use environments seeded apart from training's.
The hyperparameters are written out here rather than read from ``configs/`` so that the
runner's source digest covers everything the results depend on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from experiments.lab.core import Run, experiment
from nnlab.rl import A2C, DQN, PPO, REINFORCE, RandomAgent, evaluate_policy

#: Evaluation environments are seeded with training seed + this, away from the
#: training environments' seeds (seed, seed + 1, ...).
EVAL_SEED_OFFSET = 1_000_000

#: The last-N-episodes window of the learning curves and of "steps to solve".
WINDOW = 20

CARTPOLE_SOLVED = 475.0

#: name -> (agent class, number of environments, settings, CartPole budget in env steps);
#: the values of configs/rl_cartpole_{dqn,a2c,ppo}.toml, and REINFORCE's defaults.
CARTPOLE_AGENTS: dict[str, tuple[type, int, dict[str, Any], int]] = {
    "DQN": (
        DQN, 1,
        dict(learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000,
             gamma=0.99, target_update_interval=10, train_freq=256, gradient_steps=128,
             exploration_fraction=0.16, exploration_final_eps=0.04, net_arch=[256, 256]),
        50_000,
    ),
    "A2C": (
        A2C, 8,
        dict(learning_rate=7e-4, n_steps=5, gamma=0.99, gae_lambda=1.0, ent_coef=0.0,
             vf_coef=0.5, optimizer="rmsprop", net_arch=[64, 64]),
        200_000,
    ),
    "PPO": (
        PPO, 8,
        dict(learning_rate=1e-3, lr_schedule="linear", n_steps=32, batch_size=256,
             n_epochs=20, gamma=0.98, gae_lambda=0.8, clip_range=0.2, ent_coef=0.0,
             net_arch=[64, 64]),
        100_000,
    ),
    "REINFORCE": (REINFORCE, 1, dict(net_arch=[64, 64]), 100_000),
}  # fmt: skip


@dataclass
class Trial:
    """One agent trained with one seed: its episodes during training, the returns of its
    deterministic evaluation episodes, and the wall seconds ``learn`` took."""

    seed: int
    episode_timesteps: np.ndarray
    episode_returns: np.ndarray
    eval_returns: np.ndarray
    seconds: float


def learning_curve(timesteps: np.ndarray, returns: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """At each step of ``grid``, the mean return of the last ``WINDOW`` episodes finished
    by then (NaN before the first episode ends)."""
    done = np.searchsorted(timesteps, grid, side="right")
    cumulative = np.concatenate([[0.0], np.cumsum(returns)])
    first = np.maximum(done - WINDOW, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = (cumulative[done] - cumulative[first]) / (done - first)
    return np.where(done > 0, curve, np.nan)


def steps_to_reach(timesteps: np.ndarray, returns: np.ndarray, level: float) -> int | None:
    """The environment step at which the mean of the last ``WINDOW`` episodes first
    reaches ``level`` (None if it never does)."""
    if len(returns) < WINDOW:
        return None
    means = np.convolve(returns, np.ones(WINDOW) / WINDOW, mode="valid")
    hits = np.flatnonzero(means >= level)
    return int(timesteps[hits[0] + WINDOW - 1]) if hits.size else None


def train_and_evaluate(
    agent_class: type, env_id: str, n_envs: int, settings: dict[str, Any], seed: int,
    total_timesteps: int, eval_episodes: int,
) -> Trial:  # fmt: skip
    """Train one agent for ``total_timesteps`` and evaluate it deterministically."""
    agent = agent_class(env_id, seed=seed, n_envs=n_envs, **settings)
    start = time.perf_counter()
    agent.learn(total_timesteps)
    seconds = time.perf_counter() - start
    returns, _ = evaluate_policy(
        agent, env_id, n_eval_episodes=eval_episodes, seed=seed + EVAL_SEED_OFFSET,
        return_episode_rewards=True,
    )  # fmt: skip
    return Trial(
        seed, np.asarray(agent.episode_timesteps), np.asarray(agent.episode_returns),
        np.asarray(returns), seconds,
    )  # fmt: skip


def random_policy_returns(env_id: str, seed: int, episodes: int) -> np.ndarray:
    """The returns of ``episodes`` episodes of uniformly random actions."""
    agent = RandomAgent(env_id, seed=seed)
    returns, _ = evaluate_policy(
        agent, env_id, n_eval_episodes=episodes, deterministic=False,
        seed=seed + EVAL_SEED_OFFSET, return_episode_rewards=True,
    )  # fmt: skip
    return np.asarray(returns)


def plot_curves(
    ax: Any, trials: dict[str, list[Trial]], budgets: dict[str, int], random_level: float
) -> None:
    """Each arm's learning curve, mean over seeds with the min-max band, against
    environment steps; the random policy's mean return as a dotted line."""
    for i, (name, arm) in enumerate(trials.items()):
        grid = np.linspace(0, budgets[name], 200)
        curves = np.array([learning_curve(t.episode_timesteps, t.episode_returns, grid)
                           for t in arm])  # fmt: skip
        valid = ~np.isnan(curves).any(axis=0)  # every seed has finished an episode
        color = f"C{i}"
        ax.plot(grid[valid], curves[:, valid].mean(0), color=color,
                label=f"{name} ({len(arm)} seeds)")  # fmt: skip
        ax.fill_between(grid[valid], curves[:, valid].min(0), curves[:, valid].max(0),
                        color=color, alpha=0.2, linewidth=0)  # fmt: skip
    ax.axhline(random_level, color="grey", linestyle=":", label="random policy")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"return (mean of last {WINDOW} episodes)")


def eval_rows(name: str, arm: list[Trial], level: float) -> list[tuple]:
    """Table rows per seed: steps to reach ``level``, evaluation mean and std, seconds."""
    rows = []
    for t in arm:
        reached = steps_to_reach(t.episode_timesteps, t.episode_returns, level)
        rows.append((
            name, t.seed, "not reached" if reached is None else reached,
            round(float(t.eval_returns.mean()), 1), round(float(t.eval_returns.std()), 1),
            round(t.seconds, 1),
        ))  # fmt: skip
    return rows


def eval_means(arm: list[Trial]) -> np.ndarray:
    return np.array([t.eval_returns.mean() for t in arm])


@experiment(
    "rl-cartpole-agents",
    answers=["reinforcement-learning"],
    quick=dict(budget_scale=0.02, n_seeds=2, eval_episodes=10),
    full=dict(budget_scale=1.0, n_seeds=3, eval_episodes=100),
)
def cartpole_agents(run: Run, budget_scale: float, n_seeds: int, eval_episodes: int) -> None:
    """Do DQN, A2C, PPO and REINFORCE learn to balance CartPole-v1, and how fast?"""
    budgets = {name: int(budget_scale * spec[3]) for name, spec in CARTPOLE_AGENTS.items()}
    trials: dict[str, list[Trial]] = {name: [] for name in CARTPOLE_AGENTS}
    for seed in run.seeds(n_seeds):
        for name, (cls, n_envs, settings, _) in CARTPOLE_AGENTS.items():
            trials[name].append(train_and_evaluate(
                cls, "CartPole-v1", n_envs, settings, seed, budgets[name], eval_episodes
            ))  # fmt: skip
    random_returns = random_policy_returns("CartPole-v1", run.seed, eval_episodes)
    random_mean = run.number("random_eval_mean", round(float(random_returns.mean()), 1))

    rows = [row for name, arm in trials.items() for row in eval_rows(name, arm, CARTPOLE_SOLVED)]
    rows.append(("random", run.seed, "not reached", random_mean,
                 round(float(random_returns.std()), 1), 0.0))  # fmt: skip
    run.table(
        f"CartPole-v1: steps to a last-{WINDOW} mean of {CARTPOLE_SOLVED:g}, and "
        f"{eval_episodes}-episode deterministic evaluation per seed",
        ("agent", "seed", "steps to 475", "eval mean", "eval std", "learn seconds"), rows,
    )  # fmt: skip
    means = {name: eval_means(arm) for name, arm in trials.items()}
    for name, m in means.items():
        run.number(f"{name.lower()}_eval_mean", round(float(m.mean()), 1))
        run.number(f"{name.lower()}_eval_min_seed", round(float(m.min()), 1))
        seconds = np.mean([t.seconds for t in trials[name]])
        run.number(f"{name.lower()}_seconds", round(float(seconds), 1))

    fig = run.figure(
        "returns", "CartPole-v1 training return against environment steps (mean over seeds, "
        "min-max band) for every agent, and the random policy", width=7.5, height=4.5,
    )  # fmt: skip
    ax = fig.subplots()
    plot_curves(ax, trials, budgets, random_mean)
    ax.axhline(CARTPOLE_SOLVED, color="black", linewidth=0.8, linestyle="--", label="solved")
    ax.legend(loc="upper left", fontsize=8)

    deep = ("DQN", "A2C", "PPO")
    worst = {name: float(means[name].min()) for name in deep}
    run.claim(
        f"Each of DQN, A2C and PPO solves CartPole-v1 (deterministic evaluation mean >= "
        f"{CARTPOLE_SOLVED:g}) in every seed",
        all(w >= CARTPOLE_SOLVED for w in worst.values()),
        ", ".join(f"worst seed {n} {w:.1f}" for n, w in worst.items()),
        quick=False,
    )
    median_steps = {}
    for name in ("REINFORCE", "PPO"):
        reached = [steps_to_reach(t.episode_timesteps, t.episode_returns, CARTPOLE_SOLVED)
                   for t in trials[name]]  # fmt: skip
        median_steps[name] = float(np.median([np.inf if r is None else r for r in reached]))
    run.claim(
        "REINFORCE, learning from whole Monte-Carlo episodes, needs more environment steps "
        f"than PPO to reach a last-{WINDOW} mean of {CARTPOLE_SOLVED:g} (median over seeds)",
        median_steps["REINFORCE"] > median_steps["PPO"],
        f"median steps: REINFORCE {median_steps['REINFORCE']:.0f}, PPO "
        f"{median_steps['PPO']:.0f} (inf: not reached)",
        quick=False,
    )
    best_mean = max(float(m.mean()) for m in means.values())
    run.claim(
        "The best agent's mean evaluation return is at least twice the random policy's",
        best_mean >= 2 * random_mean,
        f"best agent {best_mean:.1f}, random {random_mean:.1f}",
    )
    summary = "; ".join(
        f"{name} {means[name].mean():.1f} (worst seed {means[name].min():.1f}, "
        f"{np.mean([t.seconds for t in trials[name]]):.0f} s to learn)"
        for name in trials
    )
    run.answer(
        "Reinforcement learning learns a policy from rewards alone: the agent acts, the "
        "environment answers with a reward and the next state, and the policy is improved "
        "to earn more return. Deep networks are the function approximators: a Q-network "
        "(DQN) or a policy and value network (A2C, PPO, REINFORCE). On CartPole-v1 the "
        f"random policy's mean return was {random_mean:.1f}; after training, the "
        f"{eval_episodes}-episode deterministic evaluation means over {n_seeds} seeds were: "
        f"{summary}. Median steps to a last-{WINDOW} training mean of {CARTPOLE_SOLVED:g}: "
        f"PPO {median_steps['PPO']:.0f}, REINFORCE {median_steps['REINFORCE']:.0f} "
        "(inf: not reached)."
    )


#: The arms of the linear-policy comparison: (environments, PPO settings, net_arch as
#: Stable-Baselines3's; [] is a linear function of the observation). The first three share
#: RL Zoo's tuned settings; the last is a fully linear actor-critic with PPO's defaults
#: (Stable-Baselines3's: one environment, 2048-step rollouts, 10 epochs, lr 3e-4).
LINEAR_ARMS: dict[str, tuple[int, dict[str, Any], Any]] = {
    "deep actor-critic": (8, CARTPOLE_AGENTS["PPO"][2], [64, 64]),
    "linear actor-critic": (8, CARTPOLE_AGENTS["PPO"][2], []),
    "linear policy, deep critic": (8, CARTPOLE_AGENTS["PPO"][2], {"pi": [], "vf": [64, 64]}),
    "linear actor-critic, PPO defaults": (1, {}, []),
}
ARM_KEYS = dict(zip(LINEAR_ARMS, ("deep", "linear", "linear_pi_deep_vf", "linear_defaults")))


def critic_sentence(linear: float, mixed: float) -> str:
    """What the two linear-policy arms' measured means say about the critic's depth."""
    if mixed - linear >= 100:
        return (
            "The two linear policies differ only in the critic, so on this task the depth "
            "that mattered was the value network's: the actor's updates are weighted by "
            "advantages bootstrapped from V(s)."
        )
    return (
        "A deep critic did not lift the linear policy by 100 or more over the fully linear "
        f"one ({mixed:.1f} against {linear:.1f})."
    )


@experiment(
    "rl-linear-policy",
    answers=["reinforcement-learning"],
    quick=dict(budget_scale=0.04, n_seeds=2, eval_episodes=10),
    full=dict(budget_scale=1.0, n_seeds=3, eval_episodes=100),
)
def linear_policy(run: Run, budget_scale: float, n_seeds: int, eval_episodes: int) -> None:
    """What does a deep network add over a linear policy on CartPole-v1?"""
    total = int(budget_scale * CARTPOLE_AGENTS["PPO"][3])
    trials: dict[str, list[Trial]] = {name: [] for name in LINEAR_ARMS}
    for seed in run.seeds(n_seeds):
        for name, (n_envs, settings, net_arch) in LINEAR_ARMS.items():
            arm_settings = {**settings, "net_arch": net_arch}
            trials[name].append(train_and_evaluate(
                PPO, "CartPole-v1", n_envs, arm_settings, seed, total, eval_episodes
            ))  # fmt: skip
    random_returns = random_policy_returns("CartPole-v1", run.seed, eval_episodes)
    random_mean = run.number("random_eval_mean", round(float(random_returns.mean()), 1))
    means = {name: eval_means(arm) for name, arm in trials.items()}
    for name, m in means.items():
        run.number(f"{ARM_KEYS[name]}_eval_mean", round(float(m.mean()), 1))
        run.number(f"{ARM_KEYS[name]}_eval_min_seed", round(float(m.min()), 1))
    rows = [row for name, arm in trials.items() for row in eval_rows(name, arm, CARTPOLE_SOLVED)]
    rows.append(("random", run.seed, "not reached", random_mean,
                 round(float(random_returns.std()), 1), 0.0))  # fmt: skip
    run.table(
        f"PPO on CartPole-v1 ({total} steps) with deep and linear networks: "
        f"{eval_episodes}-episode deterministic evaluation per seed",
        ("network", "seed", "steps to 475", "eval mean", "eval std", "learn seconds"), rows,
    )  # fmt: skip

    fig = run.figure(
        "returns", "PPO on CartPole-v1: deep, fully linear and linear-policy/deep-critic "
        "networks with RL Zoo's settings, a fully linear one with PPO's defaults (mean over "
        "seeds, min-max band), and the random policy", width=7.5, height=4.5,
    )  # fmt: skip
    ax = fig.subplots()
    plot_curves(ax, trials, dict.fromkeys(trials, total), random_mean)
    ax.legend(loc="upper left", fontsize=8)

    deep, linear = means["deep actor-critic"], means["linear actor-critic"]
    mixed = means["linear policy, deep critic"]
    defaults = means["linear actor-critic, PPO defaults"]
    run.claim(
        "The deep actor-critic's mean evaluation return beats the fully linear "
        "actor-critic's by at least 100",
        deep.mean() - linear.mean() >= 100,
        f"deep {deep.mean():.1f}, linear {linear.mean():.1f}",
        quick=False,
    )
    run.claim(
        "A linear policy with a deep critic solves CartPole-v1 (evaluation mean >= "
        f"{CARTPOLE_SOLVED:g}) in every seed: the policy itself needs no depth",
        mixed.min() >= CARTPOLE_SOLVED,
        f"worst seed {mixed.min():.1f}",
        quick=False,
    )
    run.claim(
        "The deep actor-critic's mean evaluation return is at least twice the random policy's",
        deep.mean() >= 2 * random_mean,
        f"deep {deep.mean():.1f}, random {random_mean:.1f}",
    )
    run.answer(
        f"PPO with RL Zoo's CartPole settings and {total} environment steps, over {n_seeds} "
        f"seeds ({eval_episodes}-episode deterministic evaluations): the deep actor-critic "
        f"(64-64 tanh networks) scored {deep.mean():.1f} (worst seed {deep.min():.1f}), the "
        f"fully linear actor-critic {linear.mean():.1f} (worst {linear.min():.1f}), a "
        f"linear policy with the deep critic {mixed.mean():.1f} (worst {mixed.min():.1f}), "
        f"and the random policy {random_mean:.1f}. "
        + critic_sentence(float(linear.mean()), float(mixed.mean()))
        + f" With PPO's default settings instead, the fully linear actor-critic scored "
        f"{defaults.mean():.1f} (worst seed {defaults.min():.1f})"
        + (
            ": a linear policy can balance the pole, so how it fails depends on the "
            "training settings, not only on the network."
            if defaults.min() >= CARTPOLE_SOLVED
            else "."
        )
    )


ACROBOT_SOLVED = -100.0
MOUNTAINCAR_SOLVED = -110.0

#: RL Zoo's settings for the two harder tasks (without its observation normalisation),
#: as (agent class, number of environments, settings, budget in env steps).
HARDER_TASKS: dict[str, tuple[str, type, int, dict[str, Any], int, float]] = {
    "Acrobot-v1": (
        "PPO", PPO, 16,
        dict(n_steps=256, gae_lambda=0.94, gamma=0.99, n_epochs=4, ent_coef=0.0),
        200_000, ACROBOT_SOLVED,
    ),
    "MountainCar-v0": (
        "DQN", DQN, 1,
        dict(learning_rate=4e-3, batch_size=128, buffer_size=10_000, learning_starts=1000,
             gamma=0.98, target_update_interval=600, train_freq=16, gradient_steps=8,
             exploration_fraction=0.2, exploration_final_eps=0.07, net_arch=[256, 256]),
        120_000, MOUNTAINCAR_SOLVED,
    ),
}  # fmt: skip


def task_sentence(
    env_id: str, agent_name: str, means: np.ndarray, random_mean: float, solved: float
) -> str:
    """One task's measured outcome in words: evaluation means over seeds against the
    solved level and the random policy."""
    n_solved = int((means >= solved).sum())
    return (
        f"On {env_id}, {agent_name} scored {means.mean():.1f} in mean evaluation return over "
        f"{len(means)} seeds (seeds from {means.min():.1f} to {means.max():.1f}) against "
        f"{random_mean:.1f} for the random policy; {n_solved} of {len(means)} seeds reached "
        f"the solved level {solved:g}."
    )


@experiment(
    "rl-harder-tasks",
    answers=["reinforcement-learning"],
    quick=dict(budget_scale=0.01, acrobot_seeds=1, mountaincar_seeds=1, eval_episodes=10),
    full=dict(budget_scale=1.0, acrobot_seeds=3, mountaincar_seeds=2, eval_episodes=100),
)
def harder_tasks(
    run: Run, budget_scale: float, acrobot_seeds: int, mountaincar_seeds: int,
    eval_episodes: int,
) -> None:  # fmt: skip
    """Do the same agents solve Acrobot-v1 and MountainCar-v0, where the reward is sparse?"""
    n_seeds = {"Acrobot-v1": acrobot_seeds, "MountainCar-v0": mountaincar_seeds}
    fig = run.figure(
        "returns", "Training return against environment steps (mean over seeds, min-max "
        "band) on the harder tasks, the random policy and the solved threshold",
        width=9.0, height=3.8,
    )  # fmt: skip
    axes = fig.subplots(1, 2)
    rows, outcome = [], {}
    for ax, (env_id, spec) in zip(axes, HARDER_TASKS.items()):
        agent_name, cls, n_envs, settings, budget, solved = spec
        total = int(budget_scale * budget)
        arm = [train_and_evaluate(cls, env_id, n_envs, settings, seed, total, eval_episodes)
               for seed in run.seeds(n_seeds[env_id])]  # fmt: skip
        random_returns = random_policy_returns(env_id, run.seed, eval_episodes)
        key = env_id.split("-")[0].lower()
        random_mean = run.number(f"{key}_random_eval_mean", round(float(random_returns.mean()), 1))
        means = eval_means(arm)
        run.number(f"{key}_{agent_name.lower()}_eval_mean", round(float(means.mean()), 1))
        run.number(f"{key}_{agent_name.lower()}_eval_min_seed", round(float(means.min()), 1))
        outcome[env_id] = (agent_name, means, random_mean, solved)
        rows += [(env_id, *row) for row in eval_rows(agent_name, arm, solved)]
        rows.append((env_id, "random", run.seed, "not reached", random_mean,
                     round(float(random_returns.std()), 1), 0.0))  # fmt: skip
        plot_curves(ax, {agent_name: arm}, {agent_name: total}, random_mean)
        ax.axhline(solved, color="black", linewidth=0.8, linestyle="--", label="solved")
        ax.set_title(env_id)
        ax.legend(loc="lower right", fontsize=8)
    run.table(
        f"Harder tasks: steps to the solved level (last-{WINDOW} training mean) and "
        f"{eval_episodes}-episode deterministic evaluation per seed",
        ("env", "agent", "seed", "steps to solved", "eval mean", "eval std", "learn seconds"),
        rows,
    )  # fmt: skip

    _, acrobot, acrobot_random, _ = outcome["Acrobot-v1"]
    _, mountaincar, mountaincar_random, _ = outcome["MountainCar-v0"]
    run.claim(
        "PPO's mean evaluation return on Acrobot-v1 beats the random policy's by at least 200",
        acrobot.mean() - acrobot_random >= 200,
        f"PPO {acrobot.mean():.1f}, random {acrobot_random:.1f}",
        quick=False,
    )
    run.claim(
        f"PPO solves Acrobot-v1 (evaluation mean >= {ACROBOT_SOLVED:g}) in every seed",
        acrobot.min() >= ACROBOT_SOLVED,
        f"worst seed {acrobot.min():.1f}",
        quick=False,
    )
    run.claim(
        "DQN's mean evaluation return on MountainCar-v0 beats the random policy's by >= 50",
        mountaincar.mean() - mountaincar_random >= 50,
        f"DQN {mountaincar.mean():.1f}, random {mountaincar_random:.1f}",
        quick=False,
    )
    run.claim(
        f"DQN solves MountainCar-v0 (evaluation mean >= {MOUNTAINCAR_SOLVED:g}) in every seed",
        mountaincar.min() >= MOUNTAINCAR_SOLVED,
        f"worst seed {mountaincar.min():.1f}",
        quick=False,
    )
    run.answer(" ".join(task_sentence(env_id, *result) for env_id, result in outcome.items()))
