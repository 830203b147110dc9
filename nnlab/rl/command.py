"""``nnlab rl``: train an agent from a config, resume it, evaluate it.

    nnlab rl configs/rl_cartpole_ppo.toml            # = nnlab rl train CONFIG
    nnlab rl --resume runs/cartpole-ppo-20261207-120000
    nnlab rl evaluate runs/cartpole-ppo-20261207-120000 --episodes 100

``rl`` is a command group whose default command is ``train``: a first argument that is
not a command name (``train``, ``evaluate``) is a config file for ``train``. (A Click
group cannot also take an optional positional argument, since it would swallow the
subcommand's name; so the group rewrites ``rl CONFIG`` as ``rl train CONFIG``.)

Problems a user can fix (a bad config, a missing or edited run file) are one ``error:``
paragraph with exit code 2, no traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from typer.core import TyperGroup

from nnlab.cli_common import fail as _fail
from nnlab.cli_common import one_process

__all__ = ["app"]

# The bodies import nnlab.rl.run ("lazy: fast --help"): it loads gymnasium and every agent.

console = Console()


class _TrainByDefault(TyperGroup):
    """A group that runs ``train`` when its first argument is not a command name."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["train", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_TrainByDefault,
    help="Reinforcement learning: train an agent on a gymnasium environment "
    "(`nnlab rl CONFIG`), resume it (`nnlab rl --resume RUN`), evaluate it "
    "(`nnlab rl evaluate RUN`).",
    no_args_is_help=True,
)


def _user_errors() -> tuple[type[Exception], ...]:
    from nnlab.config import ConfigError  # lazy: fast --help
    from nnlab.io import CheckpointError  # lazy: fast --help

    return (ConfigError, CheckpointError, FileNotFoundError, ValueError)


@app.command()
def train(
    config: Annotated[Path | None, typer.Argument(help="TOML RL run configuration")] = None,
    resume: Annotated[Path | None, typer.Option(help="continue this run folder")] = None,
    output_dir: Annotated[str, typer.Option(help="where run folders go")] = "runs",
    seed: Annotated[int | None, typer.Option(help="override the config's seed")] = None,
    timesteps: Annotated[
        int | None,
        typer.Option(
            help="environment steps to train in all (overrides total_timesteps; with "
            "--resume, more than the run has trained, to train it further)"
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="no progress output")] = False,
) -> None:
    """Train the agent described by CONFIG into a new run folder (or --resume one from its
    last checkpoint: it ends with the weights an uninterrupted run would have)."""
    from nnlab.rl.run import resume_rl_run, train_rl  # lazy: fast --help

    one_process("rl")
    if (config is None) == (resume is None):
        _fail("give either a CONFIG file or --resume RUN_DIR")
    if resume is not None and seed is not None:
        _fail("--seed applies to a new run, not to --resume (a run keeps its seed)")
    log: Any = None if quiet else (lambda line: console.print(line, highlight=False))
    try:
        if resume is not None:
            result = resume_rl_run(resume, log=log, total_timesteps=timesteps)
        else:
            result = train_rl(
                config, output_dir=output_dir, seed=seed, log=log, total_timesteps=timesteps
            )
    except _user_errors() as exc:
        _fail(str(exc))
    agent = result.agent
    console.print(
        f"trained {agent.num_timesteps} environment steps, {len(agent.episode_returns)} "
        f"episodes in {result.seconds:.1f} s",
        highlight=False,
    )
    if result.eval_mean is not None:
        console.print(
            f"evaluation: mean return {result.eval_mean:.1f} ± {result.eval_std:.1f} over "
            f"{result.eval_episodes} episodes (nnlab rl evaluate RUN gives the same)",
            highlight=False,
        )
    console.print(f"run folder: [bold]{result.run_dir}[/]", highlight=False)


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="a run folder from `nnlab rl`")],
    episodes: Annotated[int, typer.Option(help="evaluation episodes (≥ 1)")] = 100,
    seed: Annotated[
        int | None,
        typer.Option(help="seed of the evaluation environments (default: the run's own)"),
    ] = None,
    stochastic: Annotated[
        bool, typer.Option(help="sample actions instead of taking the most likely one")
    ] = False,
) -> None:
    """Evaluate a trained run's policy (its files checked against the run's digests) and
    print the mean ± standard deviation of the episode return."""
    from nnlab.rl.run import evaluate_rl_run  # lazy: fast --help

    one_process("rl evaluate")
    if episodes < 1:
        _fail(f"--episodes must be at least 1, got {episodes}")
    try:
        mean, std, returns = evaluate_rl_run(
            run_dir, episodes=episodes, seed=seed, deterministic=not stochastic
        )
    except _user_errors() as exc:
        _fail(str(exc))
    console.print(
        f"mean return over {len(returns)} episodes: {mean:.2f} ± {std:.2f} "
        f"(min {min(returns):.1f}, max {max(returns):.1f})",
        highlight=False,
    )
