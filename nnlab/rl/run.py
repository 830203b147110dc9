"""RL runs: train an agent from a config into a run folder, resume it, evaluate it.

A run folder holds::

    config.toml, config.json   the validated settings (every key, defaults filled in)
    returns.csv                one row per finished episode: env step, return, length
    returns.png, episode_lengths.png   the return curve and the episode lengths
    policy.safetensors         the trained network's weights (none for the random agent)
    policy.json                what rebuilds it: agent, env, hyperparameters, steps
    checkpoint.safetensors     the whole training state (see nnlab.rl.base), for --resume
    digests.json               SHA-256 of every file above but the checkpoint (which
                               carries its own digests), checked on every read

A checkpoint is written every ``checkpoint_interval`` environment steps (at the end of
the iteration that crosses the mark) and when training ends; ``resume_rl_run`` continues
from it and ends with the same weights as a run that was never interrupted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnlab.config import ConfigError
from nnlab.io import CheckpointError, atomic_write_bytes, load_weights, save_weights
from nnlab.rl.agents import AGENTS
from nnlab.rl.base import BaseAgent, evaluate_policy
from nnlab.rl.config import RLConfig, load_rl_config, parse_rl_config
from nnlab.train.checkpoint import load_checkpoint

__all__ = [
    "RLRunError", "RLRunResult", "build_agent", "train_rl", "resume_rl_run", "load_run_agent",
    "evaluate_rl_run",
]  # fmt: skip

CHECKPOINT = "checkpoint.safetensors"
DIGESTS = "digests.json"
_FORMAT = "nnlab-rl-run-1"
_COVERED = (
    "config.toml", "config.json", "returns.csv", "returns.png", "episode_lengths.png",
    "policy.safetensors", "policy.json",
)  # fmt: skip


class RLRunError(CheckpointError):
    """An RL run folder is missing a file, or a file fails its digest."""


@dataclass
class RLRunResult:
    """A finished (or stopped) run: its folder, its agent, and the evaluation of the
    trained policy (``None`` when training was stopped before the end)."""

    run_dir: Path
    agent: BaseAgent
    finished: bool
    seconds: float
    eval_mean: float | None = None
    eval_std: float | None = None
    eval_episodes: int = 0


# -- the agent ---------------------------------------------------------------------------


def build_agent(cfg: RLConfig, source: str = "config") -> BaseAgent:
    """The agent ``cfg`` describes, seeded by ``cfg.seed``; a bad value the agent refuses
    is a :class:`ConfigError` naming it."""
    try:
        return AGENTS[cfg.agent_name()](
            cfg.env_id, seed=cfg.seed, n_envs=cfg.n_envs, **cfg.agent_kwargs()
        )
    except ValueError as exc:
        raise ConfigError(f"invalid {source}:\n  agent: {exc}") from None


# -- files -------------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):  # an inline table: {pi = [], vf = [64, 64]}
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    # JSON's strings, numbers, booleans and lists are TOML's too.
    return json.dumps(value)


def _config_toml(cfg: RLConfig) -> str:
    """The config as TOML, every key written (None, TOML's missing value, is left out)."""
    data = cfg.model_dump()
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if k != "agent"]
    lines.append("\n[agent]")
    lines += [f"{k} = {_toml_value(v)}" for k, v in data["agent"].items() if v is not None]
    return "\n".join(lines) + "\n"


def _write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_digests(run_dir: Path) -> None:
    files = {n: _sha256(run_dir / n) for n in _COVERED if (run_dir / n).is_file()}
    _write_text(run_dir / DIGESTS, json.dumps({"format": _FORMAT, "files": files}, indent=1))


