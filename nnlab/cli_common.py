"""What the ``nnlab`` commands share: a problem the user can fix is one ``error:``
paragraph on stderr and an exit code, and a command that runs in one process refuses to
be started by ``mpirun`` (only ``nnlab train`` and ``nnlab tune`` use several ranks)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.text import Text

from nnlab.distributed import launch_rank, launch_world_size

__all__ = ["fail", "one_process", "say_error"]

_stderr = Console(stderr=True)


def say_error(message: str) -> None:
    """Print ``error: message`` on stderr. Under ``mpirun`` every rank meets the same
    problem (the same config, the same files), so rank 0 alone says it."""
    if launch_rank() == 0:
        # Text, not markup: messages hold brackets ("inputs[0, 2]", "hidden_sizes [8]").
        _stderr.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` (:func:`say_error`) and exit with ``code``."""
    say_error(message)
    raise typer.Exit(code)


def one_process(command: str) -> None:
    """Refuse ``mpirun -n K`` (K > 1) for a command that would only repeat its work K times."""
    k = launch_world_size()
    if k > 1:
        fail(
            f"nnlab {command} runs in one process: start it without mpirun (it was started "
            f"as one of {k}); only nnlab train and nnlab tune train on several ranks"
        )