def _read_verified(run_dir: Path, name: str) -> bytes:
    """The bytes of ``run_dir/name``, checked against the run's digests.json."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RLRunError(f"run folder {run_dir} does not exist")
    digests_path, path = run_dir / DIGESTS, run_dir / name
    if not digests_path.is_file():
        raise RLRunError(f"{run_dir} has no {DIGESTS}: it is not a run folder of `nnlab rl`")
    try:
        digests = json.loads(digests_path.read_text(encoding="utf-8"))
        files = digests["files"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise RLRunError(f"{digests_path} is unreadable (corrupted?): {exc}") from None
    if not path.is_file():
        raise RLRunError(f"{path} does not exist; the run folder is incomplete")
    data = path.read_bytes()
    if name not in files:
        raise RLRunError(
            f"{path} is not listed in {digests_path}: the run did not finish (resume it "
            f"with `nnlab rl --resume {run_dir}`)"
        )
    if hashlib.sha256(data).hexdigest() != files[name]:
        raise RLRunError(
            f"{path} fails its SHA-256 check in {DIGESTS}: the file was changed or "
            "corrupted after the run wrote it; restore it or train the run again"
        )
    return data


def _read_json(run_dir: Path, name: str) -> Any:
    try:
        return json.loads(_read_verified(run_dir, name))
    except (ValueError, UnicodeDecodeError) as exc:
        raise RLRunError(f"{Path(run_dir) / name} is not valid JSON: {exc}") from None


def _write_returns_csv(run_dir: Path, agent: BaseAgent) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["timestep", "return", "length"])
    for row in zip(agent.episode_timesteps, agent.episode_returns, agent.episode_lengths):
        writer.writerow([row[0], repr(row[1]), row[2]])
    _write_text(run_dir / "returns.csv", out.getvalue())


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """The mean of the last ``window`` values at each point (fewer at the start)."""
    sums = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    return (sums[idx] - sums[lo]) / (idx - lo)


def _plot(run_dir: Path, name: str, agent: BaseAgent, values: list, ylabel: str, title: str):
    from matplotlib.figure import Figure  # lazy: matplotlib is slow to import

    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
    steps, y = np.array(agent.episode_timesteps), np.array(values, np.float64)
    if len(y):
        ax.plot(steps, y, ".", ms=2, alpha=0.3, label="episode")
        ax.plot(steps, _moving_average(y, 20), lw=1.5, label="mean of the last 20")
        ax.legend(loc="lower right")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    atomic_write_bytes(run_dir / name, lambda tmp: fig.savefig(tmp, format="png", dpi=100))


def _write_records(run_dir: Path, agent: BaseAgent, cfg: RLConfig) -> None:
    _write_returns_csv(run_dir, agent)
    label = f"{cfg.agent_name()} on {cfg.env_id} (seed {cfg.seed})"
    _plot(run_dir, "returns.png", agent, agent.episode_returns, "episode return", label)
    _plot(run_dir, "episode_lengths.png", agent, agent.episode_lengths, "episode length", label)


def _write_policy(run_dir: Path, agent: BaseAgent, cfg: RLConfig) -> None:
    if agent.policy is not None:
        save_weights(agent.policy, run_dir / "policy.safetensors")
    meta = {
        "format": _FORMAT,
        "agent": cfg.agent_name(),
        "env_id": cfg.env_id,
        "seed": cfg.seed,
        "n_envs": cfg.n_envs,
        "hyperparameters": cfg.agent_kwargs(),
        "num_timesteps": agent.num_timesteps,
        "has_weights": agent.policy is not None,
    }
    _write_text(run_dir / "policy.json", json.dumps(meta, indent=1))


# -- training ----------------------------------------------------------------------------


def _new_run_dir(cfg: RLConfig, output_dir: str | Path) -> Path:
    root = Path(output_dir)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"output folder {root} is a file")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir, k = root / f"{cfg.name}-{stamp}", 1
    while run_dir.exists():
        k += 1
        run_dir = root / f"{cfg.name}-{stamp}-{k}"
    try:
        run_dir.mkdir(parents=True)
    except OSError as exc:
        raise ConfigError(
            f"output folder {root}: cannot create {run_dir} ({exc.strerror})"
        ) from None
    return run_dir


def _train(
    run_dir: Path,
    agent: BaseAgent,
    cfg: RLConfig,
    callbacks: Iterable[Callable[[BaseAgent], Any]],
    log: Callable[[str], Any] | None,
) -> RLRunResult:
    """Train ``agent`` up to ``cfg.total_timesteps``, checkpointing, then write the run's
    records and policy and evaluate it."""
    start = time.perf_counter()
    callbacks = list(callbacks)
    interval = cfg.checkpoint_interval
    marks = {"checkpoint": agent.num_timesteps, "log": agent.num_timesteps}
    log_every = max(cfg.total_timesteps // 10, 1)

    def after_iteration(a: BaseAgent) -> bool:
        if interval and a.num_timesteps // interval > marks["checkpoint"] // interval:
            a.save(run_dir / CHECKPOINT)
            marks["checkpoint"] = a.num_timesteps
        if log and a.num_timesteps // log_every > marks["log"] // log_every:
            marks["log"] = a.num_timesteps
            recent = a.episode_returns[-20:]
            mean = f"{np.mean(recent):.1f}" if recent else "-"
            log(
                f"step {a.num_timesteps}/{cfg.total_timesteps}  episodes "
                f"{len(a.episode_returns)}  mean return (last 20) {mean}"
            )
        keep_going = all(cb(a) is not False for cb in callbacks)
        if not keep_going:
            a.save(run_dir / CHECKPOINT)
        return keep_going

    left = cfg.total_timesteps - agent.num_timesteps
    first = agent.num_timesteps == 0
    agent.learn(left, callback=after_iteration, reset_num_timesteps=first)
    agent.save(run_dir / CHECKPOINT)
    finished = agent.num_timesteps >= cfg.total_timesteps
    _write_records(run_dir, agent, cfg)
    result = RLRunResult(run_dir, agent, finished, time.perf_counter() - start)
    if finished:
        _write_policy(run_dir, agent, cfg)
        result.eval_mean, result.eval_std = evaluate_policy(
            agent, cfg.env_id, cfg.eval_episodes, deterministic=True, seed=eval_seed(cfg.seed)
        )
        result.eval_episodes = cfg.eval_episodes
    _write_digests(run_dir)
    return result


def train_rl(
    config: str | Path | RLConfig,
    output_dir: str | Path = "runs",
    seed: int | None = None,
    callbacks: Iterable[Callable[[BaseAgent], Any]] = (),
    log: Callable[[str], Any] | None = None,
    total_timesteps: int | None = None,
) -> RLRunResult:
    """Train the agent ``config`` describes (a TOML path or an :class:`RLConfig`) into a
    new folder under ``output_dir``. ``seed`` and ``total_timesteps`` override the
    config's. ``callbacks(agent)``
    run after every iteration; one returning False stops training (the checkpoint is
    saved; ``resume_rl_run`` continues). ``log`` receives progress lines."""
    cfg = config if isinstance(config, RLConfig) else load_rl_config(config)
    if seed is not None:
        cfg = cfg.model_copy(update={"seed": int(seed)})
    if total_timesteps is not None:
        if total_timesteps < 1:
            raise ValueError(f"total_timesteps must be at least 1, got {total_timesteps}")
        cfg = cfg.model_copy(update={"total_timesteps": int(total_timesteps)})
    agent = build_agent(cfg)
    run_dir = _new_run_dir(cfg, output_dir)
    _write_text(run_dir / "config.toml", _config_toml(cfg))
    _write_text(run_dir / "config.json", cfg.model_dump_json(indent=1))
    _write_digests(run_dir)
    return _train(run_dir, agent, cfg, callbacks, log)


def _run_config(run_dir: Path) -> RLConfig:
    return parse_rl_config(_read_json(run_dir, "config.json"), str(Path(run_dir) / "config.json"))


def resume_rl_run(
    run_dir: str | Path,
    callbacks: Iterable[Callable[[BaseAgent], Any]] = (),
    log: Callable[[str], Any] | None = None,
    total_timesteps: int | None = None,
) -> RLRunResult:
    """Continue a stopped run from its checkpoint to the config's ``total_timesteps``, or
    a finished (or stopped) one further, to ``total_timesteps`` (as SB3's
    ``learn(more, reset_num_timesteps=False)``: schedules then stretch to the new end)."""
    run_dir = Path(run_dir)
    cfg = _run_config(run_dir)
    path = run_dir / CHECKPOINT
    if not path.is_file():
        raise RLRunError(
            f"{path} does not exist: the run stopped before its first checkpoint (set "
            "checkpoint_interval) or is not an `nnlab rl` run; train it again"
        )
    state = load_checkpoint(path)
    done = int(state.get("num_timesteps", 0))
    if total_timesteps is not None and total_timesteps <= done:
        raise RLRunError(
            f"{run_dir} has trained {done} steps: --timesteps must exceed that, got "
            f"{total_timesteps}"
        )
    finished = done >= cfg.total_timesteps and (run_dir / "policy.json").is_file()
    if total_timesteps is None and finished:
        raise RLRunError(
            f"{run_dir} is finished ({done} steps): nothing to resume; give --timesteps N "
            f"(N > {done}) to train it further"
        )
    agent = build_agent(cfg, str(run_dir / "config.json"))
    agent.load_state(state, str(path))
    if total_timesteps is not None:  # only now: a run that cannot resume is left as it was
        cfg = cfg.model_copy(update={"total_timesteps": int(total_timesteps)})
        _write_text(run_dir / "config.toml", _config_toml(cfg))
        _write_text(run_dir / "config.json", cfg.model_dump_json(indent=1))
        _write_digests(run_dir)
    return _train(run_dir, agent, cfg, callbacks, log)


def load_run_agent(run_dir: str | Path) -> BaseAgent:
    """The trained agent of a finished run (``policy.json`` and ``policy.safetensors``,
    both checked against the run's digests), ready to ``predict``."""
    run_dir = Path(run_dir)
    meta = _read_json(run_dir, "policy.json")
    if (
        not isinstance(meta, dict)
        or meta.get("format") != _FORMAT
        or meta.get("agent") not in AGENTS
    ):
        raise RLRunError(f"{run_dir / 'policy.json'} is not an nnlab rl policy description")
    agent = AGENTS[meta["agent"]](
        meta["env_id"], seed=meta["seed"], n_envs=meta["n_envs"], **meta["hyperparameters"]
    )
    if meta["has_weights"]:
        _read_verified(run_dir, "policy.safetensors")
        weights = load_weights(run_dir / "policy.safetensors")
        try:
            agent.policy.load_state_dict(weights)
        except (KeyError, ValueError, RuntimeError) as exc:
            raise RLRunError(f"{run_dir / 'policy.safetensors'} does not fit: {exc}") from None
    return agent


def eval_seed(run_seed: int) -> int:
    """The seed of a run's evaluation environments: apart from its training seed, so that
    the policy is judged on episodes it did not train on, and the same for the evaluation
    at the end of training and for ``nnlab rl evaluate``."""
    return run_seed + 10_000


def evaluate_rl_run(
    run_dir: str | Path, episodes: int = 100, seed: int | None = None, deterministic: bool = True
) -> tuple[float, float, list[float]]:
    """Mean and standard deviation of the return of a run's policy over ``episodes``
    episodes (and the returns), with :func:`nnlab.rl.evaluate_policy`; ``seed`` defaults to
    the run's evaluation seed (:func:`eval_seed`)."""
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    agent = load_run_agent(run_dir)
    env_id = _read_json(run_dir, "policy.json")["env_id"]
    if seed is None:
        seed = eval_seed(_read_json(run_dir, "config.json")["seed"])
    returns, _ = evaluate_policy(
        agent, env_id, episodes, deterministic=deterministic, seed=seed,
        return_episode_rewards=True,
    )  # fmt: skip
    return float(np.mean(returns)), float(np.std(returns)), returns
